"""The reference offline client: a local outbox, a sync loop, a command line.

Framework-free (standard library plus ``cryptography`` for QR checks), so a
kiosk or a script can embed it. See ``python -m sync.client --help``.
"""
from sync.client.engine import SyncClient, SyncError  # noqa: F401
from sync.client.store import LocalStore  # noqa: F401
