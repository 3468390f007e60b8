"""Volunteer star levels (志愿者星级) from credited hours, on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest

from server.config import _star_level_hours
from server.people.star_levels import standing_of
from tests.conftest import auth
from tests.sync_helpers import at, batch, push, scan

THRESHOLDS = (100, 300, 600, 1000, 1500)


@pytest.mark.parametrize("hours, level, to_next", [
    (0, 0, 100), (99.9, 0, 0.1), (100, 1, 200), (599, 2, 1), (1500, 5, None), (4000, 5, None)])
def test_levels_at_the_national_thresholds(hours, level, to_next):
    standing = standing_of(int(hours * 3600), THRESHOLDS)
    assert (standing.star_level, standing.hours_to_next) == (level, to_next)


def test_districts_set_their_own_thresholds_and_nonsense_is_refused():
    assert _star_level_hours("50,100,200") == (50, 100, 200)
    assert _star_level_hours(None) == THRESHOLDS
    for wrong in ("100,50", "0,10", "a,b"):
        with pytest.raises(ValueError):
            _star_level_hours(wrong)


def test_credited_hours_only_make_the_stars(client, make_device, admin_token, app):
    app.config["STAR_LEVEL_HOURS"] = (3, 10)
    _, token = make_device()
    events = []
    for day in range(4):  # 4 x 1.5 h credited; one 13 h day waits for review
        start = at("2026-11-02 09:00") + timedelta(days=day)
        events += [scan("P-BA-1", "check_in", start),
                   scan("P-BA-1", "check_out", start + timedelta(hours=1.5))]
    long_day = at("2026-11-09 07:00")
    events += [scan("P-BA-1", "check_in", long_day),
               scan("P-BA-1", "check_out", long_day + timedelta(hours=13))]
    push(client, token, batch(events))
    person = client.get("/api/v1/people/P-BA-1", headers=auth(admin_token)).json
    assert (person["credited_hours_total"], person["star_level"]) == (6.0, 1)
    listed = {p["code"]: p for p in client.get("/api/v1/people", headers=auth(admin_token)).json}
    assert (listed["P-BA-1"]["star_level"], listed["P-BA-2"]["star_level"]) == (1, 0)
    # The volunteer reads it on their own phone.
    from server.common.lookup import by_code
    from server.devices.services import create_personal_device
    from server.extensions import db
    from server.people.models import Person
    _, phone = create_personal_device(by_code(Person, "P-BA-1"), "PHONE-STARS", "test")
    db.session.commit()
    me = client.get("/api/v1/volunteer/me", headers=auth(phone)).json
    assert (me["star_level"], me["credited_hours_total"]) == (1, 6.0)
    assert me["hours_to_next_star"] == 4.0
