"""Values as secretaries' spreadsheets write them, in Chinese, to the codes
the API takes: an import of 党员 is an import of ``party_member``."""
from __future__ import annotations

from server.people.models import PERSON_KIND_LABELS
from server.stations.models import STATION_KINDS

#: Import kind -> column -> written value -> code. Codes themselves pass as they are.
VALUE_ALIASES = {
    "people": {"kind": {
        **{label: code for code, label in PERSON_KIND_LABELS.items()},
        # How rosters also write a party member who is a registered volunteer.
        "党员、志愿者": "both", "党员/志愿者": "both", "党员+志愿者": "both",
    }},
    "stations": {"kind": {label: code for code, label in STATION_KINDS.items()}},
}


def translate(kind: str, row: dict) -> dict:
    """``row`` with its Chinese values replaced by their codes (unknown values
    are left for the schema to refuse, naming the values it takes)."""
    aliases = VALUE_ALIASES.get(kind, {})
    return {column: aliases.get(column, {}).get(value, value) for column, value in row.items()}
