"""Concurrent writers on one engagement: nothing lost, nothing twice, versions without gaps."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.service import Ledger
from tests.support import CODE, opened

WRITERS = 6
COMMANDS_EACH = 20


def _add_tasks(env: dict[str, str], writer: str, count: int) -> list[int]:
    """One writer: add ``count`` tasks with keys of its own; the versions it was given."""
    with Ledger(env) as ledger:
        return [
            ledger.execute(c.AddTask(code=CODE, key=f"{writer}-{n}", title=f"Task {n}"), actor=writer).version
            for n in range(count)
        ]


def _assert_every_command_recorded_once(ledger: Ledger, versions: list[int], writers: int) -> None:
    stream = list(ledger.history(CODE))
    total = writers * COMMANDS_EACH
    assert [e.originator_version for e in stream] == list(range(1, total + 2))
    keys = Counter(e.key for e in stream if isinstance(e, ev.TaskAdded))
    expected = {f"w{w}-{n}" for w in range(writers) for n in range(COMMANDS_EACH)}
    assert set(keys) == expected
    assert set(keys.values()) == {1}
    assert sorted(versions) == list(range(2, total + 2))


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_threads_writing_to_one_engagement_lose_nothing(store: dict[str, str]) -> None:
    with Ledger(store) as ledger:
        ledger.execute(opened(), "dana")
        with ThreadPoolExecutor(WRITERS) as pool:
            results = pool.map(lambda w: _add_tasks(store, f"w{w}", COMMANDS_EACH), range(WRITERS))
            versions = [v for result in results for v in result]
        _assert_every_command_recorded_once(ledger, versions, WRITERS)


def test_processes_writing_to_one_engagement_on_postgres_lose_nothing(postgres_store: dict[str, str]) -> None:
    with Ledger(postgres_store) as ledger:
        ledger.execute(opened(), "dana")
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(WRITERS) as pool:
            results = pool.starmap(
                _add_tasks, [(postgres_store, f"w{w}", COMMANDS_EACH) for w in range(WRITERS)]
            )
        _assert_every_command_recorded_once(ledger, [v for r in results for v in r], WRITERS)


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_racing_commands_that_expect_the_same_version_have_exactly_one_winner(store: dict[str, str]) -> None:
    with Ledger(store) as ledger:
        ledger.execute(opened(), "dana")

        def attempt(n: int) -> str:
            with Ledger(store) as own:
                try:
                    own.execute(c.AddTask(code=CODE, key=f"t{n}", title="Race"), f"w{n}", expected_version=1)
                except errors.ExpectedVersionMismatch:
                    return "refused"
                return "won"

        with ThreadPoolExecutor(WRITERS) as pool:
            verdicts = Counter(pool.map(attempt, range(WRITERS)))
        assert verdicts == {"won": 1, "refused": WRITERS - 1}
        assert ledger.engagement(CODE).version == 2
