"""The randomized hammer, briefly, on each store: every invariant held, and it really did the work.

The hammer (``bench/hammer/``) serves the real API in processes of its own and sends random
valid and invalid commands from six client threads for ten seconds, with the checkers alongside.
These tests hold it to having sent hundreds of requests of every kind, had commands both
recorded and refused, run every invariant check several times, and found nothing wrong.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from bench.hammer import (
    ALONGSIDE,
    COMMANDS,
    FINAL,
    INLINE,
    PROBLEM,
    Ack,
    Record,
    Report,
    Send,
    hammer,
    stored_once,
)
from domain.values import engagement_id

SECONDS, SEED, CLIENTS = 10.0, 7, 6
SELDOM_RECORDED = {"put-on-hold", "resume"}
"""Commands that record something only in a state a client seldom finds (not yet on hold; on hold)."""


@pytest.mark.slow
def test_the_hammer_finds_every_invariant_held_on_a_real_store(store: dict[str, str]) -> None:
    report = hammer(store, seconds=SECONDS, seed=SEED, clients=CLIENTS)
    print("\n".join(report.lines()))

    assert report.violations == []
    assert report.ok
    assert_it_really_worked(report)
    assert_every_check_ran_and_passed(report)


def assert_it_really_worked(report: Report) -> None:
    """Hundreds of requests; valid commands of every kind recorded, some refused; mistakes refused."""
    valid = list(COMMANDS)
    assert report.total() >= 400, report.total()
    assert report.total(valid, label="recorded") >= 100
    assert report.total(valid, 400, 500) >= 5, "no valid command ever met a state that refused it"
    assert all(report.total([kind]) for kind in COMMANDS)
    assert all(report.total([kind], label="recorded") for kind in COMMANDS.keys() - SELDOM_RECORDED)
    assert report.total(["invalid"]) >= 60
    assert report.total(["invalid"], label="recorded") == 0
    assert report.total(["invalid"], 400, 500) >= 0.9 * report.total(["invalid"])  # the rest changed nothing
    mistakes = {kind for kind, _, _ in report.operations if kind.startswith("invalid")}
    assert len(mistakes) >= 15, mistakes
    assert report.total(["retry"], label="replay") >= 5
    assert report.total(["read: status"], 200, 300) >= 30
    assert report.total(low=500) == report.total(low=503, high=504)
    assert report.events == report.total(label="recorded")


def assert_every_check_ran_and_passed(report: Report) -> None:
    for name in ALONGSIDE:
        assert report.checks[name]["passed"] >= 3, (name, report.checks.get(name))
    for name in INLINE:
        assert report.checks[name]["passed"] >= 1, (name, report.checks.get(name))
    assert report.checks["own writes seen"]["passed"] >= 30
    for name in FINAL:
        assert report.checks[name] == {"passed": 1}, (name, report.checks.get(name))
    assert not any(c["failed"] for c in report.checks.values())


# The judges themselves: each names what breaks an invariant, so a clean run means something.


def test_the_final_store_check_names_a_lost_a_doubled_and_an_unacknowledged_write() -> None:
    stream = engagement_id("POOL-1")
    stored = {
        (stream, 1): (1, "EngagementOpened"),
        (stream, 2): (2, "TaskAdded"),
        (stream, 4): (5, "TaskAdded"),
    }
    acks = [
        Ack("POOL-1", 1, 1, ("EngagementOpened",)),
        Ack("POOL-1", 2, 2, ("TaskAdded",)),
        Ack("POOL-1", 2, 2, ("TaskAdded",)),  # the same version acknowledged to two commands
        Ack("POOL-1", 3, 4, ("TaskAdded",)),  # acknowledged, and not in the store
    ]

    found = stored_once(stored, acks, unanswered=0)

    assert found["final: acknowledged exactly once"] == [
        "POOL-1 version 2 acknowledged twice",
        "POOL-1 version 3 acknowledged as TaskAdded at 4, stored None",
    ]
    assert found["final: versions gap-free"] == ["POOL-1: versions [1, 2, 4]..."]
    assert found["final: nothing unacknowledged"] == ["POOL-1 version 4 at 5"]
    assert stored_once(stored, acks, unanswered=1)["final: nothing unacknowledged"] is None


def judged(send: Send, status: int, body: Any, content_type: str, etag: str | None = None) -> Record:
    """A record that has judged one answer to ``send``."""
    headers = {"content-type": content_type} | ({"ETag": etag} if etag else {})
    response = httpx.Response(status, content=orjson.dumps(body), headers=headers)
    record = Record()
    record.judge(send, response)
    return record


TASK = Send("add-task", "/engagements/POOL-1/tasks", b"{}", code="POOL-1")
MALFORMED = Send(
    "invalid: malformed JSON", "/engagements/POOL-1/tasks", b"{", expect=frozenset({"MalformedJson"})
)
RECORDED = {"code": "POOL-1", "version": 7, "position": 40, "key": "t1", "recorded": ["TaskAdded"]}


def problem(status: int, rule: str) -> dict[str, Any]:
    return {"type": f"/problems/{rule}", "title": rule, "status": status, "detail": "why", "rule": rule}


def test_a_500_is_a_violation_and_a_503_problem_is_back_pressure() -> None:
    assert judged(TASK, 500, problem(500, "InternalError"), PROBLEM).violations
    pressed = judged(TASK, 503, problem(503, "TooManyConcurrentWriters"), PROBLEM)
    assert pressed.violations == []
    assert pressed.backpressure == {"TooManyConcurrentWriters": 1}
    assert judged(TASK, 503, {"detail": "busy"}, "application/json").violations


def test_a_refusal_without_a_problem_document_is_a_violation() -> None:
    assert judged(MALFORMED, 400, problem(400, "MalformedJson"), PROBLEM).violations == []
    assert judged(MALFORMED, 400, problem(400, "MalformedJson"), "application/json").violations
    assert judged(MALFORMED, 400, problem(422, "MalformedJson"), PROBLEM).violations  # status disagrees


def test_an_invalid_command_recorded_or_refused_by_another_rule_is_a_violation() -> None:
    assert judged(MALFORMED, 201, RECORDED, "application/json", etag='"v7"').violations
    assert judged(MALFORMED, 422, problem(422, "InvalidInput"), PROBLEM).violations


def test_a_valid_command_is_recorded_at_the_version_its_etag_names_or_refused_by_the_state() -> None:
    assert judged(TASK, 201, RECORDED, "application/json", etag='"v7"').violations == []
    assert judged(TASK, 201, RECORDED, "application/json", etag='"v6"').violations
    assert judged(TASK, 409, problem(409, "EngagementIsClosed"), PROBLEM).violations == []
    assert judged(TASK, 422, problem(422, "ReasonRequired"), PROBLEM).violations
