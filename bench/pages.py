"""The web pages' server time on the demo engagement: median and p99 per page, against 300 ms.

The app runs in-process on the embedded store (SQLite) with the demo seeded; a timing wrapper
around it measures each request from its arrival to the last byte of the answer: the server's
time, without the client's. Pages take turns, round after round, so that each meets the same
machine. The first request to each page (``first``) is shown apart: it includes importing
matplotlib and drawing the charts, which later requests take from the chart cache. The chart
drawing itself is timed too, to show what the cache saves.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from time import perf_counter

from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.demo import CODE, seed_demo
from api.http.app import create_app
from api.http.auth import Role
from api.http.settings import HttpSettings
from bench import report
from bench.timing import at_least
from domain.store import sqlite_env
from projections.db import ProjectionDB
from projections.slips import attributed, series_of, slip_history
from projections.status import engagement_status

TARGET_MS = 300.0
E = f"/ui/engagements/{CODE}"
PAGES = {
    "portfolio": "/ui",
    "status": E,
    "slip timeline": f"{E}/slips",
    "change log": f"{E}/changelog",
    "audit view": f"{E}/audit",
    "audit view as of v25": f"{E}/audit?version=25",
    "record a change": f"{E}/record",
    "MTA chart (PNG)": f"{E}/slips/mta.png",
    "change log (CSV)": f"{E}/changelog.csv",
    "change-log bundle": f"{E}/bundle",
}


class Timed:
    """ASGI wrapper: the server time of the last request, from arrival to the answer's last byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.last = app, 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = perf_counter()

        async def timed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = perf_counter() - start

        await self.app(scope, receive, timed)


def _get(http: TestClient, timed: Timed, path: str) -> float:
    response = http.get(path, headers={"Accept": "text/html"})
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return timed.last


def _measure(
    http: TestClient, timed: Timed, requests: int, rounds: int
) -> dict[str, tuple[float, list[float]]]:
    """Each page's first server time, then ``requests`` more taken in ``rounds`` interleaved rounds."""
    first = {name: _get(http, timed, path) for name, path in PAGES.items()}
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    for _ in range(rounds):
        for name, path in PAGES.items():
            times[name] += [_get(http, timed, path) for _ in range(max(1, requests // rounds))]
    return {name: (first[name], times[name]) for name in PAGES}


def _drawing_ms(db: ProjectionDB, repeats: int = 5) -> float:
    """What the slip timeline would cost without the cache: its four SVGs drawn anew."""
    from api.http.ui import drawing

    status = engagement_status(db, CODE)
    assert status is not None
    history = slip_history(db, status.engagement["engagement_id"])
    started = perf_counter()
    for _ in range(repeats):
        for narrow in (False, True):
            drawing.rendered(partial(drawing.draw_mta, series_of(history), None, narrow), "svg", "mta")
            drawing.rendered(partial(drawing.draw_attribution, attributed(history), narrow), "svg", "a")
    return (perf_counter() - started) / repeats * 1000


def _table(figures: dict[str, tuple[float, list[float]]]) -> list[str]:
    lines = [f"  {'page':<24}{'first ms':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'requests':>10}"]
    for name, (first, times) in figures.items():
        p99 = statistics.quantiles(times, n=100, method="inclusive")[98] * 1000
        lines.append(
            f"  {name:<24}{first * 1000:>10.1f}{statistics.median(times) * 1000:>9.1f}{p99:>9.1f}"
            f"{max(times) * 1000:>9.1f}{len(times):>10}"
        )
    return lines


def _verdicts(figures: dict[str, tuple[float, list[float]]]) -> list[str]:
    worst = max(statistics.quantiles(t, n=100, method="inclusive")[98] for _, t in figures.values()) * 1000
    coldest = max(first for first, _ in figures.values()) * 1000
    met = "meets" if worst < TARGET_MS else "MISSES"
    return [
        f"  every page's p99 server time: at most {worst:.1f} ms ({met} the {TARGET_MS:g} ms target)",
        f"  the slowest first request: {coldest:.1f} ms (matplotlib's import and the first drawing:"
        " once per process)",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger-pages-") as folder:
        store = sqlite_env(Path(folder) / "store")
        seed_demo(store)
        settings = HttpSettings(
            data_dir=Path(folder) / "http",
            jwt_secret=SecretStr("bench-" + "p" * 40),
            embedded_projections=False,
        )
        app = create_app(settings, store=store)
        timed = Timed(app)
        with TestClient(timed) as http:
            app.state.runner.catch_up()
            http.cookies.set("ledger_session", app.state.tokens.issue("dana.whitfield", Role.PMO))
            figures = _measure(http, timed, args.requests, args.rounds)
            drawing = _drawing_ms(app.state.db)
    print("Engagement ledger: the web pages' server time on the demo engagement (SQLite, in-process)")
    print("\n".join(report.machine(None)))
    print(
        f"run:      {args.requests} requests per page in {args.rounds} interleaved rounds, signed in as pmo"
    )
    print("\n".join(_table(figures)))
    print(f"  the slip timeline's four charts drawn without the cache: {drawing:.1f} ms per page")
    print("\n".join(_verdicts(figures)))
    print(report.load_average("at the end"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=at_least(10), default=200, help="per page (default 200)")
    parser.add_argument("--rounds", type=at_least(1), default=5, help="default 5")
    return parser


if __name__ == "__main__":
    main()
