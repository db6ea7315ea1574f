"""Many writers at once on the embedded SQLite store: no "database is locked" ever escapes.

Sixteen client threads send commands (and four send reads) through HTTP to a real uvicorn
server (``ledger serve`` on a data folder), four processes write to the same data folder
through ``Ledger`` directly, and a connection holds the write lock past the busy timeout.
Each command either succeeds or is refused with a clear 503 problem (``TooManyConcurrentWriters``,
``DatabaseUnavailable``) that says when to retry; never a 500. Every command acknowledged is in
the store exactly once and no stream has a gap.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections import Counter
from contextlib import closing
from datetime import date
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.http.app import create_app
from api.http.settings import HttpSettings
from domain import commands as c
from domain import errors
from domain.service import Ledger
from domain.store import sqlite_env
from tests.fault_support import (
    SECRET,
    Traffic,
    assert_acknowledged_recorded_once,
    bearer,
    caught_up,
    more_acknowledged,
    open_engagements,
    served,
    site,
    tasks_recorded,
)

pytestmark = pytest.mark.slow

CODES = ["BUSY-A", "BUSY-B"]
PROCESSES = 4
COMMANDS_EACH = 60
START, END = date(2025, 1, 6), date(2025, 12, 19)


def test_sixteen_clients_over_http_get_an_answer_for_every_command_and_lose_none(tmp_path: Path) -> None:
    store = sqlite_env(tmp_path / "data")
    with site(store, tmp_path / "site") as here:
        here.serve()
        open_engagements(here.url, CODES)
        with Traffic(here.url, CODES, writers=16, readers=4, retry_unanswered=False) as traffic:
            more_acknowledged(traffic, count=600, within=60)
        answers = traffic.answers()
        print(f"{len(answers)} requests: {dict(Counter((a.kind, a.status, a.rule) for a in answers))}")

        assert all(a.status for a in answers), "a request got no answer"
        refused = [a for a in answers if not 200 <= a.status < 300]
        assert all(a.status == 503 and a.retry_after for a in refused), Counter(
            (a.status, a.rule) for a in refused
        )
        assert all(a.content_type == "application/problem+json" for a in refused)
        assert_acknowledged_recorded_once(store, traffic.commands)
        caught_up(here)
        assert "database is locked" not in here.logs()


def _write(folder: str, writer: int) -> list[tuple[str, str, int | None, str]]:
    """One process: add tasks by title; per command (code, title, version or None, how it ended)."""
    ended: list[tuple[str, str, int | None, str]] = []
    with Ledger(sqlite_env(Path(folder))) as ledger:
        for k in range(COMMANDS_EACH):
            code, title = CODES[k % len(CODES)], f"Task p{writer}-{k}"
            try:
                outcome = ledger.execute(c.AddTask(code=code, title=title), actor=f"writer-{writer}")
            except errors.TooManyConcurrentWriters:
                ended.append((code, title, None, "TooManyConcurrentWriters"))
                continue
            ended.append((code, title, outcome.version, "recorded"))
    return ended


def test_four_processes_writing_one_data_folder_record_every_command_once(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with Ledger(sqlite_env(folder)) as ledger:
        for code in CODES:
            ledger.execute(
                c.OpenEngagement(code=code, title="Rollout", client_id="acme", client_name="ACME",
                                 manager="Dana Whitfield", planned_start=START, planned_end=END),
                actor="dana",
            )  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.starmap(_write, [(str(folder), w) for w in range(PROCESSES)])
    ended = [e for result in results for e in result]
    print(f"{len(ended)} commands from {PROCESSES} processes: {dict(Counter(e[3] for e in ended))}")

    recorded = tasks_recorded(sqlite_env(folder), CODES)
    titles = Counter((code, e.title) for code, events in recorded.items() for e in events)
    assert set(titles.values()) == {1}, "no command recorded twice"
    versions = {(code, e.title): e.originator_version for code, events in recorded.items() for e in events}
    for code, title, version, how in ended:
        assert versions.get((code, title)) == version, (title, how)  # recorded at its version, or not at all
    assert Counter(how for *_, how in ended)["recorded"] >= len(ended) // 2


def test_a_write_lock_held_past_the_busy_timeout_is_a_503_to_retry_and_records_nothing(
    tmp_path: Path,
) -> None:
    """Another connection holds the events file's write lock (a backup, a long admin transaction)
    for longer than the store waits: the command is refused with a 503 that says when to try
    again, records nothing, and succeeds once the lock is gone."""
    store = sqlite_env(tmp_path / "data") | {"SQLITE_LOCK_TIMEOUT": "1"}
    settings = HttpSettings(
        data_dir=tmp_path / "http", jwt_secret=SecretStr(SECRET), embedded_projections=False
    )
    with (
        served(create_app(settings, store=store)) as url,
        httpx.Client(base_url=url, headers=bearer()) as http,
    ):
        open_engagements(url, CODES[:1])
        task = f"/engagements/{CODES[0]}/tasks"
        with closing(sqlite3.connect(store["SQLITE_DBNAME"], isolation_level=None)) as holder:
            holder.execute("BEGIN IMMEDIATE")
            locked = http.post(task, json={"title": "Locked out"})
            holder.execute("ROLLBACK")
        retried = http.post(task, json={"title": "Locked out"})
    assert (locked.status_code, locked.headers["content-type"]) == (503, "application/problem+json")
    assert locked.json()["rule"] == "DatabaseUnavailable"
    assert locked.headers["Retry-After"]
    assert retried.status_code == 201, retried.text
    titles = [e.title for e in tasks_recorded(store, CODES[:1])[CODES[0]]]
    assert titles == ["Locked out"]
