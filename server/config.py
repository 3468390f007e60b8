"""Configuration read from the environment, with safe defaults.

Every setting can be overridden by the mapping passed to ``create_app`` (tests
do this). Nothing secret has a default in the code: the secret key is
generated once and kept in the instance folder.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

#: Settings that are plain numbers in the environment.
_INT_SETTINGS = (
    "PUSH_MAX_EVENTS",
    "PUSH_MAX_BYTES",
    "PULL_MAX_LIMIT",
    "CLOCK_TOLERANCE_S",
    "DEBOUNCE_S",
    "MAX_SESSION_S",
    "DAILY_REVIEW_S",
    "DAILY_PAIRS_PER_ACTIVITY",
    "ENROLMENT_TTL_S",
    "API_TOKEN_TTL_S",
    "FUTURE_TOLERANCE_S",
    "MAX_EVENT_AGE_DAYS",
    "LATE_SCAN_REVIEW_DAYS",
    "FRAUD_TRAVEL_MIN_M",
    "FRAUD_MAX_SPEED_KMH",
    "FRAUD_SHARED_CODE_M",
    "FRAUD_BACKFILL_DAYS",
    "PAIRING_HOLD_S",
    "PAIRING_BEAT_S",
    "PAIRING_WORKER_STALE_S",
    "PAIRING_LAG_ALERT_S",
    "PROXY_FIX_X_FOR",
)

#: Settings that are numbers with a fraction.
_FLOAT_SETTINGS = ("PAIRING_POLL_S", "PAIRING_GATHER_S")


#: Hours for one to five stars (志愿者星级): the national registered-volunteer
#: rules' 100, 300, 600, 1,000 and 1,500 (server/people/star_levels.py).
DEFAULT_STAR_LEVEL_HOURS = (100, 300, 600, 1000, 1500)


def _star_level_hours(text: str | None) -> tuple[int, ...]:
    """``STAR_LEVEL_HOURS`` ("100,300,600,1000,1500") as increasing hours.

    :raise ValueError: not increasing positive whole hours.
    """
    if not text:
        return DEFAULT_STAR_LEVEL_HOURS
    values = tuple(int(part) for part in text.split(","))
    if values[0] <= 0 or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"STAR_LEVEL_HOURS must be increasing positive hours, not {text!r}")
    return values


def load_config(instance_path: str) -> dict:
    """Build the configuration mapping from the environment.

    :param instance_path: the Flask instance folder, created if absent; it
        holds the SQLite default database and the generated secret key.
    """
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    config = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL")
            or f"sqlite:///{Path(instance_path) / 'stations.db'}"
        ),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _instance_secret(instance_path),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "TIME_ZONE": "Asia/Shanghai",
        # Sync contract defaults (sync-protocol.md).
        "PUSH_MAX_EVENTS": 1000,
        "PUSH_MAX_BYTES": 2 * 1024 * 1024,
        "PULL_MAX_LIMIT": 1000,
        "CLOCK_TOLERANCE_S": 120,
        "DEBOUNCE_S": 600,
        "MAX_SESSION_S": 12 * 3600,
        #: A person's hours of a day credited without review; past them, to
        #: review (docs/domain.md, rule 3: 8 h at once, 8-12 h by the organisation).
        #: 0 turns the limit off.
        "DAILY_REVIEW_S": 8 * 3600,
        #: Check-in/out pairs of one activity a day credited without review
        #: (docs/domain.md, rule 3: at most 3). 0 turns the limit off.
        "DAILY_PAIRS_PER_ACTIVITY": 3,
        "FUTURE_TOLERANCE_S": 24 * 3600,
        "MAX_EVENT_AGE_DAYS": 400,
        #: A personal phone's scan that reaches the server this many days
        #: after it was made waits for review (docs/trust.md).
        "LATE_SCAN_REVIEW_DAYS": 7,
        # Patterns of faked hours (sync/fraud.py, docs/pairing.md section 4);
        # each flag sends the session to review. A change applies to what is
        # paired (or, for the two event flags, pushed) afterwards.
        #: Impossible travel: consecutive scans of a person at stations more
        #: than this many metres apart (nearer ones never count: neighbouring
        #: stations, GPS noise) ...
        "FRAUD_TRAVEL_MIN_M": 2000,
        #: ... and faster than this (km/h; a car across town) between them. 0: off.
        "FRAUD_MAX_SPEED_KMH": 80,
        #: A personal phone's scan of the printed signed code with a location
        #: fix this many metres beyond the station (its accuracy granted):
        #: a photo of the poster scanned elsewhere. 0: off.
        "FRAUD_SHARED_CODE_M": 1000,
        #: A personal phone's batch of late scans (LATE_SCAN_REVIEW_DAYS) of
        #: this many distinct dates or more: a backfill. 0: off.
        "FRAUD_BACKFILL_DAYS": 3,
        #: How long a device's batches wait for the rest of its backlog
        #: before their sessions are paired anyway (server/pairing/queue.py).
        "PAIRING_HOLD_S": 10,
        #: SQLite: how often the pairing worker looks at its queue
        #: (PostgreSQL wakes it by NOTIFY). server/pairing/worker.py.
        "PAIRING_POLL_S": 0.25,
        #: PostgreSQL: how long the pairing worker gathers wake-ups before it
        #: drains, so that scans arriving together are paired in one
        #: transaction rather than one each (at 100 scans a second, about
        #: five a drain). Added to the time until a scan counts.
        "PAIRING_GATHER_S": 0.05,
        #: How often a pairing worker says it is alive (and, on PostgreSQL,
        #: looks at its queue without a wake-up).
        "PAIRING_BEAT_S": 5,
        #: A worker silent this long is taken as stopped (dashboard, /health/pairing).
        "PAIRING_WORKER_STALE_S": 30,
        #: Ready scans waiting longer than this make /health/pairing answer 503.
        "PAIRING_LAG_ALERT_S": 60,
        "ENROLMENT_TTL_S": 7 * 24 * 3600,
        "API_TOKEN_TTL_S": 30 * 24 * 3600,
        "PUSH_RATE_LIMIT": os.environ.get("PUSH_RATE_LIMIT", "120 per minute"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        #: Per address: device enrolment and volunteers binding a phone.
        "ENROL_RATE_LIMIT": os.environ.get("ENROL_RATE_LIMIT", "20 per minute"),
        #: Per process: several workers or app servers share one instead
        #: (redis://, docs/deploy.md), or each lets the whole limit through.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI",
                                                "thread-safe-memory://"),
        #: While the shared store does not answer, each process counts alone
        #: (and logs it) rather than failing every limited request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        #: How many reverse proxies append to X-Forwarded-For in front of the
        #: app (deploy/nginx.conf.example: 1). 0: the header is the client's
        #: own to write and is ignored; the peer address is the client.
        "PROXY_FIX_X_FOR": 0,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Admin API bodies; the push endpoint has its own, larger limit.
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "1") != "0",
        "JSON_AS_ASCII": False,
        #: werkzeug's method string; scrypt is memory-hard. Tests lower it for speed.
        "PASSWORD_HASH_METHOD": "scrypt",
        # Bearer-token APIs need no CSRF token; the console's blueprint checks
        # it on every form itself (server/console).
        "WTF_CSRF_CHECK_DEFAULT": False,
    }
    config["STAR_LEVEL_HOURS"] = _star_level_hours(os.environ.get("STAR_LEVEL_HOURS"))
    for name in _INT_SETTINGS:
        if name in os.environ:
            config[name] = int(os.environ[name])
    for name in _FLOAT_SETTINGS:
        if name in os.environ:
            config[name] = float(os.environ[name])
    return config


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance_path: str) -> str:
    """Return the secret kept in the instance folder, creating it once."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
