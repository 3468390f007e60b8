#!/usr/bin/env python3
"""Benchmark the reports on a dataset from scripts/generate_city.py.

    .venv/bin/python scripts/bench_reports.py --database-url URL [--runs 20]
    .venv/bin/python scripts/bench_reports.py --database-url URL --http \\
        [--code /path/to/other/checkout ...] [--rounds 2] [--runs 20]

As the users who read them: a district committee's monthly report with
rollup; a branch's year by person; one person's record for a year (as a
secretary of the person's branch); a street's month as XLSX; the whole
city's monthly report for an administrator (every organisation, rolled up).
Every timed request must answer 200 with the expected content (rows, the
person's sessions, a workbook); anything else stops the run, so a figure
is never that of an error page. Prints p50 and p95 per report (goal:
reports under 100 ms p95, the export under 5 s).

In-process (the default): the Flask test client, the full request path,
then the console's pages as a district secretary and as the city's
administrator. With ``--http``: through gunicorn with
deploy/gunicorn.conf.py (its workers, hooks and ``gc.freeze()``), over
HTTP, as a client outside sees it: first the first twenty requests after
gunicorn starts (the district report), then each report warm. ``--code``
names checkouts to compare (A/B in one run, alternating, ``--rounds``
times); this checkout is always one of them, named "this".
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG, ROOT  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Answer(NamedTuple):
    status: int
    mimetype: str
    body: bytes


class Case(NamedTuple):
    name: str
    token: str
    url: str
    #: What a right answer holds, or raises; returns a short description.
    check: Callable[[Answer], str]


def user_for(organisation: str | None) -> tuple[str, str]:
    """A secretary of ``organisation`` (or an administrator): (user name, token)."""
    from server.auth.services import create_user, issue_api_token
    username = f"bench-{organisation or 'admin'}-{time.time_ns()}"
    grant = ({"role": "branch_secretary", "organisation": organisation} if organisation
             else {"role": "admin"})
    user = create_user("bench", {"username": username, "display_name": "bench",
                                 "password": "bench-password-1", "grants": [grant]})
    token, _ = issue_api_token(user)
    db.session.commit()
    return username, token


def token_for(organisation: str | None) -> str:
    return user_for(organisation)[1]


class WrongAnswer(SystemExit):
    pass


def _json(answer: Answer) -> dict:
    if answer.status != 200 or answer.mimetype != "application/json":
        raise WrongAnswer(f"HTTP {answer.status} {answer.mimetype}: {answer.body[:200]!r}")
    return json.loads(answer.body)


def report_rows(at_least: int) -> Callable[[Answer], str]:
    def check(answer: Answer) -> str:
        document = _json(answer)
        rows = document.get("rows")
        if not isinstance(rows, list) or len(rows) < at_least:
            raise WrongAnswer(f"rows: {len(rows) if isinstance(rows, list) else rows!r}, "
                              f"expected at least {at_least}")
        if "completeness" not in document or not {"code", "credited_seconds"} <= set(rows[0]):
            raise WrongAnswer(f"not a report: {sorted(document)}")
        return f"rows {len(rows)}, {len(answer.body) / 1e6:.1f} MB"
    return check


def record_of(person: str) -> Callable[[Answer], str]:
    def check(answer: Answer) -> str:
        document = _json(answer)
        sessions = document.get("sessions")
        if document.get("person", {}).get("code") != person or not sessions:
            raise WrongAnswer(f"not {person}'s record with sessions: {answer.body[:200]!r}")
        return f"sessions {len(sessions)}"
    return check


def workbook(at_least_rows: int) -> Callable[[Answer], str]:
    def check(answer: Answer) -> str:
        if answer.status != 200 or answer.mimetype != XLSX:
            raise WrongAnswer(f"HTTP {answer.status} {answer.mimetype}: {answer.body[:200]!r}")
        from openpyxl import load_workbook
        rows = load_workbook(io.BytesIO(answer.body), read_only=True).active.max_row - 2
        if rows < at_least_rows:
            raise WrongAnswer(f"workbook of {rows} rows")
        return f"rows {rows}"
    return check


def make_cases(app) -> tuple[list[Case], str]:
    """The timed requests, with tokens made in the dataset; and the
    district case's URL, timed first after a start."""
    from sqlalchemy import func, select

    from server.common.lookup import by_code
    from server.org.models import Organisation
    from server.people.models import Person
    month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    year = str(date.today().year - 1)
    with app.app_context():
        person = "P0000000"
        # The record is read by a secretary of the person's own branch: one
        # of another branch is answered 404 (until session 11 this case timed
        # that 404).
        home = by_code(Person, person).current_branch.code
        organisations = db.session.scalar(select(func.count()).select_from(Organisation))
        district, branch, street = token_for("D0-DW"), token_for("ZB0"), token_for("D0S0-DGW")
        own_branch, admin = token_for(home), token_for(None)
        db.session.remove()
        db.engine.dispose()  # a fresh pool for the timed requests
    cases = [
        Case("district committee, month, rollup", district,
             f"/api/v1/reports/service-hours?group_by=branch&rollup=true&month={month}",
             report_rows(1000)),
        Case("branch, year, by person", branch,
             f"/api/v1/reports/service-hours?group_by=person&year={year}", report_rows(10)),
        Case("one person's record, a year", own_branch,
             f"/api/v1/people/{person}/record?from={year}-01-01&to={year}-12-31",
             record_of(person)),
        Case("street, month, XLSX export", street,
             f"/api/v1/reports/service-hours?group_by=person&month={month}&format=xlsx",
             workbook(1000)),
        Case("whole city, month, rollup (administrator)", admin,
             f"/api/v1/reports/service-hours?group_by=branch&rollup=true&month={month}",
             # Every organisation with service in the month, or above one.
             report_rows(organisations * 99 // 100)),
    ]
    return cases, cases[0].url


def percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return (statistics.median(timings),
            timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))])


def timed(name: str, runs: int, request: Callable[[], Answer],
          check: Callable[[Answer], str], cpu: Callable[[], dict] | None = None
          ) -> tuple[float, ...]:
    """p50 and p95 of ``runs`` requests; with ``cpu`` (CPU seconds by
    program, as ``server_cpu`` reads them), also the server's and the
    database's CPU milliseconds per request, which a busy machine inflates
    far less than wall time."""
    timings = []
    cpu_before = cpu() if cpu else {}
    for _ in range(runs):
        started = time.perf_counter()
        answer = request()
        timings.append((time.perf_counter() - started) * 1000)
        what = check(answer)  # outside the timing, every run
    p50, p95 = percentiles(timings)
    line = f"{name:46s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms"
    if not cpu:
        print(f"{line}   {what}", flush=True)
        return p50, p95
    used = {k: (v - cpu_before[k]) * 1000 / runs for k, v in cpu().items()}
    print(f"{line}   CPU/request: server {used['server']:6.1f} ms, database "
          f"{used['database']:6.1f} ms   {what}", flush=True)
    return p50, p95, used["server"], used["database"]


# -- in-process ----------------------------------------------------------------------

def in_process(args) -> None:
    app = create_app({"DATABASE_URL": args.database_url, **BENCH_CONFIG,
                      "SESSION_COOKIE_SECURE": False})
    client = app.test_client()
    gc.freeze()  # as server/wsgi.py does after start-up
    cases, _ = make_cases(app)

    def requester(case: Case):
        def request() -> Answer:
            response = client.get(case.url, headers={"Authorization": f"Bearer {case.token}"})
            return Answer(response.status_code, response.mimetype, response.data)
        return request

    if args.profile:
        case = next(case for case in cases if args.profile in case.name)
        profile(case.name, args.runs, requester(case))
        return
    for case in cases:
        timed(case.name, args.runs, requester(case), case.check)
    console_pages(app, args.runs)


def console_pages(app, runs: int) -> None:
    with app.app_context():
        secretary, _ = user_for("D0-DW")
        admin, _ = user_for(None)
    for who, username in (("district secretary", secretary), ("city administrator", admin)):
        client = app.test_client()
        form = client.get("/console/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        response = client.post("/console/sign-in", data={
            "username": username, "csrf_token": csrf, "password": "bench-password-1"})
        if response.status_code != 302:
            raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
        for page, url in (("dashboard", "/console/"), ("review queue", "/console/review"),
                          ("review queue, page 50", "/console/review?page=50"),
                          ("people", "/console/people"), ("devices", "/console/devices")):
            def request(url=url) -> Answer:
                response = client.get(url)
                return Answer(response.status_code, response.mimetype, response.data)
            timed(f"console {page} ({who})", runs, request, _page)


def _page(answer: Answer) -> str:
    if answer.status != 200 or answer.mimetype != "text/html" or b"<table" not in answer.body:
        raise WrongAnswer(f"HTTP {answer.status} {answer.mimetype}: {answer.body[:200]!r}")
    return f"{len(answer.body) // 1000} kB"


def profile(name: str, runs: int, request) -> None:
    """One warm-up request, then ``runs`` under cProfile: the functions that
    took the time, by own time and by cumulative time."""
    request()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        request()
    profiler.disable()
    print(f"{name}: {runs} runs under cProfile")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


# -- through gunicorn -----------------------------------------------------------------

def http_get(base: str, url: str, token: str) -> Answer:
    request = urllib.request.Request(base + url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.headers.get_content_type(), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers.get_content_type(), error.read())


def _processes() -> list[tuple[int, int, int, float]]:
    """(pid, parent pid, process group, CPU seconds) of every process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            fields = stat[stat.rindex(")") + 2:].split()
            found.append((int(entry.name), int(fields[1]), int(fields[2]),
                          (int(fields[11]) + int(fields[12])) / ticks))
    return found


def server_cpu(gunicorn_group: int, postmaster: int | None) -> Callable[[], dict]:
    """CPU seconds so far of this gunicorn (its process group) and of the
    database's backends (children of ``postmaster``), not of other work on
    the machine. Linux only."""
    def read() -> dict:
        processes = _processes()
        return {"server": sum(c for _, _, group, c in processes if group == gunicorn_group),
                "database": sum(c for _, parent, _, c in processes
                                if postmaster is not None and parent == postmaster)}
    return read


class Gunicorn:
    """``gunicorn -c deploy/gunicorn.conf.py server.wsgi:app`` run from ``code``."""

    def __init__(self, code: Path, database_url: str, port: int, log: Path):
        self.code, self.port = code, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "BIND": f"127.0.0.1:{port}",
                    "SECRET_KEY": BENCH_CONFIG["SECRET_KEY"], "PYTHONPATH": str(code)}
        self.log = log

    def which_server(self) -> str:
        """Where ``server`` is imported from in this checkout's processes."""
        return subprocess.run(
            [sys.executable, "-c", "import server; print(server.__file__)"], cwd=self.code,
            env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def start(self) -> Gunicorn:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                 "--access-logfile", "/dev/null", "server.wsgi:app"], cwd=self.code,
                env=self.env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"gunicorn from {self.code} did not start; see {self.log}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def _round(server: Gunicorn, cases: list[Case], first_url: str, figures: dict,
           cpu: Callable[[], dict], runs: int) -> None:
    first = cases[0]
    figures.setdefault("first twenty after start (district)", []).append(timed(
        "first twenty after start (district)", 20,
        lambda: http_get(server.base, first_url, first.token), first.check, cpu))
    for case in cases:
        for _ in range(2):  # this case's own first requests, untimed
            case.check(http_get(server.base, case.url, case.token))
        figures.setdefault(case.name, []).append(timed(
            case.name, runs, lambda: http_get(server.base, case.url, case.token),
            case.check, cpu))


def through_gunicorn(args) -> None:
    from tests.live_server import free_port
    app = create_app({"DATABASE_URL": args.database_url, **BENCH_CONFIG})
    cases, first_url = make_cases(app)
    codes = {"this": ROOT, **{Path(c).name: Path(c).resolve() for c in args.code}}
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, list]] = {label: {} for label in codes}
    for round_ in range(args.rounds):
        order = list(codes.items())
        if round_ % 2:
            order.reverse()  # alternate which code runs first
        for label, code in order:
            server = Gunicorn(code, args.database_url, free_port(), logs / f"{label}.log")
            imported = server.which_server()
            if not imported.startswith(str(code)):
                raise SystemExit(f"{label}: server imported from {imported}, not {code}")
            print(f"-- round {round_ + 1}, {label} ({code})", flush=True)
            started = time.perf_counter()
            server.start()
            print(f"{'gunicorn start to ready':46s} {time.perf_counter() - started:8.2f} s",
                  flush=True)
            try:
                _round(server, cases, first_url, results[label],
                       server_cpu(server.process.pid, args.postmaster_pid), args.runs)
            finally:  # a wrong answer stops the run, and the server with it
                server.stop()
    print("\nsummary per round: p50 / p95 ms (server CPU + database CPU ms a request):")
    for name in results["this"]:
        print(f"  {name}")
        for label in codes:
            print(f"    {label:10s} " + ", ".join(
                f"{p50:.0f} / {p95:.0f} ({server:.0f} + {database:.0f})"
                for p50, p95, server, database in results[label][name]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", metavar="REPORT",
                        help="in-process: cProfile the runs of the first report whose name "
                             "contains this (e.g. district), print where the time went, "
                             "and stop")
    parser.add_argument("--http", action="store_true",
                        help="through gunicorn (deploy/gunicorn.conf.py) over HTTP")
    parser.add_argument("--code", action="append", default=[], metavar="CHECKOUT",
                        help="with --http: another checkout to compare (repeatable)")
    parser.add_argument("--rounds", type=int, default=2, help="with --http: A/B rounds")
    parser.add_argument("--logs", default="/tmp/bench-reports-logs",
                        help="with --http: where gunicorn's output goes")
    parser.add_argument("--postmaster-pid", type=int, default=None,
                        help="with --http: the PostgreSQL server's pid (first line of its "
                             "postmaster.pid), to count its backends' CPU")
    args = parser.parse_args()
    if args.http:
        through_gunicorn(args)
    else:
        in_process(args)


if __name__ == "__main__":
    main()
