"""Random bearer tokens, stored only as their SHA-256.

Tokens carry 256 bits of entropy, so a fast unsalted hash cannot be reversed
by guessing; it lets the server find a token by hash in one index look-up.
"""
from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    """A fresh token; the prefix (``usr_``, ``dev_``, ``enr_``) tells kinds apart in logs."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
