"""Languages: Chinese (zh_CN) by default, English on request.

Message ids are English; ``server/translations/zh`` holds the Chinese.
The catalogue is compiled into the instance folder when the app starts, so
no binary file is kept in the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request

SUPPORTED = ("zh_CN", "en")
DEFAULT = "zh_CN"
SOURCE = Path(__file__).parent / "translations"


def select_locale() -> str:
    """``?lang=`` first, then the ``lang`` cookie, then the browser's preference."""
    wanted = request.args.get("lang") or request.cookies.get("lang")
    if wanted in SUPPORTED:
        return wanted
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else DEFAULT


def compile_catalogues(app: Flask) -> str:
    """Compile every ``.po`` under SOURCE into the instance folder; return that folder."""
    target = Path(app.instance_path) / "translations"
    for po_path in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalogue = read_po(source, locale=po_path.parent.parent.name)
        # A name of its own per process: several workers may start at once.
        temporary = mo_path.with_suffix(f".tmp-{os.getpid()}")
        with temporary.open("wb") as out:
            write_mo(out, catalogue)
        temporary.replace(mo_path)
    return str(target)
