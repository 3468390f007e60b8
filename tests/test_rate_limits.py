"""Sign-in rate limits per client address: the forwarded address counts only
behind configured proxies, and the limit holds across workers and app
servers that share the store (a real Redis, real gunicorns)."""
from __future__ import annotations

import http.client
import itertools
import json

import pytest

from server import create_app
from tests.conftest import config_for_tests

LIMIT = 3


def _app(database_urls, **config):
    return create_app(config_for_tests(database_urls("sqlite"), RATELIMIT_ENABLED=True,
                                       LOGIN_RATE_LIMIT=f"{LIMIT} per minute", **config))


def _sign_ins(client, forwarded_for: list[str | None]) -> list[int]:
    """One wrong sign-in per entry, with that X-Forwarded-For (None: none)."""
    statuses = []
    for value in forwarded_for:
        headers = {"X-Forwarded-For": value} if value else {}
        statuses.append(client.post("/api/v1/auth/token", headers=headers, json={
            "username": "nobody", "password": "wrong-password"}).status_code)
    return statuses


def test_without_trusted_proxies_a_forwarded_address_is_ignored(database_urls):
    """A client that writes a new X-Forwarded-For on every try is still one address."""
    client = _app(database_urls).test_client()
    spoofed = [f"198.51.100.{n}" for n in range(LIMIT + 3)]
    assert _sign_ins(client, spoofed) == [401] * LIMIT + [429] * 3


def test_behind_a_proxy_each_client_address_counts_alone(database_urls):
    client = _app(database_urls, PROXY_FIX_X_FOR=1).test_client()
    assert _sign_ins(client, ["198.51.100.7"] * (LIMIT + 1)) == [401] * LIMIT + [429]
    # Another client behind the same proxy is not locked out by the first.
    assert _sign_ins(client, ["203.0.113.9"]) == [401]
    # What the client wrote before the proxy's own entry does not count:
    # the proxy appended the real address last.
    assert _sign_ins(client, ["192.0.2.1, 198.51.100.7", "192.0.2.2, 198.51.100.7"]) == [429] * 2


def test_the_console_sign_in_counts_per_forwarded_address_too(database_urls):
    from tests.console_client import csrf_token
    client = _app(database_urls, PROXY_FIX_X_FOR=1).test_client()

    def attempt(address):
        token = csrf_token(client.get("/console/sign-in").get_data(as_text=True))
        return client.post("/console/sign-in", headers={"X-Forwarded-For": address}, data={
            "username": "nobody", "password": "wrong", "csrf_token": token}).status_code

    assert [attempt("198.51.100.7") for _ in range(LIMIT + 1)] == [401] * LIMIT + [429]
    assert attempt("203.0.113.9") == 401


def test_a_negative_proxy_count_is_refused_at_start(database_urls):
    with pytest.raises(ValueError, match="PROXY_FIX_X_FOR"):
        _app(database_urls, PROXY_FIX_X_FOR=-1)


def test_an_unreachable_store_falls_back_to_counting_in_the_process(database_urls):
    """Sign-ins still answer (and are still limited) while Redis is down."""
    from tests.live_server import free_port
    client = _app(database_urls, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0"
                  ).test_client()
    assert _sign_ins(client, [None] * (LIMIT + 1)) == [401] * LIMIT + [429]


# -- several processes -----------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_store():
    from tests.redis_server import RedisServer, find_redis_server
    binary = find_redis_server()
    if binary is None:
        pytest.skip("no redis-server (scripts/test.py installs Debian's redis-server)")
    server = RedisServer(binary).start()
    yield server
    server.stop()


def _post_on_new_connection(server, forwarded_for: str) -> int:
    """One wrong sign-in on a connection of its own, so that the gunicorn
    master's workers take turns accepting them."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", "/api/v1/auth/token",
                           body=json.dumps({"username": "nobody", "password": "wrong"}),
                           headers={"Content-Type": "application/json",
                                    "X-Forwarded-For": forwarded_for})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.slow
# The store is Redis whatever the database; PostgreSQL is the deployment's.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_limit_holds_across_workers_and_app_servers(live, redis_store):
    """Two app servers of two workers each, as behind nginx's upstream, on
    one Redis: 5 sign-ins a minute from one address in all, not 5 per process
    (with the per-process store, 18 of 24 went through)."""
    redis_store.flush()
    limit = 5
    settings = {"RATELIMIT_STORAGE_URI": redis_store.url,
                "LOGIN_RATE_LIMIT": f"{limit} per minute"}
    servers = [live(workers=2, **settings), live(workers=2, **settings)]
    attempts = 4 * limit
    statuses = [_post_on_new_connection(server, f"198.51.100.{n}")
                for n, server in zip(range(attempts), itertools.cycle(servers))]
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == attempts - limit


def _gunicorn_settings(monkeypatch, **env):
    import runpy
    from pathlib import Path
    for name in ("RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(__file__).parent.parent / "deploy" / "gunicorn.conf.py"))


def test_the_shipped_gunicorn_settings_refuse_several_workers_on_a_per_process_store(
        monkeypatch):
    with pytest.raises(SystemExit, match="RATELIMIT_STORAGE_URI"):
        _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="3")
    with pytest.raises(SystemExit, match="RATELIMIT_STORAGE_URI"):
        _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="3",
                           RATELIMIT_STORAGE_URI="memory://")
    shared = _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="3",
                                RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    assert shared["workers"] == 3
    assert _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="1")["workers"] == 1
