"""``flask --app server create-user``: the first administrator, and others.

The password is asked for twice on a terminal, or read from the first line
of standard input with ``--password-stdin`` (for scripts); never taken as an
argument, which would land in the shell's history and in ``ps``.
"""
from __future__ import annotations

import sys

import click
import marshmallow as ma
from flask.cli import with_appcontext

from server.auth.models import ROLE_SCOPES, User
from server.auth.schemas import UserSchema
from server.auth.services import create_user
from server.common.cli import clear_errors, require_schema
from server.common.lookup import ensure_code_free, reference
from server.extensions import db
from server.org.models import Area, Organisation
from server.stations.models import Station

SCOPE_MODELS = {"area": Area, "organisation": Organisation, "station": Station}


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", type=click.Choice(list(ROLE_SCOPES)), required=True)
@click.option("--scope", default=None,
              help="Code of the area, organisation or station the role covers "
                   "(every role but admin needs one).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input "
                   "instead of asking twice on the terminal.")
@with_appcontext
def create_user_command(username, display_name, role, scope, password_stdin):
    """Create a user; the password (10+ characters) is asked for twice, or read
    from standard input with --password-stdin, never given as an argument."""
    require_schema()
    data = {"username": username, "display_name": display_name,
            "grants": [_grant(role, scope)]}
    _check(data, partial=("password",))
    with clear_errors():
        # Everything but the password is checked before the password is asked for.
        ensure_code_free(User, username, "user", field="username")
        needed = ROLE_SCOPES[role]
        if needed:
            reference(SCOPE_MODELS[needed], scope, "scope", needed)
    if not password_stdin and not stdin_is_terminal():
        raise click.ClickException("No terminal to ask for the password on: "
                                   "give it on standard input with --password-stdin.")
    data["password"] = _read_password() if password_stdin else _ask_password()
    _check(data)
    with clear_errors():
        create_user("system", data)
        db.session.commit()
    click.echo(f"Created {username}.")


def stdin_is_terminal() -> bool:
    """Whether someone can be asked (a script's pipe or /dev/null cannot)."""
    return sys.stdin.isatty()


def _grant(role: str, scope: str | None) -> dict:
    needed = ROLE_SCOPES[role]
    if needed is None:
        if scope:
            raise click.ClickException(f"--scope: role {role} covers everything; "
                                       "it takes no scope.")
        return {"role": role}
    if not scope:
        raise click.ClickException(f"--scope: role {role} needs the code of its {needed}.")
    return {"role": role, needed: scope}


def _check(data: dict, partial=()) -> None:
    """:raise click.ClickException: what the API would refuse, field by field."""
    try:
        UserSchema().load(data, partial=partial)
    except ma.ValidationError as error:
        raise click.ClickException(_reasons(error.messages)) from None


def _reasons(messages, field: str = "") -> str:
    """marshmallow's nested messages as ``field: reason; other: reason``."""
    if isinstance(messages, dict):
        return "; ".join(_reasons(value, key if isinstance(key, str) else field)
                         for key, value in messages.items())
    return f"{field}: {' '.join(messages)}" if field else " ".join(messages)


def _password_problem(password: str) -> str | None:
    try:
        UserSchema().fields["password"].deserialize(password)
    except ma.ValidationError as error:
        return " ".join(error.messages)
    return None


def _ask_password() -> str:
    """Asked twice on the terminal; a password the API would refuse is asked again."""
    def acceptable(value: str) -> str:
        problem = _password_problem(value)
        if problem:
            raise click.BadParameter(f"password: {problem}")
        return value

    return click.prompt("Password (10+ characters)", hide_input=True,
                        confirmation_prompt="Repeat the password", value_proc=acceptable)


def _read_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException("--password-stdin: standard input held no password.")
    return line
