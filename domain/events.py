"""The stored events: past-tense facts, each a complete audit record with an explicit topic.

Stored events are a contract. Every class names its topic (``TOPIC``), which never changes
when the class is renamed or moved; schema changes are additive, or bump ``class_version``
and add an ``upcast_vN_vN+1`` static method (the library's convention, run by the mapper).
``tests/test_topics.py`` pins every topic.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.values import (
    EngagementState,
    MilestoneStatus,
    ResponsibleParty,
    SlipCause,
    TaskStatus,
)

TOPICS: dict[str, type[Stored]] = {}
"""Every stored class by its topic; filled as the classes are defined."""


class Stored(BaseModel):
    """Anything kept in an engagement's stream: the library's id, version and timestamp."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TOPIC: ClassVar[str]
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        topic = cls.__dict__.get("TOPIC")
        if topic is not None:
            if topic in TOPICS and TOPICS[topic] is not cls:
                raise TypeError(f"topic {topic!r} is taken by {TOPICS[topic].__name__}")
            TOPICS[topic] = cls


class Event(Stored):
    """A change to an engagement: who caused it, why, and what it replaced."""

    actor: str
    reason: str | None = None
    internal_note: str | None = None
    change_ref: str | None = None
    effective_on: date | None = None
    request_id: str | None = None
    """Set by the application when the command came with an idempotency key: the request's id, so
    that a retry after a crash finds what its first try recorded (stored only when set)."""


class EngagementSnapshot(Stored):
    """The engagement's whole state at a version, so long streams load fast."""

    TOPIC = "ledger:EngagementSnapshot"
    state: dict[str, Any]


# Engagement lifecycle
class EngagementOpened(Event):
    TOPIC = "ledger:EngagementOpened"
    code: str
    title: str
    client_id: str
    client_name: str
    manager: str
    planned_start: date
    planned_end: date


class ManagerAssigned(Event):
    TOPIC = "ledger:ManagerAssigned"
    from_manager: str
    to_manager: str


class EngagementPutOnHold(Event):
    TOPIC = "ledger:EngagementPutOnHold"
    from_state: EngagementState
    to_state: EngagementState = EngagementState.ON_HOLD


class EngagementResumed(Event):
    TOPIC = "ledger:EngagementResumed"
    from_state: EngagementState = EngagementState.ON_HOLD
    to_state: EngagementState = EngagementState.ACTIVE


class EngagementClosed(Event):
    TOPIC = "ledger:EngagementClosed"
    from_state: EngagementState
    to_state: EngagementState = EngagementState.CLOSED


# Scope
class ScopeItemAdded(Event):
    TOPIC = "ledger:ScopeItemAdded"
    key: str
    title: str
    description: str = ""


class ScopeItemRevised(Event):
    TOPIC = "ledger:ScopeItemRevised"
    key: str
    from_title: str
    to_title: str
    from_description: str
    to_description: str


class ScopeItemRemoved(Event):
    TOPIC = "ledger:ScopeItemRemoved"
    key: str
    title: str


# Milestones
class MilestonePlanned(Event):
    TOPIC = "ledger:MilestonePlanned"
    key: str
    title: str
    baseline: date
    forecast: date


class MilestoneRescheduled(Event):
    """The forecast moved; ``delta_days`` is positive when it moved later."""

    TOPIC = "ledger:MilestoneRescheduled"
    key: str
    from_date: date
    to_date: date
    delta_days: int
    baseline: date
    cause: SlipCause | None = None
    responsible_party: ResponsibleParty | None = None


class MilestoneRebaselined(Event):
    """The committed date moved under change control; the forecast stays where it was."""

    TOPIC = "ledger:MilestoneRebaselined"
    key: str
    from_date: date
    to_date: date
    forecast: date
    approved_by: str


class MilestoneAchieved(Event):
    """Achieved on ``actual_on``; a cause and party say why, when later than the forecast."""

    TOPIC = "ledger:MilestoneAchieved"
    key: str
    actual_on: date
    forecast: date
    baseline: date
    cause: SlipCause | None = None
    responsible_party: ResponsibleParty | None = None


class MilestoneCancelled(Event):
    TOPIC = "ledger:MilestoneCancelled"
    key: str
    from_status: MilestoneStatus
    to_status: MilestoneStatus = MilestoneStatus.CANCELLED


# Tasks
class TaskAdded(Event):
    TOPIC = "ledger:TaskAdded"
    key: str
    title: str
    milestone_key: str | None = None
    assignee: str | None = None
    due_on: date | None = None


class TaskStatusChanged(Event):
    TOPIC = "ledger:TaskStatusChanged"
    key: str
    from_status: TaskStatus
    to_status: TaskStatus


class TaskAssigned(Event):
    TOPIC = "ledger:TaskAssigned"
    key: str
    from_assignee: str | None
    to_assignee: str | None


class TaskRescheduled(Event):
    TOPIC = "ledger:TaskRescheduled"
    key: str
    from_date: date | None
    to_date: date
