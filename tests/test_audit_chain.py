"""The audit log is a hash chain (server/audit/chain.py, docs/audit.md): the
entries real requests write chain one after the other, ``flask audit verify``
passes, and an entry changed, removed or added in the database afterwards
makes it fail, naming the entry."""
from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from server.audit import chain as audit_chain
from server.audit.models import AuditEntry
from server.audit.services import record_audit
from server.extensions import db
from server.service_sessions.models import ServiceSession
from sync.chain import link_hash
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan


def _verify(app, *anchors: str) -> tuple[int, list[str]]:
    """Exit status and lines (standard output and error) of ``audit verify``."""
    args = ["audit", "verify"] + [f"--anchor={anchor}" for anchor in anchors]
    result = app.test_cli_runner().invoke(args=args)
    return result.exit_code, result.output.splitlines()


def _anchor(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _entries() -> list:
    """The stored entries in seq order, as rows (they outlive what they read)."""
    db.session.rollback()
    table = AuditEntry.__table__
    rows = db.session.execute(select(table).order_by(table.c.seq)).all()
    db.session.rollback()  # SQLite: let other writers go on
    return rows


def _sql(statement: str, **params) -> None:
    db.session.rollback()
    db.session.execute(text(statement), params)
    db.session.commit()


@pytest.fixture
def audited(client, world, admin_token, make_device):
    """Entries written by real requests: the world's set-up, an organisation
    changed (a JSON ``changes``), a device, and a review with a reason."""
    assert client.patch("/api/v1/organisations/BA-ZB1", headers=auth(admin_token),
                        json={"name": "新安第一支部"}).status_code == 200
    code, token = make_device()
    start = recent(20)
    push(client, token, batch([scan("P-BA-1", "check_in", start),
                               scan("P-BA-1", "check_out", start + timedelta(hours=13))]))
    key = db.session.scalar(select(ServiceSession.key_event_id))
    answer = client.post(f"/api/v1/sessions/{key}/review", headers=auth(admin_token),
                         json={"decision": "rejected", "reason": "未实际服务，退回"})
    assert answer.status_code == 200, answer.json
    entries = _entries()
    actions = [entry.action for entry in entries]
    assert {"update_organisation", "create_device", "enrol_device",
            "review_session_rejected"} <= set(actions)
    return entries


def test_entries_written_by_requests_chain_in_commit_order_and_verify(app, audited):
    previous = None
    for number, entry in enumerate(audited, start=1):
        assert entry.seq == number and entry.prev_hash == previous
        assert entry.entry_hash == link_hash(previous, audit_chain.entry_fields(
            entry.seq, *(getattr(entry, name) for name in audit_chain._FIELDS)))
        previous = entry.entry_hash
    assert [entry.id for entry in audited] == sorted(entry.id for entry in audited)
    assert _verify(app) == (0, [f"{len(audited)} entries, chain intact"])
    assert _anchor(app) == f"{audited[-1].seq}:{audited[-1].entry_hash}"
    assert _verify(app, _anchor(app)) == (
        0, [f"{len(audited)} entries, chain intact, through its anchor"])


def test_a_request_that_fails_after_recording_writes_no_entry(app, client, audited,
                                                              admin_token):
    """An import records an entry per row in savepoints, then fails on a bad
    row: nothing is written, and the next entry follows the last one."""
    rows = "code,name,kind,branch\nP-300,好人,volunteer,BA-ZB1\nP-301,坏,alien,BA-ZB1\n"
    answer = client.post("/api/v1/imports/people", headers=auth(admin_token),
                         data={"file": (io.BytesIO(rows.encode()), "roster.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422
    assert len(_entries()) == len(audited)
    assert client.patch("/api/v1/areas/SZ-NS", headers=auth(admin_token),
                        json={"name": "南山"}).status_code == 200
    entries = _entries()
    assert [e.action for e in entries[len(audited):]] == ["update_area"]
    assert _verify(app) == (0, [f"{len(audited) + 1} entries, chain intact"])


def test_a_rolled_back_savepoint_takes_back_its_entries(app, world):
    before = len(_entries())
    record_audit("system", "kept_before", "test", "T-1")
    savepoint = db.session.begin_nested()
    record_audit("system", "taken_back", "test", "T-2")
    savepoint.rollback()
    with db.session.begin_nested():
        record_audit("system", "kept_in_savepoint", "test", "T-3",
                     changes={"name": ["甲", "乙"], "n": [1, 2.5]})
    db.session.commit()
    entries = _entries()
    assert [e.action for e in entries[before:]] == ["kept_before", "kept_in_savepoint"]
    assert entries[-1].changes == {"name": ["甲", "乙"], "n": [1, 2.5]}
    assert _verify(app)[0] == 0


@pytest.mark.parametrize("column, value", [
    ("reason", "情况属实，已核实"),
    ("actor", "user:someone-else"),
    ("changes", '{"name": ["BA-ZB1", "另一个名字"]}'),
])
def test_an_entry_changed_in_the_database_is_named(app, audited, column, value):
    target = next(e for e in audited if e.action == {
        "reason": "review_session_rejected", "actor": "create_device",
        "changes": "update_organisation"}[column])
    _sql(f"UPDATE audit_entry SET {column} = :value WHERE id = :id", value=value, id=target.id)
    code, lines = _verify(app)
    assert code == 1
    assert lines[0].startswith(f"seq {target.seq} (id {target.id}): changed: ")
    assert lines[1:] == [f"{len(audited)} entries, 1 break: the chain is NOT intact"]


def test_an_entry_removed_from_the_database_is_named(app, audited):
    target = audited[len(audited) // 2]
    _sql("DELETE FROM audit_entry WHERE id = :id", id=target.id)
    code, lines = _verify(app)
    assert code == 1
    assert lines[0] == (f"seq {target.seq}: removed: missing: seq {target.seq + 1} chains to "
                        "a hash no entry has")
    assert len(lines) == 2


def test_an_entry_added_to_the_database_is_named(app, audited):
    last = audited[-1]
    _sql("INSERT INTO audit_entry (seq, at, actor, action, object_type, object_code, "
         "prev_hash, entry_hash) VALUES (:seq, :at, 'user:root', 'review_session_approved', "
         "'session', 'x', :prev, :hash)", seq=last.seq + 1,
         at=last.at.strftime("%Y-%m-%d %H:%M:%S.%f"), prev="0" * 64, hash="1" * 64)
    forged = _entries()[-1]
    code, lines = _verify(app)
    assert code == 1
    assert lines[0].startswith(f"seq {forged.seq} (id {forged.id}): replaced: ")
    assert "inserted or replaced" in lines[0] and len(lines) == 2


def test_an_entry_slipped_in_between_with_a_well_made_hash_is_named(app, audited):
    """Renumbering the later entries to make room: the entry after the
    intruder still chains to the one before it."""
    k = len(audited) // 2
    before = audited[k - 1]
    _sql("UPDATE audit_entry SET seq = -seq WHERE seq > :seq", seq=before.seq)
    _sql("UPDATE audit_entry SET seq = 1 - seq WHERE seq < 0")
    fields = {"seq": before.seq + 1, "at": "2026-12-01T00:00:00.000000Z", "actor": "user:root",
              "action": "review_session_approved", "object_type": "session",
              "object_code": "x", "reason": None, "changes": None}
    _sql("INSERT INTO audit_entry (seq, at, actor, action, object_type, object_code, "
         "prev_hash, entry_hash) VALUES (:seq, '2026-12-01 00:00:00.000000', 'user:root', "
         "'review_session_approved', 'session', 'x', :prev, :hash)", seq=before.seq + 1,
         prev=before.entry_hash, hash=link_hash(before.entry_hash, fields))
    intruder = next(e for e in _entries() if e.object_code == "x")
    code, lines = _verify(app)
    assert code == 1
    assert lines[0].startswith(f"seq {intruder.seq} (id {intruder.id}): inserted: "
                               f"not part of the chain: seq {intruder.seq + 1} chains to")


def _rechain_from(seq: int) -> None:
    """What someone who knows the algorithm and can write to the database
    does after changing entry ``seq``: every later hash recomputed."""
    db.session.rollback()
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    previous = None
    for entry in entries:
        if entry.seq >= seq:
            entry.prev_hash = previous
            entry.entry_hash = link_hash(previous, audit_chain.entry_fields(
                entry.seq, *(getattr(entry, name) for name in audit_chain._FIELDS)))
        previous = entry.entry_hash
    db.session.commit()


def test_a_chain_rewritten_to_its_end_is_found_by_an_anchor_kept_elsewhere(app, audited):
    anchor = _anchor(app)
    target = audited[2]
    _sql("UPDATE audit_entry SET reason = 'rewritten' WHERE id = :id", id=target.id)
    _rechain_from(target.seq)
    assert _verify(app) == (0, [f"{len(audited)} entries, chain intact"])
    code, lines = _verify(app, anchor)
    assert code == 1
    assert lines[0].startswith(f"seq {audited[-1].seq} (id {audited[-1].id}): anchor: ")
    assert "the chain was rewritten up to here" in lines[0]


def test_removing_the_newest_entry_is_found_by_an_anchor(app, audited):
    anchor = _anchor(app)
    _sql("DELETE FROM audit_entry WHERE id = :id", id=audited[-1].id)
    assert _verify(app)[0] == 0
    code, lines = _verify(app, anchor)
    assert code == 1
    assert lines[0] == (f"seq {audited[-1].seq}: anchor: no such entry (the chain ends at "
                        f"seq {audited[-2].seq}): entries were removed")


def test_malformed_anchors_are_refused(app, world):
    for anchor in ("12", "0:" + "a" * 64, "5:" + "g" * 64, "5:abc"):
        code, lines = _verify(app, anchor)
        assert code == 2 and any("is not SEQ:HASH" in line for line in lines), lines


def test_an_empty_log_verifies_and_has_no_anchor(app):
    assert _verify(app) == (0, ["0 entries, chain intact"])
    assert app.test_cli_runner().invoke(args=["audit", "anchor"]).exit_code == 1


def test_concurrent_audit_writes_make_one_unbroken_chain(app, world):
    """Four threads, each its own connection, committing audit entries at
    once (on SQLite they take turns for the write lock)."""
    before = len(_entries())
    start, errors = threading.Barrier(4), []

    def write(worker: int):
        try:
            with app.app_context():
                start.wait(10)
                for n in range(15):
                    for _ in range(1 + n % 3):
                        record_audit(f"user:w{worker}", "concurrent", "test", f"W{worker}-{n}")
                    db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    entries = _entries()
    assert len(entries) == before + 4 * 30
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert _verify(app) == (0, [f"{len(entries)} entries, chain intact"])


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_append_waits_for_the_one_sealing_before_it(app, world):
    """PostgreSQL: a transaction holding the chain lock (sealed, not yet
    committed) makes the next append wait, which then chains after it; no
    fork, no failure."""
    sealed, go_on, errors = threading.Event(), threading.Event(), []

    @event.listens_for(Session, "before_commit")
    def hold_first(session):  # runs after _seal: listeners run in order
        if threading.current_thread().name == "first":
            sealed.set()
            assert go_on.wait(30)

    def commit_one(action):
        try:
            with app.app_context():
                record_audit("system", action, "test", action)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    first = threading.Thread(target=commit_one, args=("first",), name="first")
    second = threading.Thread(target=commit_one, args=("second",), name="second")
    try:
        first.start()
        assert sealed.wait(30)
        second.start()
        assert _waits_for_the_chain_lock()
        go_on.set()
        first.join(30)
        second.join(30)
    finally:
        go_on.set()
        event.remove(Session, "before_commit", hold_first)
    assert errors == []
    entries = _entries()
    assert [e.action for e in entries[-2:]] == ["first", "second"]
    assert _verify(app) == (0, [f"{len(entries)} entries, chain intact"])


def _waits_for_the_chain_lock(timeout_s: float = 10) -> bool:
    import time
    space, key = audit_chain.CHAIN_LOCK
    deadline = time.monotonic() + timeout_s
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = %s AND objid = %s AND objsubid = 2", (space, key)).scalar()
            connection.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_chain_lock_is_taken_when_the_transaction_commits_not_before(app, world):
    """Not when an entry is recorded, flushed or its savepoint released: a
    bulk approval reviews session after session, each in a savepoint taking
    person locks, and holding the chain lock from the first would deadlock
    with a review that holds a person lock and waits for the chain lock."""
    held_at_commit = []

    @event.listens_for(Session, "before_commit")
    def look(session):  # runs after _seal
        held_at_commit.append(_holds_the_chain_lock())

    try:
        record_audit("system", "first", "test", "T-1")
        with db.session.begin_nested():
            record_audit("system", "in_savepoint", "test", "T-2")
        db.session.flush()
        assert not _holds_the_chain_lock()
        db.session.commit()
    finally:
        event.remove(Session, "before_commit", look)
    assert held_at_commit[-1] is True
    assert [e.action for e in _entries()[-2:]] == ["first", "in_savepoint"]


def _holds_the_chain_lock() -> bool:
    space, key = audit_chain.CHAIN_LOCK
    return db.session.connection().exec_driver_sql(
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
        (space, key)).scalar()


def test_entries_of_a_transaction_closed_without_commit_are_not_written_later(app, world):
    before = len(_entries())
    record_audit("system", "never_committed", "test", "T-1")
    db.session.close()
    record_audit("system", "committed", "test", "T-2")
    db.session.commit()
    assert [e.action for e in _entries()[before:]] == ["committed"]


def test_entries_in_a_savepoint_left_open_at_commit_are_written(app, world):
    """``Session.commit`` commits an open savepoint first, then the transaction."""
    before = len(_entries())
    db.session.begin_nested()
    record_audit("system", "left_open", "test", "T-1")
    db.session.commit()
    assert [e.action for e in _entries()[before:]] == ["left_open"]
    assert _verify(app)[0] == 0


def test_entries_lost_to_a_transaction_committed_around_its_savepoint_are_logged(
        app, world, caplog):
    """Committing the transaction object itself while a savepoint is open runs
    the savepoint's commit after the transaction's hooks: its entries can no
    longer be chained, and the log says so rather than nothing."""
    before = len(_entries())
    root = db.session().begin()
    db.session.begin_nested()
    record_audit("system", "left_open", "test", "T-1")
    root.commit()
    assert len(_entries()) == before
    assert "1 audit entries recorded in a savepoint left open at commit were not written" \
        in caplog.text


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("column, value", [("changes", '{"name": ["BA-ZB1", '),
                                           ("at", "yesterday")])
def test_an_entry_made_unreadable_in_the_database_is_named(app, audited, column, value):
    """SQLite stores any text in any column: the walk names the entry and goes on."""
    target = audited[3]
    _sql(f"UPDATE audit_entry SET {column} = :value WHERE id = :id", value=value, id=target.id)
    code, lines = _verify(app)
    assert code == 1
    assert lines[0].startswith(f"seq {target.seq} (id {target.id}): changed: ")
    assert len(lines) == 2


def test_the_chain_is_sealed_after_the_other_commit_hooks_that_write():
    """A transaction holding the chain lock must wait for no other lock (the
    sync feed's counter row is locked by its hook): else two transactions
    taking them in opposite orders deadlock."""
    hooks = [hook.__name__ for hook in Session().dispatch.before_commit]
    assert hooks.index("_seal") > hooks.index("_number_changes")
    assert hooks.index("_seal") > hooks.index("_fold_service_totals")
