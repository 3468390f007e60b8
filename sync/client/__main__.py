"""Command line of the reference client.

    python -m sync.client --db tablet.db enrol '{"v":1,"url":"...","token":"enr_..."}'
    python -m sync.client --db tablet.db scan check_in --person P-0001 --station BA-XA-HC-0001
    python -m sync.client --db tablet.db scan check_out --person P-0001 --qr 'https://.../q/...'
    python -m sync.client --db tablet.db sync
    python -m sync.client --db tablet.db status
"""
from __future__ import annotations

import argparse
import json
import sys

from sync.client.engine import SyncClient, SyncError
from sync.client.store import LocalStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="device.db", help="the device's local database")
    commands = parser.add_subparsers(dest="command", required=True)
    enrol = commands.add_parser("enrol", help="enrol with the text of an enrolment QR code")
    enrol.add_argument("qr")
    scan = commands.add_parser("scan", help="record a scan (works offline)")
    scan.add_argument("type", choices=["check_in", "check_out"])
    scan.add_argument("--person", required=True)
    scan.add_argument("--station")
    scan.add_argument("--qr")
    scan.add_argument("--activity")
    commands.add_parser("sync", help="push the queue, then pull reference data")
    commands.add_parser("status", help="queue length, oldest queued scan, last syncs")
    args = parser.parse_args(argv)

    store = LocalStore(args.db)
    try:
        if args.command == "enrol":
            SyncClient.enrol(store, args.qr)
            print(f"enrolled as {store.get('device_code')}")
        elif args.command == "scan":
            event = store.record_scan(args.type, args.person, station=args.station, qr=args.qr,
                                      activity=args.activity)
            if event["warning"]:
                print(f"warning: {event['warning']} (recorded anyway)", file=sys.stderr)
            print(json.dumps(event, ensure_ascii=False))
        elif args.command == "sync":
            print(json.dumps(SyncClient(store).sync(), ensure_ascii=False))
        else:
            print(json.dumps(store.status(), ensure_ascii=False, indent=2))
    except SyncError as error:
        print(f"error: {error.code}: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
