"""Hypothesis strategies: random engagement histories made only of accepted commands."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.decide import Context, decide
from domain.state import Engagement, fold
from domain.values import ResponsibleParty, SlipCause, TaskStatus
from tests.support import NOW, START, opened

CODES = ["ACME-ERP", "GLOBEX-CRM"]
KEYS = ["a", "b", "c"]
days = st.integers(min_value=0, max_value=50).map(lambda n: START + timedelta(days=n))
reasons = st.sampled_from(["client asked", "vendor late", "re-plan"])


def _command(code: str) -> st.SearchStrategy[c.Command]:
    def on(cls: type[c.Command], **fields: st.SearchStrategy[object]) -> st.SearchStrategy[c.Command]:
        return st.builds(cls, code=st.just(code), **fields)

    key = st.sampled_from(KEYS)
    slip = {"cause": st.sampled_from(SlipCause), "responsible_party": st.sampled_from(ResponsibleParty)}
    return st.one_of(
        on(c.AddScopeItem, key=key, title=st.just("Item"), reason=reasons),
        on(c.ReviseScopeItem, key=key, title=st.sampled_from(["X", "Y"]), reason=reasons),
        on(c.RemoveScopeItem, key=key, reason=reasons),
        on(c.PlanMilestone, key=key, title=st.just("M"), baseline=days),
        on(c.RescheduleMilestone, key=key, to_date=days, reason=reasons, **slip),
        on(c.RebaselineMilestone, key=key, to_date=days, reason=reasons, change_ref=st.just("CR-1"),
           approved_by=st.just("Board")),
        on(c.AchieveMilestone, key=key, actual_on=days, reason=reasons, **slip),
        on(c.AddTask, key=key, title=st.just("T")),
        on(c.ChangeTaskStatus, key=key, to_status=st.sampled_from(TaskStatus), reason=reasons),
        on(c.AssignTask, key=key, assignee=st.sampled_from(["ann", "bo", None])),
        on(c.PutOnHold, reason=reasons),
        on(c.Resume),
    )  # fmt: skip


commands = st.lists(st.sampled_from(CODES).flatmap(_command), max_size=40)


def accepted(candidates: list[c.Command]) -> list[tuple[c.Command, list[ev.Event]]]:
    """Open every engagement, then keep the candidates the rules accept (with their events)."""
    states: dict[str, Engagement | None] = {}
    kept = []
    context = Context(actor="dana", now=NOW + timedelta(days=60))
    for command in [opened(code=code, planned_end=date(2026, 12, 31)) for code in CODES] + candidates:
        try:
            events = decide(states.get(command.code), command, context)
        except errors.RuleViolation:
            continue
        if events:
            states[command.code] = fold(states.get(command.code), events)
            kept.append((command, events))
    return kept
