"""The framework-free sync core: protocol types, QR signatures, clock
correction, pairing of events into sessions, cursors and the reference client.

Nothing here imports Flask or ``server``; the server depends on this package.
"""
