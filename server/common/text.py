"""Text that both databases can store.

JSON may carry a lone UTF-16 surrogate (``"\\ud800"``): Python decodes it
into a string that has no UTF-8 form, so neither database driver can send
it, and PostgreSQL also refuses U+0000 (SQLite keeps it). Input is checked
with these before it is stored; nothing unstorable reaches a statement.
"""
from __future__ import annotations

import json
import re

#: A ``\\uD800``-``\\uDFFF`` escape in JSON text: the only way a lone
#: surrogate arrives (raw UTF-8 cannot encode one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]", re.ASCII)


def encodable(text: str) -> bool:
    """``text`` has a UTF-8 form (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> bool:
    """``text`` can be stored in a text column of either database."""
    return "\x00" not in text and encodable(text)


def json_has_lone_surrogate(body: bytes, value) -> bool:
    """Whether ``value``, parsed from the JSON ``body``, holds a lone
    surrogate in a key or a string. A body without such an escape is
    answered at once; only one with it is walked."""
    if not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
