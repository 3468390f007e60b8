"""WSGI entry point: ``gunicorn server.wsgi:app``.

Imported in each worker (gunicorn does not preload by default), so each
worker runs its own pairing sweeper.
"""
import gc

from server import create_app
from server.service_sessions.pairing_queue import start_sweeper

app = create_app()
start_sweeper(app)
# What start-up made lives as long as the worker. Frozen out of the cyclic
# collector's sight, a full collection scans only what requests allocate:
# it had scanned the app's 170,000 objects too, the spikes behind a
# district report's p95 (173 ms unfrozen, 74 ms frozen; docs/benchmarks.md).
gc.freeze()
