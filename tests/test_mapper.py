"""The pydantic + orjson mapper: round trips, unknown topics, and the library's upcasting."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain import events as ev
from domain.mapper import LedgerMapper, OrjsonTranscoder, split_state
from domain.service import Ledger
from domain.values import engagement_id
from tests.support import CODE, NOW, opened, when


class TaskEstimated(ev.Event):
    """Version 2 of a test event: v1 had ``days``; v2 has ``hours`` and ``basis``."""

    TOPIC: ClassVar[str] = "test:TaskEstimated"
    class_version: ClassVar[int] = 2
    key: str
    hours: int
    basis: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["hours"] = state.pop("days") * 8
        state["basis"] = "converted from days"


def mapper() -> LedgerMapper:
    return LedgerMapper(transcoder=OrjsonTranscoder())


def test_every_event_survives_a_round_trip_through_the_mapper() -> None:
    event = when(None, opened())[0]
    stored = mapper().to_stored_event(event)
    assert stored.topic == "ledger:EngagementOpened"
    assert mapper().to_domain_event(stored) == event


def test_the_stored_state_is_plain_json_without_the_stream_identity() -> None:
    stored = mapper().to_stored_event(when(None, opened())[0])
    state = orjson.loads(stored.state)
    assert "originator_id" not in state
    assert state["planned_start"] == "2026-01-05"
    assert state["actor"] == "dana"


def test_a_request_id_is_stored_only_on_the_events_that_carry_one() -> None:
    plain = when(None, opened())[0]
    keyed = plain.model_copy(update={"request_id": "3f2a9c"})
    assert "request_id" not in orjson.loads(mapper().to_stored_event(plain).state)
    assert orjson.loads(mapper().to_stored_event(keyed).state)["request_id"] == "3f2a9c"
    assert mapper().to_domain_event(mapper().to_stored_event(keyed)) == keyed
    assert mapper().to_domain_event(mapper().to_stored_event(plain)) == plain


def test_a_tasks_assignee_is_stored_in_the_private_part_like_an_internal_note() -> None:
    added = ev.TaskAdded(
        originator_id=uuid4(), originator_version=2, timestamp=NOW, actor="dana", key="survey",
        title="Survey the site", assignee="lena.berg",
    )  # fmt: skip
    public, private = split_state(mapper().to_stored_event(added).state)
    assert "assignee" not in orjson.loads(public)
    assert private is not None
    assert orjson.loads(private)["assignee"] == "lena.berg"
    assert mapper().to_domain_event(mapper().to_stored_event(added)) == added
    unassigned = added.model_copy(update={"assignee": None})
    assert split_state(mapper().to_stored_event(unassigned).state)[1] is None
    assert mapper().to_domain_event(mapper().to_stored_event(unassigned)) == unassigned


def test_an_assignee_stored_in_the_public_part_before_reads_the_same() -> None:
    state = {"timestamp": NOW.isoformat(), "actor": "dana", "key": "k", "title": "Survey", "assignee": "lena"}
    stored = StoredEvent(uuid4(), 2, ev.TaskAdded.TOPIC, orjson.dumps(state))
    event = mapper().to_domain_event(stored)
    assert isinstance(event, ev.TaskAdded)
    assert event.assignee == "lena"


def test_an_unknown_topic_is_refused_with_a_clear_error() -> None:
    stored = StoredEvent(originator_id=uuid4(), originator_version=1, topic="gone:Event", state=b"{}")
    with pytest.raises(MapperDeserialisationError, match="gone:Event"):
        mapper().to_domain_event(stored)


def test_a_version_1_event_is_upcast_when_read() -> None:
    v1_state = {"timestamp": NOW.isoformat(), "actor": "dana", "key": "build", "days": 3}
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=7,
        topic="test:TaskEstimated",
        state=orjson.dumps(v1_state),
    )
    event = mapper().to_domain_event(stored)
    assert isinstance(event, TaskEstimated)
    assert (event.hours, event.basis, event.originator_version) == (24, "converted from days", 7)


def test_a_version_2_event_is_stored_with_its_class_version_and_read_unchanged() -> None:
    event = TaskEstimated(
        originator_id=uuid4(), originator_version=2, timestamp=NOW, actor="dana", key="k", hours=5, basis="x"
    )
    stored = mapper().to_stored_event(event)
    assert orjson.loads(stored.state)["class_version"] == 2
    assert mapper().to_domain_event(stored) == event


def test_a_version_1_event_stored_in_a_real_store_is_upcast_on_load(sqlite_store: dict[str, str]) -> None:
    with Ledger(sqlite_store) as ledger:
        ledger.execute(opened(), actor="dana")
        v1 = {"timestamp": NOW.isoformat(), "actor": "dana", "key": "build", "days": 2}
        ledger.recorder.insert_events(
            [StoredEvent(engagement_id(CODE), 2, "test:TaskEstimated", orjson.dumps(v1))]
        )
        stored = list(ledger.events.get(engagement_id(CODE)))
    assert isinstance(stored[1], TaskEstimated)
    assert stored[1].hours == 16
