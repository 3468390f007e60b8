"""``flask --app server ...`` commands."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from server.auth.cli import create_user_command
from server.common.cli import clear_errors, require_schema
from server.extensions import db


def register_cli(app: Flask) -> None:
    from server.audit.cli import audit_cli
    app.cli.add_command(audit_cli)

    @app.cli.command("seed-demo")
    @click.option("--days", default=45, show_default=True, help="Days of check-in history.")
    def seed_demo_command(days: int):
        """Load demo data drawn from the seed documents into an empty database."""
        from server.demo.data import DEMO_STATION
        from server.demo.seed import seed_demo
        require_schema()
        with clear_errors():
            passwords = seed_demo(days=days)
        click.echo("Demo data loaded. Sign in with:")
        for user, password in passwords.items():
            click.echo(f"  {user:10s} {password}")
        credentials = Path(app.instance_path) / "demo-credentials.txt"
        credentials.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
        credentials.chmod(0o600)
        click.echo(f"(also written to {credentials})")
        click.echo(f"Check-in page of a demo station: {_station_url(DEMO_STATION)}")

    @app.cli.command("station-url")
    @click.argument("station")
    def station_url_command(station: str):
        """Print the signed URL of a station's current QR code: the address a
        phone opens (``/q/<station>`` without its signature shows a warning)."""
        require_schema()
        with clear_errors():
            click.echo(_station_url(station))

    app.cli.add_command(create_user_command)

    @app.cli.command("import")
    @click.argument("kind", type=click.Choice(["organisations", "people", "stations"]))
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--as-user", "username", default="admin", show_default=True,
                  help="Import with this user's permissions.")
    def import_command(kind, path, username):
        """Import a CSV or XLSX file: every row or none."""
        from server.auth.models import User
        from server.auth.principal import Principal
        from server.common.lookup import by_code
        from server.errors import ValidationFailed
        from server.imports.services import import_file
        require_schema()
        with clear_errors():
            principal = Principal.of(by_code(User, username, "user", field="username"))
        try:
            result = import_file(principal, kind, path, Path(path).read_bytes())
        except ValidationFailed as failure:
            db.session.rollback()
            click.echo(failure.detail, err=True)
            for line, messages in failure.extra.get("errors", {}).items():
                click.echo(f"  line {line}: {'; '.join(messages)}", err=True)
            raise SystemExit(1)
        db.session.commit()
        click.echo(f"Imported {result['created']} {kind}.")

    @app.cli.command("pairing")
    @click.argument("action", type=click.Choice(["worker", "status", "drain", "requeue-all"]))
    @click.option("--held", is_flag=True,
                  help="drain: also pair what waits for the rest of a device's backlog.")
    def pairing_command(action, held):
        """Pair stored scans into sessions.

        worker: run the pairing worker until stopped (SIGTERM/SIGINT); web
        workers only queue, this pairs. status: is a worker running, what
        waits. drain: pair what waits now, once. requeue-all: queue everyone
        for a re-pairing of all their history (after an upgrade that fixed
        pairing) and pair it.
        """
        from server.pairing import queue, worker
        if action == "worker":
            worker.run(app)
            return
        if action == "requeue-all":
            people = queue.requeue_everyone()
            db.session.commit()
            click.echo(f"Queued {people} people for a full re-pairing.")
        if action in ("drain", "requeue-all"):
            people = queue.drain(include_held=held)
            click.echo(f"Paired {people} people.")
        state = worker.status()
        click.echo(f"Worker: {'running' if state['running'] else 'NOT RUNNING'} "
                   f"({state['workers']} alive, last beat {state['last_beat_at'] or '-'})")
        click.echo(f"Waiting: {state['rows']} rows, {state['people']} people, "
                   f"oldest queued at {state['oldest_queued_at'] or '-'}, "
                   f"behind {state['behind_s']} s")

    @app.cli.command("service-totals")
    @click.argument("action", type=click.Choice(["check", "rebuild"]))
    def service_totals_command(action):
        """Compare the trigger-kept service totals with the sessions, or rebuild them."""
        from server.totals import triggers as totals_sql
        connection = db.session.connection()
        if action == "rebuild":
            totals_sql.rebuild(connection)
            db.session.commit()
            click.echo("Service totals rebuilt from the sessions.")
            return
        found = totals_sql.differences(connection)
        for table, rows in found.items():
            click.echo(f"{table}: {rows} differing rows")
        if any(found.values()):
            raise SystemExit(1)

    @app.cli.command("device-chain")
    @click.argument("codes", nargs=-1)
    @click.option("--from-scratch", is_flag=True,
                  help="Read every stored scan again; trust no stored verdict.")
    def device_chain_command(codes, from_scratch):
        """Verify devices' chains of scans (all devices, or those named) to
        the end, and list the breaks: exit status 1 if there is any."""
        from sqlalchemy import select

        from server.common.lookup import by_code
        from server.devices.chain import verify_chain
        from server.devices.models import Device
        require_schema()
        with clear_errors():
            devices = [by_code(Device, code, "device") for code in codes] or list(
                db.session.scalars(select(Device).order_by(Device.code)))
        broken = 0
        for device in devices:
            report = verify_chain(device, from_scratch=from_scratch, to_the_end=True,
                                  shown=None)
            linked = ("not linked" if report.linked_from_seq is None
                      else f"linked from seq {report.linked_from_seq}")
            click.echo(f"{device.code}: verified through seq {report.verified_through_seq}, "
                       f"{linked}, {len(report.breaks)} breaks")
            for found in report.breaks:
                named = f" (named by seq {found.found_at})" if found.found_at != found.seq else ""
                click.echo(f"  seq {found.seq}: {found.kind}{named}")
            broken += bool(report.breaks)
            db.session.commit()  # the verdict, kept for the devices' pages
        if broken:
            raise SystemExit(1)


def _station_url(code: str) -> str:
    """The station's signed URL; commits the signing key if this made the first one."""
    from server.common.lookup import by_code
    from server.qr.signer import StationSigner
    from server.stations.models import Station
    url = StationSigner().url_for(by_code(Station, code, "station"))
    db.session.commit()
    return url
