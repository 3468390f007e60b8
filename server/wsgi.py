"""WSGI entry point: ``gunicorn server.wsgi:app``.

Imported in each worker (gunicorn does not preload by default), so each
worker runs its own pairing sweeper.
"""
from server import create_app
from server.service_sessions.pairing_queue import start_sweeper

app = create_app()
start_sweeper(app)
