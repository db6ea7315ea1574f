"""The API as production runs it: two uvicorn workers and a projection worker on PostgreSQL, over HTTP.

The server is the real one (``python -m api.cli serve --workers 2`` and ``python -m api.cli
worker``, as processes of their own, on a fresh schema); the store is read back directly to
check what the answers claim.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from bench.serving import Server, serving
from domain import events as ev
from domain.service import Ledger
from tests.support import opened, postgres_schema, require_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 8
COMMANDS_EACH = 25
T = TypeVar("T")


@dataclass(frozen=True)
class Live:
    server: Server
    store: dict[str, str]

    def client(self) -> httpx.Client:
        """A client of its own: a new connection, which either API worker may accept."""
        return httpx.Client(base_url=self.server.url, headers=self.server.headers("dana"), timeout=60)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    require_postgres()
    with postgres_schema() as store, serving(store, workers=2) as server:
        yield Live(server, store)


def _open(live: Live, code: str) -> httpx.Response:
    with live.client() as http:
        response = http.post("/engagements", json=opened(code=code).model_dump(mode="json"))
    assert response.status_code == 201, response.text
    return response


def _together(count: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """``work(n, barrier)`` on ``count`` threads at once; each waits at the barrier before sending."""
    barrier = threading.Barrier(count)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda n: work(n, barrier), range(count)))


def _stream(live: Live, code: str) -> list[ev.Event]:
    with Ledger(live.store) as ledger:
        return list(ledger.history(code))


def _rule(response: httpx.Response) -> Any:
    return response.json().get("rule") if response.is_error else None


def test_parallel_commands_on_one_engagement_are_each_recorded_once_without_gaps(live: Live) -> None:
    code = "PAR-ONE"
    _open(live, code)

    def add_tasks(n: int, barrier: threading.Barrier) -> list[tuple[str, httpx.Response]]:
        keys = [f"w{n}-{k}" for k in range(COMMANDS_EACH)]
        with live.client() as http:
            barrier.wait()
            return [
                (key, http.post(f"/engagements/{code}/tasks", json={"key": key, "title": key}))
                for key in keys
            ]

    answers = [answer for answers in _together(THREADS, add_tasks) for answer in answers]

    server_errors = [(r.status_code, _rule(r)) for _, r in answers if r.status_code >= 500]
    assert set(server_errors) <= {(503, "TooManyConcurrentWriters")}, server_errors
    refused = {key for key, r in answers if not r.is_success}
    assert {_rule(r) for _, r in answers if not r.is_success} <= {"TooManyConcurrentWriters"}
    accepted = {key: r.json()["version"] for key, r in answers if r.is_success}
    assert accepted, "no command got through"
    stream = _stream(live, code)
    assert [e.originator_version for e in stream] == list(range(1, len(stream) + 1))
    added = Counter(e.key for e in stream if isinstance(e, ev.TaskAdded))
    assert set(added) == set(accepted), "every 2xx recorded, and nothing refused recorded"
    assert set(added.values()) == {1}
    assert not refused & set(added)
    assert sorted(accepted.values()) == list(range(2, len(stream) + 1)), "each answer its own version"


def test_commands_racing_on_the_same_if_match_have_exactly_one_winner(live: Live) -> None:
    code = "IFM-RACE"
    etag = _open(live, code).headers["ETag"]

    def add_if_unchanged(n: int, barrier: threading.Barrier) -> httpx.Response:
        with live.client() as http:
            barrier.wait()
            return http.post(
                f"/engagements/{code}/tasks",
                json={"key": f"race-{n}", "title": "Race"},
                headers={"If-Match": etag},
            )

    answers = _together(THREADS, add_if_unchanged)

    assert Counter(r.status_code for r in answers) == {201: 1, 412: THREADS - 1}
    assert {_rule(r) for r in answers if r.status_code == 412} == {"ExpectedVersionMismatch"}
    winner = next(r for r in answers if r.status_code == 201)
    assert winner.json()["version"] == 2
    assert [e.originator_version for e in _stream(live, code)] == [1, 2]


def test_a_query_with_min_position_sees_the_write_the_projection_worker_applied(live: Live) -> None:
    # The projections are written by the worker process only (on PostgreSQL the API runs none),
    # so every read here crosses processes; each request comes on a new connection, which
    # either API worker may accept, so over the rounds both of them answer.
    code = "RYW-ONE"
    _open(live, code)
    for n in range(10):
        with live.client() as writer:
            recorded = writer.post(f"/engagements/{code}/tasks", json={"key": f"r{n}", "title": f"Task {n}"})
        assert recorded.status_code == 201, recorded.text
        position, version = recorded.json()["position"], recorded.json()["version"]
        with live.client() as reader:
            status = reader.get(f"/engagements/{code}", params={"min_position": position})
            portfolio = reader.get("/engagements", params={"min_position": position})
        assert status.status_code == 200, status.text
        assert f"r{n}" in {task["key"] for task in status.json()["tasks"]}
        assert status.headers["ETag"] == f'"v{version}"'
        assert portfolio.status_code == 200, portfolio.text
        assert {row["code"]: row["version"] for row in portfolio.json()}[code] == version
