"""What the benchmarks record: an engagement whose go-live milestone slips and recovers, over and over.

Every command moves the forecast to the other of two dates, later with a slip cause and a
responsible party, then back, each with a reason, so each one records exactly one
``MilestoneRescheduled``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import chain, count, cycle, islice

from domain import commands as c
from domain import events as ev
from domain.decide import Context, decide
from domain.service import Ledger, Outcome, utc_now
from domain.state import evolve
from domain.values import ResponsibleParty, SlipCause

ACTOR = "bench"
MILESTONE = "go-live"
BASELINE = date(2026, 6, 1)
SLIPPED = date(2026, 6, 15)


def opening(code: str) -> list[c.Command]:
    """The commands that open ``code`` and plan its milestone: two events."""
    return [
        c.OpenEngagement(
            code=code,
            title="ERP rollout",
            client_id="acme",
            client_name="ACME Manufacturing",
            manager="Dana Whitfield",
            planned_start=date(2026, 1, 5),
            planned_end=date(2026, 10, 30),
        ),
        c.PlanMilestone(code=code, key=MILESTONE, title="Go-live", baseline=BASELINE),
    ]


def reschedules(code: str) -> Iterator[c.RescheduleMilestone]:
    """Slip, recover, slip, recover... starting from a forecast on the baseline."""
    slip = c.RescheduleMilestone(
        code=code,
        key=MILESTONE,
        to_date=SLIPPED,
        cause=SlipCause.VENDOR_DELAY,
        responsible_party=ResponsibleParty.VENDOR,
        reason="the vendor shipped the interface build two weeks late",
    )
    recover = c.RescheduleMilestone(
        code=code, key=MILESTONE, to_date=BASELINE, reason="the vendor caught up over the weekend"
    )
    return cycle((slip, recover))


def seed(ledger: Ledger, code: str, events: int) -> Iterator[c.RescheduleMilestone]:
    """Record commands on ``code`` until it has ``events`` events; the commands that come next."""
    version = 0
    for command in opening(code):
        version = record(ledger, command).version
    commands = reschedules(code)
    while version < events:
        version = record(ledger, next(commands)).version
    return commands


def record(ledger: Ledger, command: c.Command) -> Outcome:
    """``ledger.execute(command)``, which must record something for the benchmark to mean anything."""
    outcome = ledger.execute(command, ACTOR)
    if not outcome.events:
        raise RuntimeError(f"{type(command).__name__} recorded nothing: the workload is out of step")
    return outcome


def decided(ledger: Ledger, code: str, commands: Iterator[c.RescheduleMilestone]) -> list[ev.Event]:
    """The events of the next two ``commands`` on ``code``, as the decider writes them, not saved."""
    state = ledger.engagement(code)
    context = Context(actor=ACTOR, now=utc_now())
    first = _one_event(decide(state, next(commands), context))
    second = _one_event(decide(evolve(state, first), next(commands), context))
    return [first, second]


def _one_event(events: list[ev.Event]) -> ev.Event:
    if len(events) != 1:
        raise RuntimeError(f"expected one event, got {len(events)}: the workload is out of step")
    return events[0]


def numbered(pair: list[ev.Event]) -> Iterator[ev.Event]:
    """``pair``, repeated for ever, each copy numbered after the one before."""
    first = pair[0].originator_version
    return (
        event.model_copy(update={"originator_version": version})
        for version, event in zip(count(first), cycle(pair), strict=False)
    )


def prebuilt(pair: list[ev.Event], ready: int) -> Iterator[ev.Event]:
    """``numbered(pair)`` with the first ``ready`` copies made now; any further ones, when needed."""
    events = numbered(pair)
    return chain(list(islice(events, ready)), events)
