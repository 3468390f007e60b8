"""The rollup of report figures up the organisation tree (server/reports/
services.py ``_roll_up``) against its definition, on random trees: a
node's figures are its own plus its whole subtree's, for every node the
caller may see; a person who served at several nodes counts once in each
node above more than one of them."""
from __future__ import annotations

import random

import pytest

from server.reports.services import _roll_up
from server.totals.figures import Figures


def _tree(rng: random.Random) -> dict[str, str]:
    """code -> materialised path, up to four levels, several roots."""
    paths: dict[str, str] = {}
    for n in range(rng.randint(1, 60)):
        parent = rng.choice([None, *paths]) if paths else None
        code = f"N{n}"
        base = paths[parent] if parent and paths[parent].count("/") < 5 else "/"
        paths[code] = f"{base}{code}/"
    return paths


def _by_definition(figures, movers, paths, names):
    rows = []
    for code in sorted(names):
        prefix = next(p for p in paths.values() if p.endswith(f"/{code}/"))
        inside = [m for m in figures if paths[m].startswith(prefix)]
        if not inside:
            continue
        people = sum(figures[m].people for m in inside)
        for members in movers.values():
            people -= max(0, len([m for m in members if m in inside]) - 1)
        credited, reviewed, entered = (
            sum(getattr(figures[m], f"{kind}_seconds") for m in inside)
            for kind in ("credited", "reviewed", "entered"))
        rows.append({"code": code, "name": names[code], "credited_seconds": credited,
                     "pending_seconds": sum(figures[m].pending_seconds for m in inside),
                     "proven_seconds": credited - reviewed - entered,
                     "reviewed_seconds": reviewed, "entered_seconds": entered,
                     "sessions": sum(figures[m].sessions for m in inside), "people": people})
    return rows


@pytest.mark.parametrize("seed", range(200))
def test_each_node_holds_its_subtree_once(seed):
    rng = random.Random(seed)
    codes = _tree(rng)
    ids = {code: n for n, code in enumerate(codes)}
    paths = {ids[code]: path for code, path in codes.items()}
    figures = {}
    for code in rng.sample(list(codes), rng.randint(1, len(codes))):
        credited = rng.randint(0, 10**6)
        reviewed = rng.randint(0, credited)
        figures[ids[code]] = Figures(credited, rng.randint(0, 10**5), reviewed,
                                     rng.randint(0, credited - reviewed),
                                     rng.randint(1, 50), rng.randint(3, 40))
    movers = {("p", n): rng.sample(list(figures), min(len(figures), rng.randint(2, 3)))
              for n in range(rng.randint(0, 3))}
    movers = {key: members for key, members in movers.items() if len(members) > 1}
    names = {code: f"名{code}" for code in codes if rng.random() < 0.8}
    assert _roll_up(figures, movers, paths, names) == _by_definition(
        figures, movers, {ids[c]: p for c, p in codes.items()}, names)
