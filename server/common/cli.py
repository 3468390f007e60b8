"""What every ``flask --app server ...`` command shares: a mistake is one
clear line and a non-zero exit status, never a traceback."""
from __future__ import annotations

from contextlib import contextmanager

import click
import sqlalchemy as sa

from server.errors import AppError
from server.extensions import db


def one_line(error: AppError) -> str:
    """The error's sentence, followed by its per-field reasons if it has any."""
    found = error.extra.get("errors")
    if not isinstance(found, dict) or not found:
        return error.detail
    reasons = "; ".join(f"{field}: {', '.join(map(str, messages))}"
                        if isinstance(messages, list) else f"{field}: {messages}"
                        for field, messages in found.items())
    return f"{error.detail} ({reasons})"


@contextmanager
def clear_errors():
    """Turn the services' errors into ``click.ClickException`` ("Error: ...",
    exit status 1), after rolling back whatever the command had written."""
    try:
        yield
    except AppError as error:
        db.session.rollback()
        raise click.ClickException(one_line(error)) from None


def require_schema() -> None:
    """:raise click.ClickException: the database has not been migrated yet."""
    if not sa.inspect(db.session.connection()).has_table("alembic_version"):
        raise click.ClickException(
            "The database has no tables yet: run `flask --app server db upgrade` first.")
