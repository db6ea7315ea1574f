"""A command retried after its first try vanished: what the first recorded is answered, not recorded again.

The events of a command sent with a request id carry it. A retried command looks for them in the
engagement's stream before recording; and a try that loses a race looks at what won, so two tries
of one request alive at once (a retry taking over from a try that was only slow) never both record.
Each test plays both tries with a ledger of its own, as two API processes would, on both stores.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain import commands as c
from domain import events as ev
from domain.service import Ledger
from tests.support import CODE, opened

ADD = c.AddTask(code=CODE, title="Train key users")


@pytest.fixture
def two(store: dict[str, str]) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on the same store, the engagement opened and known to the first."""
    with Ledger(store) as first, Ledger(store) as second:
        first.execute(opened(), "dana")
        yield first, second


def _titles(ledger: Ledger) -> list[str]:
    return [e.title for e in ledger.history(CODE) if isinstance(e, ev.TaskAdded)]


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_retry_of_a_recorded_command_answers_what_the_first_try_recorded(
    two: tuple[Ledger, Ledger],
) -> None:
    first, second = two
    recorded = first.execute(ADD, "dana", request_id="req-1")
    second.execute(c.AddTask(code=CODE, title="Write UAT scripts"), "dana")

    retried = second.execute(ADD, "dana", request_id="req-1", retried=True)

    assert (retried.version, retried.position, retried.events) == (2, recorded.position, recorded.events)
    assert (retried.earlier, recorded.earlier) == (True, False)
    assert _titles(second) == ["Train key users", "Write UAT scripts"]
    assert [e.request_id for e in second.history(CODE)] == [None, "req-1", None]


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_retry_of_a_command_the_first_try_never_recorded_records_it_once(
    two: tuple[Ledger, Ledger],
) -> None:
    first, second = two
    first.execute(c.AddTask(code=CODE, title="Write UAT scripts"), "dana", request_id="req-0")

    retried = second.execute(ADD, "dana", request_id="req-1", retried=True)

    assert not retried.earlier
    assert [type(e) for e in retried.events] == [ev.TaskAdded]
    assert _titles(second) == ["Write UAT scripts", "Train key users"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("expected_version", [None, 1])
def test_a_slow_try_that_loses_the_race_to_its_own_retry_answers_the_retry_instead_of_recording_twice(
    two: tuple[Ledger, Ledger], expected_version: int | None
) -> None:
    first, second = two  # the first decides on the state it last wrote, at version 1
    retry = second.execute(ADD, "dana", expected_version=expected_version, request_id="req-1", retried=True)

    slow = first.execute(ADD, "dana", expected_version=expected_version, request_id="req-1")

    assert (slow.version, slow.position, slow.earlier) == (2, retry.position, True)
    assert _titles(first) == ["Train key users"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_another_request_that_loses_a_race_is_still_recorded(two: tuple[Ledger, Ledger]) -> None:
    first, second = two
    second.execute(c.AddTask(code=CODE, title="Write UAT scripts"), "sam", request_id="req-2")

    added = first.execute(ADD, "dana", request_id="req-1")

    assert (added.version, added.earlier) == (3, False)
    assert _titles(first) == ["Write UAT scripts", "Train key users"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_retry_finds_the_first_try_however_long_the_stream_has_grown(two: tuple[Ledger, Ledger]) -> None:
    first, second = two
    recorded = first.execute(ADD, "dana", request_id="req-1")
    for n in range(Ledger.snapshot_interval + 5):  # past a snapshot, which carries no request ids
        first.execute(c.AddTask(code=CODE, key=f"t{n}", title=f"Task {n}"), "dana")

    retried = second.execute(ADD, "dana", request_id="req-1", retried=True)

    assert (retried.version, retried.position, retried.earlier) == (2, recorded.position, True)
    assert _titles(second).count("Train key users") == 1
