"""Recording what devices must pull, automatically, whenever the ORM writes.

A ``before_flush`` hook notes every new or changed station, person,
membership (its person), activity, signing key and station display; a ``before_commit`` hook
then takes the counter row's lock, numbers the notes and inserts them. The
lock is held until the commit ends, so numbers are handed out in commit order.
"""
from __future__ import annotations

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from server.db_types import utcnow
from server.sync_feed.models import SyncChange, SyncCounter

_NOTES = "sync_feed_changes"


def _entity_of(obj) -> tuple[str, str] | None:
    from server.activities.models import Activity
    from server.displays.models import StationDisplay
    from server.org.models import Membership
    from server.people.models import Person
    from server.qr.models import SigningKey
    from server.stations.models import Station
    if isinstance(obj, Station):
        return "station", obj.code
    if isinstance(obj, Person):
        return "person", obj.code
    if isinstance(obj, Membership):
        # A new membership of a new or changed person is noted through the
        # person (its collection changed); an edited one is looked up.
        if obj.person_id is None:
            return None
        session = Session.object_session(obj)
        with session.no_autoflush:
            person = session.get(Person, obj.person_id)
        return ("person", person.code) if person is not None else None
    if isinstance(obj, Activity):
        return "activity", obj.code
    if isinstance(obj, SigningKey):
        return "signing_key", obj.key_id
    if isinstance(obj, StationDisplay):
        return "display", obj.code
    return None


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, flush_context, instances) -> None:
    notes = session.info.setdefault(_NOTES, set())
    for obj in list(session.new) + list(session.dirty):
        if obj in session.dirty and not session.is_modified(obj):
            continue
        entity = _entity_of(obj)
        if entity is not None:
            notes.add(entity)


def note_for_pull(entities: set[tuple[str, str]]) -> None:
    """Note ``(entity, code)`` pairs that changed in a way the ORM does not
    see (a device's scope), numbered with the rest at commit."""
    from server.extensions import db
    db.session.info.setdefault(_NOTES, set()).update(entities)


@event.listens_for(Session, "before_commit")
def _number_changes(session: Session) -> None:
    session.flush()
    notes = session.info.pop(_NOTES, None)
    if not notes:
        return
    connection = session.connection()
    counter = SyncCounter.__table__
    top = connection.execute(update(counter).where(counter.c.id == 1)
                             .values(value=counter.c.value + len(notes))
                             .returning(counter.c.value)).scalar()
    if top is None:
        connection.execute(insert(counter).values(id=1, value=len(notes)))
        top = len(notes)
    now = utcnow()
    connection.execute(insert(SyncChange.__table__), [
        {"seq": top - len(notes) + n + 1, "entity": entity, "code": code, "changed_at": now}
        for n, (entity, code) in enumerate(sorted(notes))])


@event.listens_for(Session, "after_rollback")
def _forget_notes(session: Session) -> None:
    session.info.pop(_NOTES, None)


def latest_seq(session: Session) -> int:
    return session.scalar(select(SyncCounter.value).where(SyncCounter.id == 1)) or 0
