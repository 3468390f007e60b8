"""Time-ordered event ids (UUID version 7).

Ids that grow with time keep the server's unique index append-mostly, which
is several times cheaper than random UUIDs (docs/benchmarks.md, "Building blocks").
"""
from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    millis = time.time_ns() // 1_000_000
    value = (millis & (2**48 - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & (2**80 - 1)
    value &= ~(0xF << 76)
    value |= 0x7 << 76          # version 7
    value &= ~(0x3 << 62)
    value |= 0x2 << 62          # RFC 4122 variant
    return str(uuid.UUID(int=value))
