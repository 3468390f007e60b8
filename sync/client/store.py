"""The device's local database: an outbox that records a scan before anything
else, and a cache of the reference data pulled for offline work."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sync.client.ids import uuid7
from sync.clock import DEFAULT_CLOCK_TOLERANCE_S
from sync.protocol import EVENT_TYPES, content_hash
from sync.qr import (OUTSIDE, DisplayKey, QrInvalid, b64url_decode, is_display_url,
                     judge_display_code, verify_display_url, verify_station_url)
from sync.timeutil import format_rfc3339

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, event TEXT NOT NULL,
    queued_at TEXT NOT NULL, warning TEXT);
CREATE TABLE IF NOT EXISTS sent (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, code TEXT, sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cache (
    kind TEXT NOT NULL, code TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, code));
"""
#: Kinds of cached reference data, as named in a pull page.
CACHE_KINDS = {"stations": "station", "people": "person", "activities": "activity",
               "signing_keys": "signing_key", "displays": "display"}


class LocalStore:
    """One SQLite file per device. Every write is its own committed transaction,
    with ``synchronous=FULL``: a scan survives a crash the moment it returns."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        # One device, one store; a caller may hand it to another thread (not share it).
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- meta -------------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key: str, value: str | None) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- the outbox -------------------------------------------------------------------
    def record_scan(self, kind: str, person: str, *, station: str | None = None,
                    qr: str | None = None, activity: str | None = None,
                    location: dict | None = None, at: datetime | None = None) -> dict:
        """Queue one scan durably and return it, with ``warning`` when the code
        looks invalid offline (it is recorded all the same: the server decides).
        It names the content hash of the scan recorded before it (``prev``).

        :raise ValueError: an unknown ``kind`` or neither station nor qr.
        """
        if kind not in EVENT_TYPES:
            raise ValueError(f"type must be one of {EVENT_TYPES}")
        if not station and not qr:
            raise ValueError("give a station code or the scanned qr text")
        at = at or datetime.now(timezone.utc)
        warning = self.check_code(qr, at) if qr else None
        event = {"id": uuid7(), "type": kind, "person": person,
                 "occurred_at": format_rfc3339(at)}
        if station:
            event["station"] = station
        if qr:
            event["qr"] = qr
        if activity:
            event["activity"] = activity
        if location:
            event["location"] = location
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            seq = int(self.get("next_seq", "1"))
            event["seq"] = seq
            # Linked to the scan numbered just before (docs/sync-protocol.md,
            # "Linked scans"): the hash of that scan as the server hashes it.
            last = json.loads(self.get("last_scan") or "null")
            if last is not None and last["seq"] == seq - 1:
                event["prev"] = last["hash"]
            text = json.dumps(event, ensure_ascii=False)
            self.set("next_seq", str(seq + 1))
            self.set("last_scan", json.dumps({"seq": seq,
                                              "hash": content_hash(json.loads(text))}))
            self.db.execute("INSERT INTO outbox (id, seq, event, queued_at, warning) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (event["id"], seq, text,
                             format_rfc3339(datetime.now(timezone.utc)), warning))
        return {**event, "warning": warning}

    def check_code(self, qr: str, at: datetime | None = None) -> str | None:
        """Why a scanned code looks wrong offline, or None if it verifies and is
        current: a poster's of the station's current version, a station
        display's of a window around ``at`` (the scan's time, by default now)."""
        if is_display_url(qr):
            return self._check_display_code(qr, at or datetime.now(timezone.utc))
        keys = {code: b64url_decode(json.loads(data)["public_key"])
                for code, data in self.db.execute(
                    "SELECT code, data FROM cache WHERE kind = 'signing_key'")
                if not json.loads(data).get("retired_at")}
        if not keys:
            return "no_keys_yet"
        try:
            code = verify_station_url(qr, keys)
        except QrInvalid as invalid:
            return invalid.code
        station = self.cached("station", code.station)
        if station is None:
            return "unknown_station"
        if station["status"] != "active" or code.version < station["qr_version"]:
            return "revoked_qr"
        return None

    def _check_display_code(self, qr: str, at: datetime) -> str | None:
        """``expired_code`` when the code was not on the display's screen at
        ``at`` (give or take the clock tolerance): a photo passed on."""
        keys = {code: DisplayKey(data["station"], b64url_decode(data["public_key"]))
                for code, data in ((code, json.loads(text)) for code, text in self.db.execute(
                    "SELECT code, data FROM cache WHERE kind = 'display'"))}
        if not keys:
            return "no_keys_yet"
        try:
            code = verify_display_url(qr, keys)
        except QrInvalid as invalid:
            return invalid.code
        station = self.cached("station", code.station)
        if station is None:
            return "unknown_station"
        if station["status"] != "active":
            return "revoked_qr"
        if judge_display_code(code, at, DEFAULT_CLOCK_TOLERANCE_S) == OUTSIDE:
            return "expired_code"
        return None

    def pending(self, limit: int) -> list[dict]:
        return [json.loads(row[0]) for row in self.db.execute(
            "SELECT event FROM outbox ORDER BY seq LIMIT ?", (limit,))]

    def queued_after(self, seq: int) -> tuple[int, str | None]:
        """How many scans are queued after ``seq``, and when the oldest of them was."""
        count, oldest = self.db.execute(
            "SELECT count(*), min(queued_at) FROM outbox WHERE seq > ?", (seq,)).fetchone()
        return count, oldest

    def settle(self, results: list[dict], sent_at: str) -> int:
        """Drop events the server answered with a final status; log the answers."""
        from sync.protocol import FINAL_STATUSES
        final = [r for r in results if r.get("status") in FINAL_STATUSES
                 and isinstance(r.get("id"), str)]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("DELETE FROM outbox WHERE id = ?", [(r["id"],) for r in final])
            self.db.executemany(
                "INSERT INTO sent (id, status, code, sent_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, code = excluded.code",
                [(r["id"], r["status"], r.get("code"), sent_at) for r in final])
        return len(final)

    # -- the reference cache ----------------------------------------------------------
    def apply_page(self, page: dict) -> None:
        """Apply one pull page and its cursor in one transaction, so an
        interrupted pull resumes after the last page applied."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for field, kind in CACHE_KINDS.items():
                key = "key_id" if kind == "signing_key" else "code"
                self.db.executemany(
                    "INSERT INTO cache (kind, code, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, code) DO UPDATE SET data = excluded.data",
                    [(kind, item[key], json.dumps(item, ensure_ascii=False))
                     for item in page.get(field, [])])
            self.db.executemany("DELETE FROM cache WHERE kind = ? AND code = ?",
                                [(d["type"], d["code"]) for d in page.get("deletions", [])])
            self.set("pull_cursor", page["cursor"])

    def cached(self, kind: str, code: str) -> dict | None:
        row = self.db.execute("SELECT data FROM cache WHERE kind = ? AND code = ?",
                              (kind, code)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT kind, count(*) FROM cache GROUP BY kind"))

    def status(self) -> dict:
        queue_length, oldest = self.db.execute(
            "SELECT count(*), min(queued_at) FROM outbox").fetchone()
        return {"device": self.get("device_code"), "server": self.get("base_url"),
                "queue_length": queue_length, "oldest_queued_at": oldest,
                "last_push_ok_at": self.get("last_push_ok_at"),
                "last_pull_ok_at": self.get("last_pull_ok_at"),
                "last_error": self.get("last_error"),
                "clock_offset_s": self.get("clock_offset_s"),
                "missing_seq": json.loads(self.get("missing_seq") or "[]"),
                "cached": self.cache_counts()}
