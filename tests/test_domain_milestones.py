"""Domain tests of milestones: plan, reschedule with a slip cause, re-baseline, achieve, cancel."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pydantic
import pytest

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.state import Engagement
from domain.values import MilestoneStatus, ResponsibleParty, SlipCause, engagement_id
from tests.support import CODE, NOW, START, head, opened, state_of, when

ID = engagement_id(CODE)
UAT = date(2026, 6, 1)
TODAY = NOW.date()


def plan(key: str | None = "uat", title: str = "UAT sign-off", **fields: Any) -> c.PlanMilestone:
    values: dict[str, Any] = {"baseline": UAT} | fields
    return c.PlanMilestone(code=CODE, key=key, title=title, **values)


def reschedule(to_date: date, **fields: Any) -> c.RescheduleMilestone:
    values: dict[str, Any] = {
        "reason": "vendor shipped late",
        "cause": SlipCause.VENDOR_DELAY,
        "responsible_party": ResponsibleParty.VENDOR,
    } | fields
    return c.RescheduleMilestone(code=CODE, key="uat", to_date=to_date, **values)


def rebaseline(to_date: date, **fields: Any) -> c.RebaselineMilestone:
    values: dict[str, Any] = {
        "reason": "scope grew",
        "change_ref": "CR-9",
        "approved_by": "Ana Ruiz",
    } | fields
    return c.RebaselineMilestone(code=CODE, key="uat", to_date=to_date, **values)


def achieve(actual_on: date = TODAY, **fields: Any) -> c.AchieveMilestone:
    return c.AchieveMilestone(code=CODE, key="uat", actual_on=actual_on, **fields)


LATE: dict[str, Any] = {
    "reason": "client sign-off came late",
    "cause": SlipCause.CLIENT_DEPENDENCY,
    "responsible_party": ResponsibleParty.CLIENT,
}
"""The why a late achievement needs: a reason, a slip cause and a responsible party."""


def cancel(reason: str | None = "merged into go-live") -> c.CancelMilestone:
    return c.CancelMilestone(code=CODE, key="uat", reason=reason)


def planned() -> Engagement:
    return state_of(opened(), plan())


# Plan
def test_planning_a_milestone_sets_its_forecast_to_its_baseline() -> None:
    command = plan(internal_note="tight", effective_on=date(2026, 2, 27))

    assert when(state_of(opened()), command) == [
        ev.MilestonePlanned(
            **head(2, internal_note="tight", effective_on=date(2026, 2, 27)),
            key="uat",
            title="UAT sign-off",
            baseline=UAT,
            forecast=UAT,
        )
    ]


def test_planning_a_milestone_needs_no_reason() -> None:
    (event,) = when(state_of(opened()), plan())
    assert event.reason is None


def test_planning_a_milestone_with_a_key_that_exists_is_refused() -> None:
    with pytest.raises(errors.MilestoneAlreadyExists):
        when(planned(), plan(title="UAT again", baseline=date(2026, 7, 1)))


def test_a_milestone_planned_without_a_key_gets_a_slug_of_its_title() -> None:
    (event,) = when(state_of(opened()), plan(key=None, title="Go-Live: Wave 1"))
    assert isinstance(event, ev.MilestonePlanned)
    assert event.key == "go-live-wave-1"


def test_server_assigned_milestone_keys_are_made_unique_with_a_counter() -> None:
    state = state_of(opened(), plan(key=None), plan(key=None), plan(key=None, title="uat sign off"))
    assert list(state.milestones) == ["uat-sign-off", "uat-sign-off-2", "uat-sign-off-3"]


def test_a_server_assigned_milestone_key_avoids_a_key_chosen_by_hand() -> None:
    state = state_of(opened(), plan(key="uat-sign-off"), plan(key=None))
    assert list(state.milestones) == ["uat-sign-off", "uat-sign-off-2"]


def test_planning_a_milestone_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(state_of(opened()), plan(baseline=START - timedelta(days=1)))


def test_a_forecast_cannot_be_given_when_planning() -> None:
    # The forecast starts at the baseline; moving it is a reschedule, which records a cause.
    with pytest.raises(pydantic.ValidationError):
        c.PlanMilestone.model_validate(
            {"code": CODE, "key": "uat", "title": "UAT sign-off", "baseline": UAT, "forecast": UAT}
        )


def test_a_milestone_may_be_planned_on_the_first_day() -> None:
    (event,) = when(state_of(opened()), plan(baseline=START))
    assert isinstance(event, ev.MilestonePlanned)
    assert event.forecast == START


@pytest.mark.parametrize("key", ["UAT", "-uat", "uat sign-off", "uat.1", "x" * 64])
def test_a_malformed_milestone_key_is_refused(key: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.RescheduleMilestone(code=CODE, key=key, to_date=UAT)


@pytest.mark.parametrize("field", ["cause", "responsible_party"])
def test_a_slip_cause_outside_the_fixed_lists_is_refused(field: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.RescheduleMilestone.model_validate({"code": CODE, "key": "uat", "to_date": UAT, field: "gremlins"})


# Reschedule
def test_moving_a_milestone_later_records_the_slip_its_cause_and_who_is_responsible() -> None:
    command = reschedule(
        date(2026, 6, 15), change_ref="CR-2", internal_note="vendor penalty?", effective_on=date(2026, 2, 27)
    )

    assert when(planned(), command) == [
        ev.MilestoneRescheduled(
            **head(
                3,
                reason="vendor shipped late",
                change_ref="CR-2",
                internal_note="vendor penalty?",
                effective_on=date(2026, 2, 27),
            ),
            key="uat",
            from_date=UAT,
            to_date=date(2026, 6, 15),
            delta_days=14,
            baseline=UAT,
            cause=SlipCause.VENDOR_DELAY,
            responsible_party=ResponsibleParty.VENDOR,
        )
    ]


def test_moving_a_milestone_earlier_needs_no_slip_cause() -> None:
    command = reschedule(date(2026, 5, 25), reason="team freed up", cause=None, responsible_party=None)

    assert when(planned(), command) == [
        ev.MilestoneRescheduled(
            **head(3, reason="team freed up"),
            key="uat",
            from_date=UAT,
            to_date=date(2026, 5, 25),
            delta_days=-7,
            baseline=UAT,
        )
    ]


def test_a_delta_is_measured_from_the_forecast_and_the_baseline_is_carried_along() -> None:
    state = state_of(opened(), plan(), reschedule(date(2026, 6, 15)), rebaseline(date(2026, 6, 10)))
    (event,) = when(state, reschedule(date(2026, 6, 20)))
    assert isinstance(event, ev.MilestoneRescheduled)
    assert (event.from_date, event.to_date, event.delta_days, event.baseline) == (
        date(2026, 6, 15),
        date(2026, 6, 20),
        5,
        date(2026, 6, 10),
    )


@pytest.mark.parametrize(
    "missing", [{"cause": None}, {"responsible_party": None}, {"cause": None, "responsible_party": None}]
)
def test_moving_a_milestone_later_without_cause_and_party_is_refused(missing: dict[str, None]) -> None:
    with pytest.raises(errors.SlipCauseRequired):
        when(planned(), reschedule(date(2026, 6, 2), **missing))


@pytest.mark.parametrize("to_date", [date(2026, 6, 15), date(2026, 5, 15)], ids=["later", "earlier"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_moving_a_milestone_without_a_reason_is_refused(to_date: date, reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(planned(), reschedule(to_date, reason=reason))


def test_rescheduling_a_milestone_to_its_forecast_records_nothing() -> None:
    command = reschedule(UAT, reason=None, cause=None, responsible_party=None)
    assert when(planned(), command) == []


def test_rescheduling_a_milestone_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(planned(), reschedule(START - timedelta(days=1)))


def test_rescheduling_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(errors.UnknownMilestone):
        when(state_of(opened()), reschedule(date(2026, 6, 15)))


def test_rescheduling_an_achieved_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneAlreadyAchieved):
        when(state_of(opened(), plan(), achieve()), reschedule(date(2026, 6, 15)))


def test_rescheduling_a_cancelled_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneIsCancelled):
        when(state_of(opened(), plan(), cancel()), reschedule(date(2026, 6, 15)))


# Rebaseline
def test_rebaselining_records_the_old_and_new_baseline_the_approval_and_the_forecast() -> None:
    state = state_of(opened(), plan(), reschedule(date(2026, 6, 15)))

    assert when(state, rebaseline(date(2026, 6, 12), effective_on=date(2026, 2, 28))) == [
        ev.MilestoneRebaselined(
            **head(4, reason="scope grew", change_ref="CR-9", effective_on=date(2026, 2, 28)),
            key="uat",
            from_date=UAT,
            to_date=date(2026, 6, 12),
            forecast=date(2026, 6, 15),
            approved_by="Ana Ruiz",
        )
    ]


def test_rebaselining_earlier_is_accepted_too() -> None:
    (event,) = when(planned(), rebaseline(date(2026, 5, 1)))
    assert isinstance(event, ev.MilestoneRebaselined)
    assert (event.from_date, event.to_date) == (UAT, date(2026, 5, 1))


def test_rebaselining_to_the_same_baseline_records_nothing() -> None:
    assert when(planned(), rebaseline(UAT, reason=None, change_ref=None, approved_by=None)) == []


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_rebaselining_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(planned(), rebaseline(date(2026, 7, 1), reason=reason))


@pytest.mark.parametrize("change_ref", [None, "", "   "])
def test_rebaselining_without_a_change_request_is_refused(change_ref: str | None) -> None:
    with pytest.raises(errors.ChangeRefRequired):
        when(planned(), rebaseline(date(2026, 7, 1), change_ref=change_ref))


def test_rebaselining_without_an_approver_is_refused() -> None:
    with pytest.raises(errors.ApproverRequired):
        when(planned(), rebaseline(date(2026, 7, 1), approved_by=None))


def test_a_blank_approver_is_refused_as_malformed() -> None:
    with pytest.raises(pydantic.ValidationError):
        rebaseline(date(2026, 7, 1), approved_by="   ")


def test_rebaselining_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(planned(), rebaseline(START - timedelta(days=1)))


def test_rebaselining_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(errors.UnknownMilestone):
        when(state_of(opened()), rebaseline(date(2026, 7, 1)))


def test_rebaselining_an_achieved_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneAlreadyAchieved):
        when(state_of(opened(), plan(), achieve()), rebaseline(date(2026, 7, 1)))


def test_rebaselining_a_cancelled_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneIsCancelled):
        when(state_of(opened(), plan(), cancel()), rebaseline(date(2026, 7, 1)))


# Achieve
DUE = date(2026, 2, 25)
"""A forecast that has passed by ``TODAY``, so the milestone can be achieved late."""


def due(baseline: date = DUE, forecast: date = DUE) -> Engagement:
    """The engagement with milestone ``uat`` planned on ``baseline`` and forecast for ``forecast``."""
    moves = [] if forecast == baseline else [reschedule(forecast)]
    return state_of(opened(), plan(baseline=baseline), *moves)


def test_achieving_a_milestone_late_records_the_actual_date_the_dates_it_missed_and_why() -> None:
    state = due(baseline=date(2026, 2, 20), forecast=DUE)
    command = achieve(date(2026, 2, 27), **LATE, change_ref="CR-5", effective_on=date(2026, 2, 27))

    assert when(state, command) == [
        ev.MilestoneAchieved(
            **head(4, reason="client sign-off came late", change_ref="CR-5", effective_on=date(2026, 2, 27)),
            key="uat",
            actual_on=date(2026, 2, 27),
            forecast=DUE,
            baseline=date(2026, 2, 20),
            cause=SlipCause.CLIENT_DEPENDENCY,
            responsible_party=ResponsibleParty.CLIENT,
        )
    ]


@pytest.mark.parametrize(
    "actual_on", [DUE, DUE - timedelta(days=1), START], ids=["on-the-forecast", "a-day-early", "first-day"]
)
def test_achieving_a_milestone_on_or_before_its_forecast_needs_no_reason_and_no_cause(
    actual_on: date,
) -> None:
    assert when(due(), achieve(actual_on)) == [
        ev.MilestoneAchieved(**head(3), key="uat", actual_on=actual_on, forecast=DUE, baseline=DUE)
    ]


def test_lateness_is_measured_from_the_forecast_not_the_baseline() -> None:
    # Achieved after the baseline but on the forecast: the slip was recorded when the forecast moved.
    state = due(baseline=date(2026, 2, 20), forecast=DUE)
    (event,) = when(state, achieve(DUE))
    assert isinstance(event, ev.MilestoneAchieved)
    assert (event.actual_on, event.forecast, event.baseline) == (DUE, DUE, date(2026, 2, 20))
    assert (event.reason, event.cause, event.responsible_party) == (None, None, None)


def test_achieving_after_a_forecast_that_was_brought_forward_is_late_even_before_the_baseline() -> None:
    state = due(baseline=DUE, forecast=date(2026, 2, 20))
    with pytest.raises(errors.SlipCauseRequired):
        when(state, achieve(date(2026, 2, 23), reason="took longer than hoped"))


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_achieving_a_milestone_after_its_forecast_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(due(), achieve(DUE + timedelta(days=1), **(LATE | {"reason": reason})))


@pytest.mark.parametrize(
    "missing",
    [{"cause": None}, {"responsible_party": None}, {"cause": None, "responsible_party": None}],
    ids=["no-cause", "no-party", "neither"],
)
def test_achieving_a_milestone_after_its_forecast_without_cause_and_party_is_refused(
    missing: dict[str, None],
) -> None:
    with pytest.raises(errors.SlipCauseRequired):
        when(due(), achieve(DUE + timedelta(days=1), **(LATE | missing)))


def test_a_milestone_can_be_achieved_today() -> None:
    (event,) = when(planned(), achieve(TODAY))
    assert isinstance(event, ev.MilestoneAchieved)
    assert event.actual_on == TODAY


def test_achieving_a_milestone_tomorrow_is_refused() -> None:
    with pytest.raises(errors.ActualDateInFuture):
        when(planned(), achieve(TODAY + timedelta(days=1)))


def test_achieving_a_milestone_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(planned(), achieve(START - timedelta(days=1)))


def test_achieving_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(errors.UnknownMilestone):
        when(state_of(opened()), achieve())


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (achieve(DUE), achieve(DUE)),
        (achieve(DUE + timedelta(days=2), **LATE), achieve(DUE + timedelta(days=2))),
        (achieve(DUE), achieve(DUE, **LATE)),
    ],
    ids=["on-time", "late-again-without-why", "again-with-another-why"],
)
def test_achieving_an_achieved_milestone_on_the_same_date_records_nothing(
    first: c.AchieveMilestone, again: c.AchieveMilestone
) -> None:
    assert when(state_of(opened(), plan(baseline=DUE), first), again) == []


@pytest.mark.parametrize(
    "other_day", [DUE - timedelta(days=1), DUE + timedelta(days=1)], ids=["earlier", "later"]
)
def test_achieving_an_achieved_milestone_on_another_date_is_refused(other_day: date) -> None:
    with pytest.raises(errors.MilestoneAlreadyAchieved):
        when(state_of(opened(), plan(baseline=DUE), achieve(DUE)), achieve(other_day, **LATE))


def test_achieving_a_cancelled_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneIsCancelled):
        when(state_of(opened(), plan(), cancel()), achieve())


# Cancel
def test_cancelling_a_milestone_records_the_status_it_left() -> None:
    assert when(planned(), cancel()) == [
        ev.MilestoneCancelled(
            **head(3, reason="merged into go-live"),
            key="uat",
            from_status=MilestoneStatus.PLANNED,
            to_status=MilestoneStatus.CANCELLED,
        )
    ]


@pytest.mark.parametrize("reason", [None, "", " \t"])
def test_cancelling_a_milestone_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(planned(), cancel(reason))


def test_cancelling_a_cancelled_milestone_records_nothing() -> None:
    assert when(state_of(opened(), plan(), cancel()), cancel(reason=None)) == []


def test_cancelling_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(errors.UnknownMilestone):
        when(state_of(opened()), cancel())


def test_cancelling_an_achieved_milestone_is_refused() -> None:
    with pytest.raises(errors.MilestoneAlreadyAchieved):
        when(state_of(opened(), plan(), achieve()), cancel())
