"""The plans behind the city-scale figures (docs/benchmarks.md): what made a
district report fast must not quietly stop working.

A secretary's organisations are a path prefix. Each database must be able
to find them through an index, not by reading every organisation (30,000 in
a city, most of a district report's time before): SQLite through the byte
range the policy adds, PostgreSQL through the pattern index. A test table
is small enough that a planner would rightly scan it, so PostgreSQL is told
not to, and must then name the index.
"""
from __future__ import annotations

from sqlalchemy import select, text

from server.auth.policy import visible
from server.auth.principal import Principal
from server.extensions import db
from server.org.models import Organisation


def _plan(statement) -> str:
    connection = db.session.connection()
    compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(row[-1] for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))


def test_a_secretarys_organisations_are_found_through_an_index(world, backend):
    secretary = Principal(user=None, organisation_paths=["/BA-DW/"])
    query = select(Organisation.id).where(visible(secretary, Organisation))
    plan = _plan(query)
    index = "ix_organisation_path" if backend == "sqlite" else "ix_organisation_path_prefix"
    assert index in plan, plan
    assert "SCAN organisation" not in plan and "Seq Scan" not in plan, plan
    found = set(db.session.scalars(query))
    expected = set(db.session.scalars(select(Organisation.id).where(
        Organisation.code.in_(["BA-DW", "BA-ZB1", "BA-ZB2"]))))
    assert found == expected
    db.session.rollback()


def test_an_empty_grant_adds_no_subquery(world):
    """A secretary's filter is the path alone: the empty area and station
    arms are left out, not sent as subqueries that find nothing."""
    secretary = Principal(user=None, organisation_paths=["/BA-DW/"])
    sql = str(select(Organisation.id).where(visible(secretary, Organisation)))
    assert "area" not in sql and "station" not in sql, sql


def test_a_push_looks_its_ids_up_through_the_unique_indexes(world, backend, make_device):
    """Both tables hold every event ever pushed (20 million at city scale):
    a batch's duplicate check must probe their event_id indexes. On
    PostgreSQL without any nudge, at 30,000 events with fresh statistics:
    planned as ``IN (unnest)``, a table of that size was scanned whole on
    every push (a hash join)."""
    from server.checkins.ingest import known_ids_query
    from server.common.rawsql import RawSql
    connection = db.session.connection()
    ids = [f"id-{n}" for n in range(500)]
    sql, params = known_ids_query(RawSql(connection), ids)
    if backend == "sqlite":
        plan = "\n".join(row[-1] for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}", tuple(params)))
        assert "SCAN checkin_event" not in plan and "SCAN quarantined_event" not in plan, plan
        assert plan.count("USING INDEX") + plan.count("USING COVERING INDEX") >= 2, plan
    else:
        device_code, _ = make_device()
        connection = db.session.connection()
        connection.execute(text(
            "INSERT INTO checkin_event (event_id, device_id, batch_id, seq, type, person_id, "
            "station_id, occurred_at, effective_at, received_at, clock_offset_s, flags, "
            "content_hash, raw) SELECT 'gen-' || n, d.id, 'b', n, 'check_in', p.id, s.id, "
            "now(), now(), now(), 0, '', md5(n::text), '{}' "
            "FROM generate_series(1, 30000) AS n, (SELECT id FROM device WHERE code = :d) AS d, "
            "(SELECT min(id) AS id FROM person) AS p, (SELECT min(id) AS id FROM station) AS s"),
            {"d": device_code})
        connection.exec_driver_sql("ANALYZE checkin_event")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            f"EXPLAIN {sql}", tuple(params)))
        assert "Seq Scan on checkin_event" not in plan, plan
        assert "Index Scan using uq_checkin_event_event_id" in plan, plan
    db.session.rollback()


def test_a_devices_chain_is_read_through_its_seq_index(world, backend, make_device):
    """A device's page verifies its chain from what arrived since the last
    check (server/devices/chain.py): each of its reads must go through
    checkin_event's (device_id, seq) index and the quarantine's device_id
    index, never through a whole table of every device's events."""
    from server.devices import chain
    from server.devices.models import Device
    make_device()
    device_id = db.session.scalar(select(Device.id))
    statements = [chain.counts_query(device_id, 5000), chain.rows_query(device_id, 10, 5000),
                  chain.total_query(device_id, 5000)]
    statements += [chain.end_query(t, device_id, 10, 20000) for t in chain._TABLES]
    for statement in statements:
        plan = _plan(statement)
        assert "SCAN checkin_event" not in plan and "Seq Scan on checkin_event" not in plan, plan
        assert "SCAN quarantined_event" not in plan, plan
        assert "Seq Scan on quarantined_event" not in plan, plan
    for statement in statements[:3]:
        plan = _plan(statement)
        assert "ix_checkin_event_device_seq" in plan, plan
        assert "ix_quarantined_event_device_id" in plan, plan
    # Whether a version is an administrator's correction: probed by its id,
    # not through every resolved entry of every device for each row.
    plan = _plan(statements[1])
    assert "ix_quarantined_event_event_id" in plan and "ix_quarantined_event_status" not in plan
    db.session.rollback()


def test_a_pushs_code_look_ups_are_planned_for_their_codes(world, backend):
    """Each batch looks its people, stations and activities up by code
    (``= ANY(array)``). psycopg prepares a statement at its sixth use, and
    PostgreSQL may then plan it once for any array: on a district's small
    person table, a scan comparing each row with each code (8 ms a batch
    instead of 0.5 from the eleventh push on). The look-ups must stay
    unprepared, planned for the codes at hand, and find what they should."""
    from server.checkins.resolve import _PEOPLE_SQL, PersonRow, _by_code
    from server.common.rawsql import RawSql
    from server.people.models import Person
    raw = RawSql(db.session.connection())
    codes = set(db.session.scalars(select(Person.code)))
    expected = {code: PersonRow(db.session.scalar(select(Person.id).where(
        Person.code == code)), code) for code in codes}
    for _ in range(8):
        assert _by_code(raw, PersonRow, _PEOPLE_SQL, "code", codes) == expected
    if backend == "postgresql":
        def prepared_look_ups() -> list[str]:
            return [s for (s,) in raw.fetch("SELECT statement FROM pg_prepared_statements", [])
                    if "FROM person WHERE code" in s]
        assert prepared_look_ups() == []
        # What the test would see if they were prepared (it can fail):
        sql, params = raw.text_in("code", sorted(codes))
        for _ in range(8):
            raw.fetch(_PEOPLE_SQL.format(codes=sql), params)
        assert len(prepared_look_ups()) == 1
    db.session.rollback()
