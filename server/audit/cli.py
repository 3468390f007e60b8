"""``flask --app server audit verify | anchor``: check the audit log's chain."""
from __future__ import annotations

import re

import click
from flask.cli import AppGroup

from server.audit import chain
from server.common.transactions import reading
from server.extensions import db
from sync.chain import ChainCheck

audit_cli = AppGroup("audit", help="Check the audit log's hash chain (docs/audit.md).")

_ANCHOR = re.compile(r"([1-9][0-9]{0,18}):([0-9a-f]{64})")


def _anchors(ctx, param, values) -> dict[int, str]:
    anchors = {}
    for value in values:
        match = _ANCHOR.fullmatch(value.strip().lower())
        if match is None:
            raise click.BadParameter(f"{value!r} is not SEQ:HASH (as `audit anchor` prints it)")
        anchors[int(match[1])] = match[2]
    return anchors


@audit_cli.command("verify")
@click.option("--anchor", "anchors", multiple=True, callback=_anchors, metavar="SEQ:HASH",
              help="An anchor printed earlier by `audit anchor`; may be repeated.")
def verify_command(anchors: dict[int, str]):
    """Recompute every entry's hash in seq order: one line per break and exit
    status 1, or "N entries, chain intact"."""
    check = ChainCheck(anchors=anchors)
    breaks = 0
    # A read transaction: on SQLite it takes no write lock while it walks.
    with reading(), db.engine.connect() as connection:
        for link in chain.links(connection):
            for found in check.add(link):
                click.echo(found.describe())
                breaks += 1
    for found in check.end():
        click.echo(found.describe())
        breaks += 1
    if breaks:
        click.echo(f"{check.count} entries, {breaks} break{'s' * (breaks != 1)}: "
                   "the chain is NOT intact", err=True)
        raise SystemExit(1)
    through = {0: "", 1: ", through its anchor"}.get(len(anchors),
                                                     f", through its {len(anchors)} anchors")
    click.echo(f"{check.count} entries, chain intact{through}")


@audit_cli.command("anchor")
def anchor_command():
    """Print the newest entry's SEQ:HASH, to keep outside the database
    (printed, e-mailed): `verify --anchor SEQ:HASH` checks the chain still
    passes through it."""
    with reading(), db.engine.connect() as connection:
        found = chain.latest(connection)
    if found is None:
        click.echo("The audit log is empty: nothing to anchor yet.", err=True)
        raise SystemExit(1)
    click.echo(f"{found[0]}:{found[1]}")
