"""Installing the project (``pip install -e .`` and ``pip install .``): no
setuptools warnings, and every file the server reads besides its Python
(templates, static files, translations) inside the wheel."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIRS = ("server/templates", "server/static", "server/translations")
#: What pip calls (PEP 517, PEP 660), in-process as pip's hook runner does.
BUILD = """import sys
from setuptools import build_meta
build_meta.build_wheel(sys.argv[1])
build_meta.build_editable(sys.argv[2])
"""

pytestmark = pytest.mark.slow


def _copy_of_the_project(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, target / name)
    for name in ("server", "sync"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    return target


def test_building_says_nothing_and_the_wheel_holds_every_data_file(tmp_path):
    source = _copy_of_the_project(tmp_path)
    (tmp_path / "wheel").mkdir()
    (tmp_path / "editable").mkdir()
    built = subprocess.run([sys.executable, "-W", "always", "-c", BUILD, "wheel", "editable"],
                           cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    # Python warnings (what pip shows of a build); distutils' own log lines
    # ("warning: byte-compiling is disabled") it keeps to itself.
    said = (built.stdout + built.stderr).splitlines()
    assert [line for line in said if re.search(r"\w+Warning: ", line)] == []
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    data = {path.relative_to(ROOT).as_posix() for folder in DATA_DIRS
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}
    assert "server/translations/zh/LC_MESSAGES/messages.po" in data
    assert data - packed == set()
