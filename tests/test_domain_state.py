"""Domain tests of the fold: what each event leaves behind, versions, snapshots, and slip laws."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.state import Engagement, Milestone, ScopeItem, Task, evolve, fold
from domain.values import (
    EngagementState,
    MilestoneStatus,
    ResponsibleParty,
    SlipCause,
    TaskStatus,
    engagement_id,
)
from tests.support import CODE, NOW, START, opened, state_of, when

ID = engagement_id(CODE)
UAT = date(2026, 6, 1)


class Unheard(ev.Event):
    """An event the fold has never heard of (no topic: it is never stored)."""

    what: str = "nothing"


def history(*commands: c.Command, start: datetime = NOW) -> list[ev.Event]:
    """Every event ``commands`` record, one minute apart."""
    state: Engagement | None = None
    events: list[ev.Event] = []
    for n, command in enumerate(commands):
        new = when(state, command, now=start + timedelta(minutes=n))
        state = fold(state, new)
        events += new
    return events


def folded(events: list[ev.Event]) -> Engagement:
    state = fold(None, events)
    assert state is not None
    return state


PLAN_UAT = c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=UAT)


def slip(to_date: date) -> c.RescheduleMilestone:
    return c.RescheduleMilestone(
        code=CODE,
        key="uat",
        to_date=to_date,
        reason="vendor late",
        cause=SlipCause.VENDOR_DELAY,
        responsible_party=ResponsibleParty.VENDOR,
    )


def rebaseline(to_date: date) -> c.RebaselineMilestone:
    return c.RebaselineMilestone(
        code=CODE, key="uat", to_date=to_date, reason="agreed", change_ref="CR-9", approved_by="Ana Ruiz"
    )


# One command of each kind, so that the story below records every kind of event.
STORY: list[c.Command] = [
    opened(),
    c.AssignManager(code=CODE, manager="Lee Park"),
    c.PutOnHold(code=CODE, reason="budget freeze"),
    c.Resume(code=CODE),
    c.AddScopeItem(code=CODE, key="sso", title="Single sign-on", description="SAML", reason="SOW"),
    c.AddScopeItem(code=CODE, key="reports", title="Reports", reason="SOW"),
    c.ReviseScopeItem(code=CODE, key="sso", title="SSO", description="SAML and OIDC", reason="partners"),
    c.RemoveScopeItem(code=CODE, key="reports", reason="descoped"),
    PLAN_UAT,
    c.PlanMilestone(code=CODE, key="kickoff", title="Kick-off", baseline=date(2026, 1, 12)),
    c.PlanMilestone(code=CODE, key="pilot", title="Pilot", baseline=date(2026, 4, 1)),
    slip(date(2026, 6, 15)),
    rebaseline(date(2026, 6, 10)),
    c.AchieveMilestone(
        code=CODE,
        key="kickoff",
        actual_on=date(2026, 1, 14),
        reason="client chair was ill",
        cause=SlipCause.CLIENT_DEPENDENCY,
        responsible_party=ResponsibleParty.CLIENT,
    ),
    c.CancelMilestone(code=CODE, key="pilot", reason="merged into UAT"),
    c.AddTask(code=CODE, key="configure", title="Configure", milestone_key="uat", due_on=date(2026, 4, 1)),
    c.ChangeTaskStatus(code=CODE, key="configure", to_status=TaskStatus.BLOCKED, reason="no data"),
    c.AssignTask(code=CODE, key="configure", assignee="Sam Lee"),
    c.RescheduleTask(code=CODE, key="configure", to_date=date(2026, 4, 15), reason="data late"),
    c.CloseEngagement(code=CODE, reason="client cancelled the programme"),
]


def test_the_story_records_every_kind_of_event() -> None:
    recorded = {type(event) for event in history(*STORY)}
    # Only the domain's own events: other test modules may register event classes of their own.
    every_event = {
        cls for cls in ev.TOPICS.values() if issubclass(cls, ev.Event) and cls.__module__ == ev.__name__
    }
    assert recorded == every_event


def test_the_story_leaves_the_engagement_as_its_events_say() -> None:
    events = history(*STORY)
    last = NOW + timedelta(minutes=len(STORY) - 1)

    assert folded(events) == Engagement(
        id=ID,
        version=len(STORY),
        code=CODE,
        title="ERP rollout",
        client_id="acme",
        client_name="ACME Manufacturing",
        manager="Lee Park",
        planned_start=START,
        planned_end=date(2026, 10, 30),
        state=EngagementState.CLOSED,
        scope={
            "sso": ScopeItem(key="sso", title="SSO", description="SAML and OIDC"),
            "reports": ScopeItem(key="reports", title="Reports", removed=True),
        },
        milestones={
            "uat": Milestone(
                key="uat",
                title="UAT sign-off",
                baseline=date(2026, 6, 10),
                original_baseline=UAT,
                forecast=date(2026, 6, 15),
            ),
            "kickoff": Milestone(
                key="kickoff",
                title="Kick-off",
                baseline=date(2026, 1, 12),
                original_baseline=date(2026, 1, 12),
                forecast=date(2026, 1, 12),
                actual=date(2026, 1, 14),
                status=MilestoneStatus.ACHIEVED,
            ),
            "pilot": Milestone(
                key="pilot",
                title="Pilot",
                baseline=date(2026, 4, 1),
                original_baseline=date(2026, 4, 1),
                forecast=date(2026, 4, 1),
                status=MilestoneStatus.CANCELLED,
            ),
        },
        tasks={
            "configure": Task(
                key="configure",
                title="Configure",
                status=TaskStatus.BLOCKED,
                milestone_key="uat",
                assignee="Sam Lee",
                due_on=date(2026, 4, 15),
            )
        },
        opened_at=NOW,
        last_changed_at=last,
    )


def test_an_opened_engagement_starts_active_and_empty_at_version_one() -> None:
    state = state_of(opened())
    assert (state.id, state.version, state.state) == (ID, 1, EngagementState.ACTIVE)
    assert (state.scope, state.milestones, state.tasks) == ({}, {}, {})
    assert state.opened_at == state.last_changed_at == NOW


def test_folding_no_events_leaves_no_engagement() -> None:
    assert fold(None, []) is None


def test_hold_and_resume_move_the_state_back_and_forth() -> None:
    events = history(opened(), c.PutOnHold(code=CODE, reason="freeze"), c.Resume(code=CODE))
    assert folded(events[:2]).state is EngagementState.ON_HOLD
    assert folded(events).state is EngagementState.ACTIVE


# The fold's refusals
def test_evolve_refuses_an_event_it_has_no_handler_for() -> None:
    state = state_of(opened())
    unheard = Unheard(originator_id=ID, originator_version=2, timestamp=NOW, actor="dana")
    with pytest.raises(TypeError, match="Unheard"):
        evolve(state, unheard)


def test_an_unheard_of_event_is_not_given_a_topic() -> None:
    assert Unheard not in ev.TOPICS.values()


def test_only_an_opening_can_start_a_stream() -> None:
    (_, assigned) = history(opened(), c.AssignManager(code=CODE, manager="Lee Park"))
    with pytest.raises(ValueError, match="ManagerAssigned cannot start a stream"):
        evolve(None, assigned)


# Dates, versions and times
def test_a_rebaseline_moves_the_baseline_and_keeps_the_original_baseline_and_the_forecast() -> None:
    state = state_of(opened(), PLAN_UAT, slip(date(2026, 6, 20)), rebaseline(date(2026, 6, 12)))
    uat = state.milestones["uat"]
    assert (uat.original_baseline, uat.baseline, uat.forecast) == (UAT, date(2026, 6, 12), date(2026, 6, 20))


def test_a_second_rebaseline_still_keeps_the_first_baseline() -> None:
    state = state_of(opened(), PLAN_UAT, rebaseline(date(2026, 6, 12)), rebaseline(date(2026, 7, 1)))
    uat = state.milestones["uat"]
    assert (uat.original_baseline, uat.baseline) == (UAT, date(2026, 7, 1))


def test_a_reschedule_moves_the_forecast_only() -> None:
    uat = state_of(opened(), PLAN_UAT, slip(date(2026, 6, 20))).milestones["uat"]
    assert (uat.baseline, uat.original_baseline, uat.forecast) == (UAT, UAT, date(2026, 6, 20))


def test_achieving_keeps_the_forecast_and_sets_the_actual_date() -> None:
    state = state_of(
        opened(),
        c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2026, 2, 1)),
        c.AchieveMilestone(
            code=CODE,
            key="uat",
            actual_on=date(2026, 2, 3),
            reason="testers were off sick",
            cause=SlipCause.RESOURCE_CONSTRAINT,
            responsible_party=ResponsibleParty.PMO,
        ),
    )
    uat = state.milestones["uat"]
    assert (uat.status, uat.actual, uat.forecast) == (
        MilestoneStatus.ACHIEVED,
        date(2026, 2, 3),
        date(2026, 2, 1),
    )


def test_version_and_last_change_follow_the_events() -> None:
    events = history(*STORY[:6], start=NOW)
    state: Engagement | None = None
    for n, event in enumerate(events, start=1):
        state = evolve(state, event)
        assert state.version == event.originator_version == n
        assert state.last_changed_at == event.timestamp == NOW + timedelta(minutes=n - 1)
        assert state.opened_at == NOW


def test_a_command_that_records_nothing_leaves_version_and_time_alone() -> None:
    state = state_of(opened())
    assert fold(state, when(state, c.Resume(code=CODE), now=NOW + timedelta(days=1))) == state


def test_evolve_does_not_change_the_state_it_was_given() -> None:
    state = state_of(opened(), PLAN_UAT)
    before = state.model_copy(deep=True)
    (event,) = when(state, slip(date(2026, 6, 20)))
    evolve(state, event)
    assert state == before


# Snapshots
def snapshot_of(state: Engagement) -> ev.EngagementSnapshot:
    return ev.EngagementSnapshot(
        originator_id=state.id,
        originator_version=state.version,
        timestamp=state.last_changed_at,
        state=state.model_dump(mode="json"),
    )


def test_a_snapshot_folds_back_to_an_equal_engagement() -> None:
    state = folded(history(*STORY))
    assert evolve(None, snapshot_of(state)) == state


def test_a_snapshot_replaces_whatever_state_came_before() -> None:
    state = folded(history(*STORY))
    assert evolve(state_of(opened()), snapshot_of(state)) == state


def test_folding_on_from_a_snapshot_equals_folding_from_the_start() -> None:
    events = history(*STORY)
    middle = folded(events[:10])
    assert fold(evolve(None, snapshot_of(middle)), events[10:]) == folded(events)


# Slip laws
DAYS_AFTER_START = st.integers(min_value=0, max_value=730).map(lambda n: START + timedelta(days=n))


@settings(max_examples=150, deadline=None)
@for_all(
    moves=st.lists(
        st.tuples(DAYS_AFTER_START, st.sampled_from(SlipCause), st.sampled_from(ResponsibleParty)),
        min_size=1,
        max_size=25,
    )
)
def test_the_forecast_is_the_last_move_and_the_deltas_add_up_to_the_slip(
    moves: list[tuple[date, SlipCause, ResponsibleParty]],
) -> None:
    state = state_of(opened(), PLAN_UAT)
    recorded: list[ev.MilestoneRescheduled] = []
    for to_date, cause, party in moves:
        command = c.RescheduleMilestone(
            code=CODE, key="uat", to_date=to_date, reason="moved", cause=cause, responsible_party=party
        )
        events = when(state, command)
        after = fold(state, events)
        assert after is not None
        state = after
        recorded += [e for e in events if isinstance(e, ev.MilestoneRescheduled)]

    forecast = state.milestones["uat"].forecast
    assert forecast == moves[-1][0]
    if recorded:
        assert forecast == recorded[-1].to_date
    assert sum(e.delta_days for e in recorded) == (forecast - UAT).days
    assert all(e.baseline == UAT for e in recorded)
    assert all(e.delta_days == (e.to_date - e.from_date).days != 0 for e in recorded)
    # Each move starts where the one before it ended (the first where the plan put it).
    assert [e.from_date for e in recorded] == [UAT, *(e.to_date for e in recorded)][: len(recorded)]
    assert state.version == 2 + len(recorded)


FORECASTS = st.integers(min_value=0, max_value=120).map(lambda n: START + timedelta(days=n))
DAYS_UP_TO_TODAY = st.integers(min_value=0, max_value=(NOW.date() - START).days).map(
    lambda n: START + timedelta(days=n)
)


@settings(max_examples=150, deadline=None)
@for_all(
    forecast=FORECASTS,
    actual=DAYS_UP_TO_TODAY,
    cause=st.sampled_from(SlipCause),
    party=st.sampled_from(ResponsibleParty),
)
def test_an_achievement_needs_its_why_exactly_when_it_is_later_than_the_forecast(
    forecast: date, actual: date, cause: SlipCause, party: ResponsibleParty
) -> None:
    state = state_of(opened(), PLAN_UAT, slip(forecast))
    bare = c.AchieveMilestone(code=CODE, key="uat", actual_on=actual)
    explained = c.AchieveMilestone(
        code=CODE, key="uat", actual_on=actual, reason="late", cause=cause, responsible_party=party
    )

    if actual > forecast:
        with pytest.raises(errors.ReasonRequired):
            when(state, bare)
        with pytest.raises(errors.SlipCauseRequired):
            when(state, c.AchieveMilestone(code=CODE, key="uat", actual_on=actual, reason="late"))
        (event,) = when(state, explained)
        assert isinstance(event, ev.MilestoneAchieved)
        assert (event.reason, event.cause, event.responsible_party) == ("late", cause, party)
    else:
        (event,) = when(state, bare)
        assert isinstance(event, ev.MilestoneAchieved)
        assert (event.reason, event.cause, event.responsible_party) == (None, None, None)

    assert (event.actual_on, event.forecast, event.baseline) == (actual, forecast, UAT)
    achieved = fold(state, [event])
    assert achieved is not None
    uat = achieved.milestones["uat"]
    assert (uat.status, uat.actual, uat.forecast) == (MilestoneStatus.ACHIEVED, actual, forecast)
    # Saying it again records nothing; another date would rewrite history and is refused.
    assert when(achieved, bare) == []
    other = START if actual != START else START + timedelta(days=1)
    with pytest.raises(errors.MilestoneAlreadyAchieved):
        when(achieved, c.AchieveMilestone(code=CODE, key="uat", actual_on=other, reason="r"))
