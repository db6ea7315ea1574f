"""PostgreSQL stopped under load and started again, on a private cluster of the test's own.

The shared server on 5432 is never touched: ``initdb`` makes a cluster in a temporary folder,
``ledger serve`` and ``ledger worker`` run on it, client threads send commands and reads all
along, and the server is stopped with ``pg_ctl stop -m immediate`` (every connection cut, as in
a crash) for a few seconds, then started again. During the outage every request is answered, and
promptly, with a 503 problem that says when to retry; afterwards the same API process answers
again, the same worker resumes and brings the projections to the head of the log, and every
command that got a 2xx is in the store exactly once. The database password never shows in a log.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fault_support import (
    PG_PASSWORD,
    Answer,
    Traffic,
    assert_acknowledged_recorded_once,
    caught_up,
    more_acknowledged,
    open_engagements,
    private_postgres,
    site,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CODES = ["OUTAGE-A", "OUTAGE-B"]
OUTAGE_SECONDS = 4.0
BOUND = 10.0
"""The clients' timeout: a request not answered within it counts as hanging (status 0)."""


def _recovered(traffic: Traffic, since: float, within: float = 30) -> float:
    """Seconds from ``since`` until both a command and a read started after it got a 2xx."""
    deadline = time.monotonic() + within
    while True:
        answered = [a for a in traffic.answers() if a.started >= since and 200 <= a.status < 300]
        if {a.kind for a in answered} == {"command", "read"}:
            return min(a.started + a.seconds for a in answered if a.kind == "command") - since
        assert time.monotonic() < deadline, "the API did not recover once the database was back"
        time.sleep(0.05)


def _is_retry_problem(answer: Answer) -> bool:
    return (
        answer.status == 503
        and answer.content_type == "application/problem+json"
        and answer.rule == "DatabaseUnavailable"
        and answer.retry_after is not None
    )


def test_a_database_restart_under_load_answers_503_meanwhile_and_loses_nothing(tmp_path: Path) -> None:
    with private_postgres() as pg, site(pg.settings(), tmp_path / "site") as here:
        api, worker = here.serve(), here.worker()
        open_engagements(here.url, CODES)
        with Traffic(here.url, CODES, writers=4, readers=3, timeout=BOUND, retry_unanswered=False) as traffic:
            more_acknowledged(traffic)
            pg.stop()
            down = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            up = time.monotonic()
            pg.start()
            recovery = _recovered(traffic, up)
            more_acknowledged(traffic)
        answers = traffic.answers()
        during = [a for a in answers if down < a.started and a.started + a.seconds < up]
        slowest = max(a.seconds for a in during)
        print(f"{len(answers)} requests; during the {OUTAGE_SECONDS:g} s outage {len(during)}, answered "
              f"{dict(Counter(a.status for a in during))} within {slowest:.2f} s at most; commands and "
              f"reads succeed again {recovery:.2f} s after the restart began")  # fmt: skip

        assert all(a.status for a in answers), "a request hung (or its connection broke)"
        assert all(200 <= a.status < 300 or _is_retry_problem(a) for a in answers), Counter(
            (a.status, a.rule) for a in answers
        )
        assert {a.kind for a in during} == {"command", "read"}
        assert [a for a in during if not _is_retry_problem(a)] == []
        assert api.alive(), "the API rides out the outage"
        assert worker.alive(), "the worker rides out the outage"
        caught_up(here)
        assert_acknowledged_recorded_once(here.store, traffic.commands)
        assert PG_PASSWORD not in here.logs()
