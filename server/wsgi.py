"""WSGI entry point: ``gunicorn server.wsgi:app``.

Web workers store scans and queue them for pairing; the pairing worker
(``flask --app server pairing worker``) runs beside them as a process of
its own (docs/deploy.md).
"""
import gc

from server import create_app

app = create_app()
# What start-up made lives as long as the worker. Frozen out of the cyclic
# collector's sight, a full collection scans only what requests allocate:
# it had scanned the app's 170,000 objects too, the spikes behind a
# district report's p95 (173 ms unfrozen, 74 ms frozen; docs/benchmarks.md).
gc.freeze()
