"""Commands: what a manager asks the ledger to record, in the imperative.

Commands never carry the actor: the edge takes it from the credentials. They validate shape
(types, lengths, formats); the rules live in ``domain.decide``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from domain.values import (
    PRINTABLE,
    EngagementCode,
    Key,
    LongText,
    Name,
    ResponsibleParty,
    SlipCause,
    TaskStatus,
    Text,
)

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=PRINTABLE)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=PRINTABLE)]


class Command(BaseModel):
    """Fields every command may carry besides its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: EngagementCode
    reason: Note | None = None
    internal_note: Note | None = None
    change_ref: Ref | None = None
    effective_on: date | None = None

    def annotations(self) -> dict[str, Any]:
        """The why of the change, copied onto every event it records (blank means absent)."""
        return {
            "reason": self.reason or None,
            "internal_note": self.internal_note or None,
            "change_ref": self.change_ref or None,
            "effective_on": self.effective_on,
        }


class OpenEngagement(Command):
    title: Text
    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    client_name: Name
    manager: Name
    planned_start: date
    planned_end: date


class AssignManager(Command):
    manager: Name


class PutOnHold(Command):
    pass


class Resume(Command):
    pass


class CloseEngagement(Command):
    pass


class AddScopeItem(Command):
    key: Key | None = None
    title: Text
    description: LongText = ""


class ReviseScopeItem(Command):
    key: Key
    title: Text | None = None
    description: LongText | None = None


class RemoveScopeItem(Command):
    key: Key


class PlanMilestone(Command):
    key: Key | None = None
    title: Text
    baseline: date


class RescheduleMilestone(Command):
    key: Key
    to_date: date
    cause: SlipCause | None = None
    responsible_party: ResponsibleParty | None = None


class RebaselineMilestone(Command):
    key: Key
    to_date: date
    approved_by: Name | None = None


class AchieveMilestone(Command):
    key: Key
    actual_on: date
    cause: SlipCause | None = None
    responsible_party: ResponsibleParty | None = None


class CancelMilestone(Command):
    key: Key


class AddTask(Command):
    key: Key | None = None
    title: Text
    milestone_key: Key | None = None
    assignee: Name | None = None
    due_on: date | None = None


class ChangeTaskStatus(Command):
    key: Key
    to_status: TaskStatus


class AssignTask(Command):
    key: Key
    assignee: Name | None


class RescheduleTask(Command):
    key: Key
    to_date: date
