"""gunicorn settings for production: ``gunicorn -c deploy/gunicorn.conf.py server.wsgi:app``.

App servers are stateless: run as many as needed behind the proxy, all on
one PostgreSQL, with RATELIMIT_STORAGE_URI pointing at a shared store (Redis)
and PROXY_FIX_X_FOR=1 behind the one nginx (docs/deploy.md).
"""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
#: Pushes are database-bound: two processes per core keep both busy.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "sync"

#: Rate limits (sign-in, enrolment, pushes) count in RATELIMIT_STORAGE_URI. A
#: per-process store would let each worker take the whole limit (three workers:
#: 30 sign-ins a minute instead of 10), so more than one worker needs a shared one.
_rate_limit_store = os.environ.get("RATELIMIT_STORAGE_URI", "thread-safe-memory://")
if workers > 1 and _rate_limit_store.split(":", 1)[0] in ("memory", "thread-safe-memory"):
    raise SystemExit(
        f"RATELIMIT_STORAGE_URI is {_rate_limit_store!r}, kept in each worker's memory: "
        f"{workers} workers would each let the whole sign-in limit through. Point it at "
        "a store they share (RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0, "
        "docs/deploy.md), or run one worker (WEB_CONCURRENCY=1).")
#: A 2 MiB push of 1,000 events takes well under a second; 60 s is a stuck worker.
timeout = 60
graceful_timeout = 30
keepalive = 5
#: Recycle workers now and then, so no slow leak can grow for weeks.
max_requests = 5000
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
#: Trust X-Forwarded-Proto only from the local reverse proxy. The client's
#: address (X-Forwarded-For) is the app's to read: PROXY_FIX_X_FOR=1 behind nginx.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
#: No client address and no query string: they can carry personal data.
access_log_format = '{"t":"%(t)s","method":"%(m)s","path":"%(U)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s}'
errorlog = "-"
loglevel = "info"


def post_worker_init(worker):
    """Before a worker accepts its first request, run a representative
    report once (server/reports/warmup.py): its connection, compiled
    statements and the database's catalogue are then ready, and the first
    requests after a start or a recycle (max_requests) cost what later ones
    do. Then freeze again what the warm-up left (as server/wsgi.py does
    after start-up), so the garbage collector does not scan it."""
    import gc

    from flask import Flask

    from server.reports.warmup import warm_up
    if isinstance(worker.wsgi, Flask):  # not gunicorn's error app after a failed import
        warm_up(worker.wsgi)
        gc.freeze()
