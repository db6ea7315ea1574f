"""Domain tests of the engagement itself: open, manager, hold, resume, close, and command shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pydantic
import pytest

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.state import Engagement
from domain.values import EngagementState, ResponsibleParty, SlipCause, TaskStatus, engagement_id
from tests.support import CODE, NOW, START, head, opened, state_of, when

ID = engagement_id(CODE)
END = date(2026, 10, 30)


def hold(reason: str = "client budget freeze") -> c.PutOnHold:
    return c.PutOnHold(code=CODE, reason=reason)


def close(reason: str = "delivered and signed off") -> c.CloseEngagement:
    return c.CloseEngagement(code=CODE, reason=reason)


# Every command except OpenEngagement, each valid against a populated engagement.
EVERY_CHANGE: list[c.Command] = [
    c.AssignManager(code=CODE, manager="Lee Park"),
    c.PutOnHold(code=CODE, reason="budget freeze"),
    c.Resume(code=CODE, reason="budget released"),
    c.CloseEngagement(code=CODE, reason="done"),
    c.AddScopeItem(code=CODE, key="reporting", title="Reporting", reason="CR-7"),
    c.ReviseScopeItem(code=CODE, key="data-migration", title="Data migration v2", reason="clarified"),
    c.RemoveScopeItem(code=CODE, key="data-migration", reason="descoped"),
    c.PlanMilestone(code=CODE, key="go-live", title="Go-live", baseline=date(2026, 9, 1)),
    c.RescheduleMilestone(
        code=CODE,
        key="uat",
        to_date=date(2026, 6, 15),
        reason="vendor late",
        cause=SlipCause.VENDOR_DELAY,
        responsible_party=ResponsibleParty.VENDOR,
    ),
    c.RebaselineMilestone(
        code=CODE, key="uat", to_date=date(2026, 6, 15), reason="agreed", change_ref="CR-9", approved_by="Ana"
    ),
    c.AchieveMilestone(code=CODE, key="uat", actual_on=date(2026, 3, 1)),
    c.CancelMilestone(code=CODE, key="uat", reason="merged into go-live"),
    c.AddTask(code=CODE, key="write-tests", title="Write tests"),
    c.ChangeTaskStatus(code=CODE, key="configure", to_status=TaskStatus.IN_PROGRESS),
    c.AssignTask(code=CODE, key="configure", assignee="Sam"),
    c.RescheduleTask(code=CODE, key="configure", to_date=date(2026, 4, 1), reason="waiting on data"),
]
POPULATED: list[c.Command] = [
    opened(),
    c.AddScopeItem(code=CODE, key="data-migration", title="Data migration", reason="kick-off"),
    c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=date(2026, 6, 1)),
    c.AddTask(code=CODE, key="configure", title="Configure ledger", milestone_key="uat"),
]


def _name(command: c.Command) -> str:
    return type(command).__name__


def test_the_test_commands_cover_every_command_class() -> None:
    assert {type(command) for command in EVERY_CHANGE} | {c.OpenEngagement} == set(c.Command.__subclasses__())


@pytest.mark.parametrize("command", EVERY_CHANGE, ids=_name)
def test_every_change_to_the_populated_engagement_is_accepted_while_open(command: c.Command) -> None:
    resumable = [hold()] if isinstance(command, c.Resume) else []
    assert len(when(state_of(*POPULATED, *resumable), command)) == 1


# Effective dates
TODAY = NOW.date()


def effective(command: c.Command, day: date) -> c.Command:
    """``command`` as if it took effect on ``day``."""
    return type(command).model_validate(command.model_dump() | {"effective_on": day})


def accepting(command: c.Command) -> Engagement | None:
    """A state in which ``command`` records one event."""
    if isinstance(command, c.OpenEngagement):
        return None
    return state_of(*POPULATED, *([hold()] if isinstance(command, c.Resume) else []))


EVERY_COMMAND: list[c.Command] = [opened(), *EVERY_CHANGE]


@pytest.mark.parametrize("days_ahead", [1, 365])
@pytest.mark.parametrize("command", EVERY_COMMAND, ids=_name)
def test_a_change_effective_on_a_day_that_has_not_come_is_refused(
    command: c.Command, days_ahead: int
) -> None:
    with pytest.raises(errors.EffectiveDateInFuture):
        when(accepting(command), effective(command, TODAY + timedelta(days=days_ahead)))


@pytest.mark.parametrize("days_ago", [0, 1, 30])
@pytest.mark.parametrize("command", EVERY_COMMAND, ids=_name)
def test_a_change_effective_today_or_earlier_is_recorded_with_its_effective_date(
    command: c.Command, days_ago: int
) -> None:
    day = TODAY - timedelta(days=days_ago)
    (event,) = when(accepting(command), effective(command, day))
    assert event.effective_on == day


@pytest.mark.parametrize(
    "now",
    [datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC)],
    ids=["midnight", "last-second"],
)
def test_today_is_the_day_of_the_time_the_application_passed_in(now: datetime) -> None:
    assert now.date() == date(2026, 3, 2)
    (event,) = when(None, opened(effective_on=date(2026, 3, 2)), now=now)
    assert event.effective_on == date(2026, 3, 2)
    with pytest.raises(errors.EffectiveDateInFuture):
        when(None, opened(effective_on=date(2026, 3, 3)), now=now)


def test_a_change_without_an_effective_date_is_recorded_without_one() -> None:
    (event,) = when(state_of(opened()), hold())
    assert event.effective_on is None


# Opening
def test_opening_an_engagement_records_every_field_it_was_given() -> None:
    command = opened(internal_note="won against BigCo", change_ref="SOW-1", effective_on=date(2026, 2, 27))

    assert when(None, command) == [
        ev.EngagementOpened(
            **head(1, internal_note="won against BigCo", change_ref="SOW-1", effective_on=date(2026, 2, 27)),
            code=CODE,
            title="ERP rollout",
            client_id="acme",
            client_name="ACME Manufacturing",
            manager="Dana Whitfield",
            planned_start=START,
            planned_end=END,
        )
    ]


def test_the_stream_id_is_derived_from_the_code_so_case_and_spaces_do_not_matter() -> None:
    (event,) = when(None, opened(code=" acme-erp "))
    assert isinstance(event, ev.EngagementOpened)
    assert event.code == CODE
    assert event.originator_id == ID == engagement_id("acme-erp")


def test_the_actor_comes_from_the_context_not_the_command() -> None:
    (event,) = when(None, opened(), actor="lee@pmo")
    assert event.actor == "lee@pmo"


def test_opening_a_code_that_is_taken_is_refused() -> None:
    with pytest.raises(errors.EngagementAlreadyExists):
        when(state_of(opened()), opened(title="Another ERP rollout"))


def test_opening_the_code_of_a_closed_engagement_is_refused() -> None:
    with pytest.raises(errors.EngagementAlreadyExists):
        when(state_of(opened(), close()), opened())


def test_an_engagement_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(errors.EndBeforeStart):
        when(None, opened(planned_end=date(2026, 1, 4)))


def test_an_engagement_may_start_and_end_on_the_same_day() -> None:
    (event,) = when(None, opened(planned_end=START))
    assert isinstance(event, ev.EngagementOpened)
    assert event.planned_end == START


@pytest.mark.parametrize("command", EVERY_CHANGE, ids=_name)
def test_a_change_to_an_engagement_that_does_not_exist_is_refused(command: c.Command) -> None:
    with pytest.raises(errors.EngagementNotFound):
        when(None, command)


@pytest.mark.parametrize("command", EVERY_CHANGE, ids=_name)
def test_a_closed_engagement_refuses_every_kind_of_change(command: c.Command) -> None:
    with pytest.raises(errors.EngagementIsClosed):
        when(state_of(*POPULATED, close()), command)


# Manager
def test_assigning_a_new_manager_records_the_old_and_the_new_manager() -> None:
    command = c.AssignManager(code=CODE, manager="Lee Park", reason="Dana on leave", internal_note="HR")

    assert when(state_of(opened()), command) == [
        ev.ManagerAssigned(
            **head(2, reason="Dana on leave", internal_note="HR"),
            from_manager="Dana Whitfield",
            to_manager="Lee Park",
        )
    ]


def test_assigning_the_same_manager_records_nothing() -> None:
    assert when(state_of(opened()), c.AssignManager(code=CODE, manager=" Dana Whitfield ")) == []


def test_assigning_a_manager_needs_no_reason() -> None:
    (event,) = when(state_of(opened()), c.AssignManager(code=CODE, manager="Lee Park"))
    assert event.reason is None


# Hold and resume
def test_putting_an_engagement_on_hold_records_the_state_it_left() -> None:
    command = c.PutOnHold(code=CODE, reason="budget freeze", effective_on=date(2026, 2, 27))

    assert when(state_of(opened()), command) == [
        ev.EngagementPutOnHold(
            **head(2, reason="budget freeze", effective_on=date(2026, 2, 27)),
            from_state=EngagementState.ACTIVE,
            to_state=EngagementState.ON_HOLD,
        )
    ]


@pytest.mark.parametrize("reason", [None, "", "   \t "])
def test_putting_an_engagement_on_hold_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened()), c.PutOnHold(code=CODE, reason=reason))


def test_putting_an_engagement_on_hold_that_is_on_hold_records_nothing() -> None:
    assert when(state_of(opened(), hold()), c.PutOnHold(code=CODE)) == []


def test_resuming_an_engagement_on_hold_records_it_active_again() -> None:
    command = c.Resume(code=CODE, reason="budget released")

    assert when(state_of(opened(), hold()), command) == [
        ev.EngagementResumed(
            **head(3, reason="budget released"),
            from_state=EngagementState.ON_HOLD,
            to_state=EngagementState.ACTIVE,
        )
    ]


def test_resuming_needs_no_reason() -> None:
    (event,) = when(state_of(opened(), hold()), c.Resume(code=CODE))
    assert isinstance(event, ev.EngagementResumed)
    assert event.reason is None


def test_resuming_an_active_engagement_records_nothing() -> None:
    assert when(state_of(opened()), c.Resume(code=CODE, reason="just in case")) == []


def test_an_engagement_on_hold_still_accepts_changes() -> None:
    state = state_of(*POPULATED, hold())
    (event,) = when(state, c.AssignTask(code=CODE, key="configure", assignee="Sam"))
    assert isinstance(event, ev.TaskAssigned)


# Close
def test_closing_an_active_engagement_records_the_state_it_left() -> None:
    assert when(state_of(opened()), close()) == [
        ev.EngagementClosed(
            **head(2, reason="delivered and signed off"),
            from_state=EngagementState.ACTIVE,
            to_state=EngagementState.CLOSED,
        )
    ]


def test_closing_an_engagement_on_hold_records_that_it_was_on_hold() -> None:
    assert when(state_of(opened(), hold()), close("cancelled by client")) == [
        ev.EngagementClosed(
            **head(3, reason="cancelled by client"),
            from_state=EngagementState.ON_HOLD,
            to_state=EngagementState.CLOSED,
        )
    ]


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_closing_an_engagement_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened()), c.CloseEngagement(code=CODE, reason=reason))


def test_blank_notes_and_references_are_recorded_as_absent() -> None:
    command = c.CloseEngagement(code=CODE, reason=" done ", internal_note="  ", change_ref=" ")
    (event,) = when(state_of(opened()), command)
    assert (event.reason, event.internal_note, event.change_ref) == ("done", None, None)


def test_the_recorded_time_is_the_time_the_application_passed_in() -> None:
    later = datetime(2026, 3, 9, 8, 30, tzinfo=NOW.tzinfo)
    (event,) = when(state_of(opened()), close(), now=later)
    assert event.timestamp == later


# Command shapes (pydantic)
@pytest.mark.parametrize(
    "code",
    ["", "A", "-ACME", "ACME ERP", "ACME_ERP", "ACME/ERP", "ÄCME", "X" * 33, "acme.erp"],
)
def test_a_malformed_engagement_code_is_refused(code: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.PutOnHold(code=code, reason="r")


@pytest.mark.parametrize(
    ("given_code", "normalised"),
    [("acme-erp", "ACME-ERP"), ("  Acme-Erp ", "ACME-ERP"), ("ab", "AB"), ("x" * 32, "X" * 32)],
)
def test_an_engagement_code_is_normalised_to_upper_case(given_code: str, normalised: str) -> None:
    assert c.Resume(code=given_code).code == normalised


@pytest.mark.parametrize(
    "fields",
    [
        {"actor": "mallory"},
        {"timestamp": "2026-03-02T12:00:00Z"},
        {"originator_version": 7},
        {"manger": "Lee Park"},
    ],
    ids=["actor", "timestamp", "version", "typo"],
)
def test_a_command_with_an_unexpected_field_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.AssignManager.model_validate({"code": CODE, "manager": "Lee Park", **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "   "},
        {"title": "x" * 501},
        {"client_id": "-acme"},
        {"client_id": "acme corp"},
        {"client_name": ""},
        {"manager": " "},
        {"planned_start": "not a date"},
        {"planned_end": None},
    ],
)
def test_opening_with_malformed_fields_is_refused(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = opened().model_dump() | fields
    with pytest.raises(pydantic.ValidationError):
        c.OpenEngagement.model_validate(values)


def test_commands_are_frozen() -> None:
    command = c.AssignManager(code=CODE, manager="Lee Park")
    with pytest.raises(pydantic.ValidationError):
        command.manager = "Mallory"  # type: ignore[misc]
