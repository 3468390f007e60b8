"""``flask --app server ...`` as a newcomer types it: every mistake is one
clear line and a non-zero exit, never a traceback; nothing is half-written."""
from __future__ import annotations

import re
import traceback

import pytest
from sqlalchemy import func, select

from server import create_app
from server.auth.models import User
from server.auth.services import authenticate
from server.extensions import db
from tests.conftest import config_for_tests

GOOD_PASSWORD = "a-long-enough-password"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _refused(result) -> str:
    """The one line a refused command printed; fails on a traceback or a zero exit."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("a traceback instead of one line:\n"
                    + "".join(traceback.format_exception(*result.exc_info)))
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _users() -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(User.username)))


def _secretary(*extra: str) -> list[str]:
    return ["create-user", "sec1", "--name", "书记", "--role", "branch_secretary",
            "--scope", "BA-ZB1", *extra]


def test_create_user_reads_the_password_from_stdin_for_scripts(runner, world):
    result = runner.invoke(args=_secretary("--password-stdin"), input=GOOD_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert result.output == "Created sec1.\n"
    db.session.rollback()
    assert authenticate("sec1", GOOD_PASSWORD).grants[0].organisation.code == "BA-ZB1"


def test_create_user_asks_twice_and_again_after_a_short_or_mistyped_password(runner, world,
                                                                             monkeypatch):
    # The runner's input is no terminal; here it stands for one.
    monkeypatch.setattr("server.auth.cli.stdin_is_terminal", lambda: True)
    answers = ["short", GOOD_PASSWORD, "a-different-password", GOOD_PASSWORD, GOOD_PASSWORD]
    result = runner.invoke(args=_secretary(), input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Error: password: Length must be between 10 and 200." in result.output
    assert "Error: The two entered values do not match." in result.output
    assert result.output.count("Repeat the password") == 2
    assert GOOD_PASSWORD not in result.output
    db.session.rollback()
    assert authenticate("sec1", GOOD_PASSWORD).username == "sec1"


def test_create_user_without_a_terminal_asks_for_password_stdin(runner, world):
    line = _refused(runner.invoke(args=_secretary(), input=GOOD_PASSWORD + "\n"))
    assert "--password-stdin" in line
    assert "sec1" not in _users()


@pytest.mark.parametrize("password", ["12345", ""], ids=["five characters", "empty"])
def test_an_administrator_with_a_short_password_is_refused(runner, world, password):
    result = runner.invoke(args=["create-user", "boss", "--name", "Boss", "--role", "admin",
                                 "--password-stdin"], input=password + "\n")
    assert "password" in _refused(result)
    assert "boss" not in _users()


@pytest.mark.parametrize("args, says", [
    (["create-user", "root", "--name", "x", "--role", "admin"], "exists already"),
    (_secretary()[:-1] + ["NOPE"], "No organisation with code 'NOPE'"),
    (_secretary()[:-2], "--scope: role branch_secretary needs the code of its organisation"),
    (["create-user", "boss", "--name", "x", "--role", "admin", "--scope", "SZ"],
     "takes no scope"),
    (["create-user", "bad name!", "--name", "x", "--role", "admin"], "username"),
], ids=["duplicate name", "unknown scope", "missing scope", "admin with scope", "bad name"])
def test_create_user_mistakes_are_one_line_before_any_password_is_asked(runner, world, args,
                                                                        says):
    before = _users()
    line = _refused(runner.invoke(args=[*args, "--password-stdin"], input=GOOD_PASSWORD + "\n"))
    assert says in line
    # Refused before the password was read: the same call asks for none.
    assert "Password" not in runner.invoke(args=args).output
    assert _users() == before


def test_seed_demo_on_a_database_with_data_is_one_line(runner, world):
    line = _refused(runner.invoke(args=["seed-demo", "--days", "1"]))
    assert "not empty" in line
    assert _users() == {"root"}


def test_commands_on_a_database_not_migrated_say_to_migrate_first(tmp_path):
    app = create_app(config_for_tests(f"sqlite:///{tmp_path / 'empty.db'}"))
    runner = app.test_cli_runner()
    for args in (["seed-demo"], ["station-url", "ST-BA-1"],
                 ["create-user", "root", "--name", "x", "--role", "admin", "--password-stdin"]):
        assert "db upgrade" in _refused(runner.invoke(args=args, input=GOOD_PASSWORD + "\n"))


def test_station_url_is_the_signed_address_that_opens_green(runner, world, client):
    result = runner.invoke(args=["station-url", "ST-BA-1"])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert re.fullmatch(r"https://stations\.example\.test/q/ST-BA-1\?v=1&k=\w+&s=[\w-]+", url)
    signed = client.get(url.removeprefix("https://stations.example.test"))
    assert signed.status_code == 200 and 'class="status ok"' in signed.text
    # What the README used to show: the bare address, without its signature.
    assert 'class="status bad"' in client.get("/q/ST-BA-1").text
    assert "No station" in _refused(runner.invoke(args=["station-url", "NOPE"]))


def test_import_as_an_unknown_user_is_one_line(runner, world, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("code,name,kind\nP-1,x,volunteer\n")
    line = _refused(runner.invoke(args=["import", "people", str(roster), "--as-user", "nobody"]))
    assert "No user with code 'nobody'" in line
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
