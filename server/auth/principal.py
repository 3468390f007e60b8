"""Who is calling: a user with role grants, or a device, or nobody."""
from __future__ import annotations

from dataclasses import dataclass, field

from server.auth.models import User


@dataclass
class Principal:
    """A signed-in user and the subtrees their grants cover."""

    user: User
    is_admin: bool = False
    #: Materialised paths of the areas an area administrator covers.
    area_paths: list[str] = field(default_factory=list)
    #: Paths of the organisations a branch secretary covers.
    organisation_paths: list[str] = field(default_factory=list)
    #: Ids of the stations a station manager covers.
    station_ids: list[int] = field(default_factory=list)
    #: Answers worked out once per request (a principal lives for one).
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, user: User) -> Principal:
        principal = cls(user=user)
        for grant in user.grants:
            if grant.role == "admin":
                principal.is_admin = True
            elif grant.role == "area_admin" and grant.area is not None:
                principal.area_paths.append(grant.area.path)
            elif grant.role == "branch_secretary" and grant.organisation is not None:
                principal.organisation_paths.append(grant.organisation.path)
            elif grant.role == "station_manager" and grant.station_id is not None:
                principal.station_ids.append(grant.station_id)
        return principal

    @property
    def actor(self) -> str:
        return f"user:{self.user.username}"

    @property
    def roles(self) -> set[str]:
        return {grant.role for grant in self.user.grants}

    def covers_area_path(self, path: str | None) -> bool:
        return path is not None and any(path.startswith(p) for p in self.area_paths)

    def covers_organisation_path(self, path: str | None) -> bool:
        return path is not None and any(path.startswith(p) for p in self.organisation_paths)
