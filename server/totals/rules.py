"""What the service totals count, shared by the triggers of both databases
and the rebuild: a session's period keys, and whether it counts at all."""
from __future__ import annotations

from server.service_sessions.status import REJECTED

#: The triggers on service_session, the same names on both databases.
TRIGGER_NAMES = ("service_totals_insert", "service_totals_delete", "service_totals_update")

#: Period keys of a date column, per dialect: month, quarter, year.
PERIODS = {
    "sqlite": ("substr({d}, 1, 7)",
               "substr({d}, 1, 4) || '-Q' || ((CAST(substr({d}, 6, 2) AS INTEGER) + 2) / 3)",
               "substr({d}, 1, 4)"),
    "postgresql": ("to_char({d}, 'YYYY-MM')", "to_char({d}, 'YYYY-\"Q\"Q')",
                   "to_char({d}, 'YYYY')"),
}

#: A session counts for a branch's totals when it has a branch and counts at
#: all (``server.service_sessions.status.counts``: not rejected).
COUNTED = "{r}.branch_id IS NOT NULL AND {r}.status <> '%s'" % REJECTED


def period_expressions(dialect: str, date_column: str) -> list[str]:
    return [p.format(d=date_column) for p in PERIODS[dialect]]


#: The seconds a session adds to its branch's figures, summed alike by the
#: triggers: what it credits, what waits for review, and of what it credits,
#: the part a reviewer approved and the part entered afterwards (补录; the
#: rest was proven by scans alone: docs/trust.md).
SUMMED = ("credited_seconds", "pending_seconds", "reviewed_seconds", "entered_seconds")
