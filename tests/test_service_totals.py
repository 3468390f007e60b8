"""The trigger-kept totals equal a fresh computation after any sequence of
session inserts, updates and deletes, single-row or many rows per statement
(also through the push path's bulk writes, in statements of a few rows),
across month, quarter and year boundaries, with people moving branches.

(Every other test's teardown also checks this, after whatever the push
pipeline, reviews and branch moves did; see tests/conftest.py.)
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select, update

from server.common import rawsql
from server.extensions import db
from server.org.models import Organisation
from server.people.models import Person
from server.totals.models import BranchPeriodTotal, PeriodMover
from server.totals.triggers import differences, fold, rebuild
from server.service_sessions.models import ServiceSession
from server.stations.models import Station

STATUSES = ("ok", "approved", "rejected", "needs_review", "amended")
DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1),
        date(2026, 4, 15)]


def _ids(model):
    return list(db.session.scalars(select(model.id).order_by(model.id)))


def _row(rng, n, people, branches, station):
    status = rng.choice(STATUSES)
    day = rng.choice(DAYS)
    seconds = rng.choice((1800, 3600, 7200))
    at = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=2)
    return {"key_event_id": f"k{n}", "key_at": at, "person_id": rng.choice(people),
            "station_id": station, "derived_status": "ok", "status": status,
            "start_at": at, "end_at": at + timedelta(seconds=seconds), "flags": "",
            "review_stale": False,
            "credited_seconds": seconds if status in ("ok", "approved", "amended") else 0,
            "pending_seconds": seconds if status == "needs_review" else 0,
            "local_date": day, "branch_id": rng.choice(branches + [None]),
            "updated_at": at}


def _differences():
    # What a commit does first on SQLite (a no-op on PostgreSQL, whose
    # statement triggers have already run).
    fold(db.session.connection())
    return differences(db.session.connection())


@pytest.mark.parametrize("seed", range(6))
def test_totals_follow_any_sequence_of_changes(world, seed, monkeypatch):
    # The bulk writes' statements hold a few rows each, so a write spans several.
    monkeypatch.setattr(rawsql, "SQLITE_ROWS_PER_STATEMENT", 7)
    rng = random.Random(seed)
    people, branches, station = _ids(Person), _ids(Organisation), _ids(Station)[0]
    table = ServiceSession.__table__
    made = 0
    for step in range(12):
        action = rng.choice(("insert_many", "insert_one", "update", "move", "delete",
                             "bulk_insert", "bulk_update"))
        ids = _ids(ServiceSession)
        if action.startswith("insert") or not ids:
            count = rng.randint(5, 40) if action == "insert_many" else 1
            db.session.execute(insert(table), [_row(rng, made + i, people, branches, station)
                                               for i in range(count)])
            made += count
        elif action == "bulk_insert":
            count = rng.randint(5, 40)
            rawsql.write_rows(db.session.connection(), table,
                              [_row(rng, made + i, people, branches, station)
                               for i in range(count)])
            made += count
        elif action == "bulk_update":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 20)))
            rawsql.update_rows(db.session.connection(), table, [
                {"id": i, "status": rng.choice(STATUSES), "branch_id": rng.choice(branches),
                 "local_date": rng.choice(DAYS), "credited_seconds": rng.choice((0, 900, 3600))}
                for i in chosen])
        elif action == "update":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 10)))
            db.session.execute(update(table).where(table.c.id.in_(chosen)).values(
                status=rng.choice(STATUSES), credited_seconds=rng.choice((0, 900, 3600))))
        elif action == "move":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 10)))
            db.session.execute(update(table).where(table.c.id.in_(chosen)).values(
                branch_id=rng.choice(branches), local_date=rng.choice(DAYS)))
        else:
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 8)))
            db.session.execute(delete(table).where(table.c.id.in_(chosen)))
        if rng.random() < 0.5 or step == 11:
            # Otherwise the next steps pile up in SQLite's change log first.
            assert _differences() == {"person_branch_period": 0, "branch_period_total": 0,
                                      "period_mover": 0}, f"after step {step}: {action}"
    db.session.commit()


def test_a_person_in_two_branches_is_one_mover_until_one_presence_goes(world):
    person = _ids(Person)[0]
    first, second = (db.session.scalar(select(Organisation.id).where(Organisation.code == c))
                     for c in ("BA-ZB1", "BA-ZB2"))
    station = _ids(Station)[0]
    rng = random.Random(0)
    rows = [_row(rng, n, [person], [first], station) for n in range(2)]
    for row, branch in zip(rows, (first, second)):
        row.update(status="ok", credited_seconds=3600, local_date=date(2026, 4, 15),
                   branch_id=branch)
    db.session.execute(insert(ServiceSession.__table__), rows)
    db.session.commit()  # the figures are right at commit (SQLite folds then)
    movers = set(db.session.scalars(select(PeriodMover.period)))
    assert movers == {"2026-04", "2026-Q2", "2026"}
    april = db.session.execute(select(BranchPeriodTotal.branch_id, BranchPeriodTotal.people,
                                      BranchPeriodTotal.credited_seconds)
                               .where(BranchPeriodTotal.period == "2026-04")
                               .order_by(BranchPeriodTotal.branch_id)).all()
    assert [tuple(r) for r in april] == [(first, 1, 3600), (second, 1, 3600)]
    db.session.execute(update(ServiceSession.__table__)
                       .where(ServiceSession.key_event_id == "k1").values(status="rejected"))
    db.session.commit()
    assert not db.session.scalars(select(PeriodMover.period)).all()
    assert db.session.scalar(select(BranchPeriodTotal.people).where(
        BranchPeriodTotal.branch_id == second, BranchPeriodTotal.period == "2026-04")) == 0
    db.session.commit()


def test_rebuild_reproduces_what_the_triggers_kept(world):
    rng = random.Random(7)
    people, branches, station = _ids(Person), _ids(Organisation), _ids(Station)[0]
    db.session.execute(insert(ServiceSession.__table__),
                       [_row(rng, n, people, branches, station) for n in range(60)])
    db.session.commit()
    kept = db.session.execute(select(BranchPeriodTotal.__table__).where(
        BranchPeriodTotal.sessions != 0).order_by("branch_id", "period")).all()
    rebuild(db.session.connection())
    assert db.session.execute(select(BranchPeriodTotal.__table__).order_by(
        "branch_id", "period")).all() == kept
    db.session.commit()


def test_operators_can_check_and_rebuild_from_the_command_line(app, world):
    rng = random.Random(3)
    people, branches, station = _ids(Person), _ids(Organisation), _ids(Station)[0]
    db.session.execute(insert(ServiceSession.__table__),
                       [_row(rng, n, people, branches, station) for n in range(20)])
    db.session.commit()
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["service-totals", "check"])
    assert checked.exit_code == 0 and "branch_period_total: 0 differing rows" in checked.output
    db.session.execute(update(BranchPeriodTotal.__table__).values(sessions=12345))
    db.session.commit()
    assert runner.invoke(args=["service-totals", "check"]).exit_code == 1
    rebuilt = runner.invoke(args=["service-totals", "rebuild"])
    assert rebuilt.exit_code == 0
    assert runner.invoke(args=["service-totals", "check"]).exit_code == 0
