"""Synthetic ledgers for benchmarks and crash tests: many engagements, every kind of change.

Events are decided by the real deciders (so every one is valid) but saved in bulk, many per
transaction, so that a million events load in minutes rather than hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count, islice

from domain import commands as c
from domain import events as ev
from domain.decide import Context, decide
from domain.errors import RuleViolation
from domain.service import Ledger
from domain.state import Engagement, evolve
from domain.values import ResponsibleParty, SlipCause, TaskStatus

START = date(2026, 1, 5)
EPOCH = datetime(2026, 1, 5, 8, tzinfo=UTC)
MILESTONES = ("design", "build", "uat", "go-live")
TASKS = tuple(f"task-{n}" for n in range(8))
_CYCLE = (
    TaskStatus.IN_PROGRESS,
    TaskStatus.DONE,
    TaskStatus.IN_PROGRESS,
    TaskStatus.BLOCKED,
    TaskStatus.TODO,
)


def _opening(code: str) -> Iterator[c.Command]:
    yield c.OpenEngagement(
        code=code,
        title=f"Rollout {code}",
        client_id=f"client-{hash(code) % 7}",
        client_name="Client",
        manager="Dana",
        planned_start=START,
        planned_end=date(2026, 12, 31),
    )
    for n in range(3):
        yield c.AddScopeItem(code=code, key=f"scope-{n}", title=f"Scope {n}", reason="SOW")
    for n, key in enumerate(MILESTONES):
        yield c.PlanMilestone(
            code=code, key=key, title=key.title(), baseline=START + timedelta(days=60 * (n + 1))
        )
    for n, key in enumerate(TASKS):
        yield c.AddTask(
            code=code, key=key, title=f"Task {n}", milestone_key=MILESTONES[n % 4], assignee="ann"
        )


def _step(code: str, n: int, state: Engagement) -> c.Command:
    """The ``n``-th everyday change: slips and recoveries, task moves, scope and staffing."""
    kind = n % 5
    if kind in (0, 1):
        key = MILESTONES[n % 4]
        milestone = state.milestones[key]
        later = (n // 5) % 2 == 0
        return c.RescheduleMilestone(
            code=code,
            key=key,
            to_date=milestone.forecast + timedelta(days=3 if later else -2),
            reason="moved",
            cause=SlipCause.VENDOR_DELAY if later else None,
            responsible_party=ResponsibleParty.VENDOR if later else None,
        )
    if kind == 2:
        key = TASKS[n % len(TASKS)]
        return c.ChangeTaskStatus(
            code=code, key=key, to_status=_CYCLE[(n // 5) % len(_CYCLE)], reason="work moves on"
        )
    if kind == 3:
        return c.ReviseScopeItem(code=code, key=f"scope-{n % 3}", title=f"Scope {n}", reason="refined")
    return c.AssignTask(code=code, key=TASKS[n % len(TASKS)], assignee=f"person-{n % 11}")  # fmt: skip


def stream(code: str, length: int) -> Iterator[tuple[ev.Event, Engagement]]:
    """``length`` valid events of one engagement, decided one after another, each with the
    engagement it leaves."""
    state: Engagement | None = None
    clock = (EPOCH + timedelta(minutes=m) for m in count())
    commands = _opening(code)
    for n in count():
        command = next(commands, None) or _step(code, n, state)  # type: ignore[arg-type]
        try:
            events = decide(state, command, Context(actor="dana", now=next(clock)))
        except RuleViolation:
            continue  # e.g. a move the task table forbids: the next step will do
        for event in events:
            state = evolve(state, event)
            yield event, state
            length -= 1
            if length == 0:
                return


def load(ledger: Ledger, engagements: int, events_each: int, chunk: int = 100) -> int:
    """Record ``engagements`` streams of ``events_each`` events, interleaved chunk by chunk,
    with a snapshot every ``Ledger.snapshot_interval`` versions as the ledger itself takes them."""
    streams = [stream(f"SYN-{n:05d}", events_each) for n in range(engagements)]
    recorded = 0
    while streams:
        for s in list(streams):
            pairs = list(islice(s, chunk))
            if not pairs:
                streams.remove(s)
                continue
            ledger.save(*(event for event, _ in pairs))
            recorded += len(pairs)
            _snapshot(ledger, [state for _, state in pairs if state.version % ledger.snapshot_interval == 0])
    return recorded


def _snapshot(ledger: Ledger, states: list[Engagement]) -> None:
    if ledger.snapshots is not None and states:
        ledger.snapshots.put(
            [
                ev.EngagementSnapshot(
                    originator_id=s.id,
                    originator_version=s.version,
                    timestamp=s.last_changed_at,
                    state=s.model_dump(mode="json"),
                )
                for s in states
            ]
        )
