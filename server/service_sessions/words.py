"""What a session's evidence and flags mean, in the words a secretary reads
(zh-CN by default, English on request): the review queue, the session and
person pages show these beside the stable codes the API answers."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from sync import evidence

#: Evidence (sync/evidence.py), strongest first.
EVIDENCE = {
    evidence.STATION_DEVICE: _l("Recorded by the station's own tablet"),
    evidence.DISPLAY_CODE: _l("Scanned the changing code on the station's screen"),
    evidence.LOCATION: _l("Phone located inside the station's area"),
    evidence.SIGNED_CODE: _l("Scanned the station's printed code (a photo of it would do too)"),
    evidence.NONE: _l("Nothing proves the person was at the station"),
    evidence.ENTERED: _l("Entered afterwards by a secretary (补录)"),
}

#: Flags that send a session to review, as a sentence each.
FLAGS = {
    "unsigned_scan": _l("Scanned on a personal phone without the station's code"),
    "late_upload": _l("Reached the server more than a week after the scan"),
    "display_code_expired": _l("Scanned a station screen's code after it had changed: "
                               "a photo of the screen, or a wrong clock"),
    "bad_display_code": _l("A station screen's code that does not check out "
                           "(unknown or withdrawn screen, or altered)"),
    "revoked_qr": _l("Scanned an old or withdrawn code of the station"),
    "outside_geofence": _l("The phone was outside the station's area"),
    "clock_corrected": _l("The device's clock was wrong; the times were corrected"),
    "retroactive": _l("Entered afterwards (补录); someone else must approve it"),
    "over_daily_limit": _l("Past the day's limit (8 hours, or 3 pairs of one activity)"),
    "no_branch": _l("The person belonged to no branch that day"),
    "repeat_scan": _l("Scanned more than once within minutes"),
    # Patterns of faked hours (sync/fraud.py).
    "impossible_travel": _l("Scanned at two stations too far apart for the time between "
                            "the scans"),
    "overlapping_sessions": _l("Recorded at two stations at the same time"),
    "code_far_away": _l("Scanned the station's printed code far from the station (a shared "
                        "photo of it?)"),
    "backfilled_days": _l("Scans of several past days sent at once from a personal phone"),
}


def flag_sentence(flag: str):
    return FLAGS.get(flag, flag)
