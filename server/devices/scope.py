"""What a device may record for and pull: one rule, for the push and the pull
(docs/sync-protocol.md, "Scope").

A personal phone records only for its own person, at any active station. A
station tablet or an organisation's device records at its own stations, at
stations hosted by its organisations (and their subtrees), and for members
of those organisations. It pulls what it may record for, and besides the
members and activities of the organisations hosting its own stations, so a
station's tablet knows the local volunteers' names offline.

Organisations are compared by materialised path (``/CODE/CHILD/``), so a
subtree is a prefix and no expansion into ids is needed.
"""
from __future__ import annotations

from server.common.rawsql import RawSql
from server.extensions import db

#: A device's stations with their hosts' paths, and the paths of the
#: organisations it serves, in one round trip.
_SCOPE_SQL = ("SELECT d.station_id, host.path, NULL FROM device_station AS d "
              "JOIN station AS s ON s.id = d.station_id "
              "LEFT JOIN organisation AS host ON host.id = s.host_organisation_id "
              "WHERE d.device_id = {mark} "
              "UNION ALL SELECT NULL, NULL, o.path FROM device_organisation AS d "
              "JOIN organisation AS o ON o.id = d.organisation_id WHERE d.device_id = {mark}")


def _under(path: str | None, prefixes) -> bool:
    return path is not None and any(path.startswith(p) for p in prefixes)


class DeviceScope:
    """A device's scope, read once (a scope taken before a change still
    answers for the scope before it)."""

    def __init__(self, device):
        #: The person of a personal phone; None for any other device.
        self.person_id = device.person_id
        self.station_ids: set[int] = set()
        #: Paths of the organisations the device serves.
        self.organisation_paths: list[str] = []
        #: Paths of the organisations hosting its own stations.
        self.host_paths: list[str] = []
        raw = RawSql(db.session.connection())
        for station_id, host_path, organisation_path in raw.fetch(
                _SCOPE_SQL.format(mark=raw.mark), [device.id, device.id]):
            if station_id is not None:
                self.station_ids.add(station_id)
                if host_path is not None:
                    self.host_paths.append(host_path)
            else:
                self.organisation_paths.append(organisation_path)

    @property
    def serves_organisations(self) -> bool:
        return bool(self.organisation_paths)

    def records(self, person_id: int, branch_path: str | None, station_id: int,
                host_path: str | None) -> bool:
        """May the device record this person at this station?"""
        if self.person_id is not None:
            return person_id == self.person_id
        return (station_id in self.station_ids
                or _under(host_path, self.organisation_paths)
                or _under(branch_path, self.organisation_paths))

    def pulls_station(self, station_id: int, host_path: str | None, active: bool) -> bool:
        if self.person_id is not None:
            return active  # a personal phone checks in at any active station
        return station_id in self.station_ids or _under(host_path, self.organisation_paths)

    def pulls_person(self, person_id: int, branch_path: str | None) -> bool:
        if self.person_id is not None:
            return person_id == self.person_id
        return _under(branch_path, self.organisation_paths + self.host_paths)

    def pulls_activity(self, station_id: int, organisation_path: str | None) -> bool:
        if self.person_id is not None:
            return False
        return (station_id in self.station_ids
                or _under(organisation_path, self.organisation_paths + self.host_paths))

    def pulled_organisation_paths(self) -> list[str]:
        """The subtrees whose members and activities the device may pull."""
        return [] if self.person_id is not None else self.organisation_paths + self.host_paths
