"""The current-status read model: each engagement as it stands now, and the portfolio of them.

One row per engagement in ``status_engagements`` and its milestones, scope items and tasks in
``status_milestones``, ``status_scope`` and ``status_tasks``. Each batch rewrites every
engagement it touched from the state after its last event, so the rows are a pure function of
the events: the same whether built live, in batches of any size, or rebuilt from zero.

Figures:

- Slip is in calendar days, positive when late: the actual date (or, until achieved, the
  forecast) minus the current baseline (``slip_days``) or the original one
  (``slip_vs_original_days``). Cancelled milestones keep their row, with no slip.
- ``milestones_total`` and ``tasks_total`` leave cancelled milestones and tasks out;
  ``tasks_by_status`` counts every task under each of the five statuses.
- ``percent_done`` is done tasks / tasks not cancelled * 100, rounded half up to a whole
  number; 0 when there are none.
- ``next_milestone`` is the open (planned) milestone with the earliest forecast (ties by key).

Health, from the engagement's state alone (no clock, so a milestone whose forecast has passed
unachieved counts only as far as its recorded forecast slips):

- **green**, reason "closed", for a closed engagement, whatever else holds;
- **red** if any open (planned: neither achieved nor cancelled) milestone's forecast is more
  than 10 days after its current baseline;
- else **amber** if any open milestone's forecast is after its current baseline, or any task
  is blocked, or the engagement is on hold;
- else **green**, reason "on track".

``health_reason`` names what earns the colour, latest milestone first, joined by "; ": for
example "Go-live 14 days late", "UAT sign-off 3 days late; 1 task blocked; on hold".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from domain.state import Engagement, Milestone
from domain.values import EngagementState, MilestoneStatus, TaskStatus, engagement_id
from projections.audit import INTERNAL_VALUES
from projections.base import Change, Projection
from projections.db import ProjectionDB, Row, Tx

RED_AFTER_DAYS = 10
"""An open milestone later than this against its current baseline makes the engagement red."""

ENGAGEMENT_COLUMNS = (
    "engagement_id", "code", "title", "client_id", "client_name", "manager", "state", "planned_start",
    "planned_end", "version", "last_position", "last_changed_at", "milestones_total",
    "milestones_achieved", "tasks_total", "tasks_done", "tasks_by_status", "percent_done", "health",
    "health_reason", "next_milestone", "next_milestone_forecast", "current_slip_days",
)  # fmt: skip
MILESTONE_COLUMNS = (
    "engagement_id", "key", "title", "baseline", "original_baseline", "forecast", "actual", "status",
    "slip_days", "slip_vs_original_days",
)  # fmt: skip
SCOPE_COLUMNS = ("engagement_id", "key", "title", "description", "removed")
TASK_COLUMNS = ("engagement_id", "key", "title", "status", "milestone_key", "assignee", "due_on")

_UPSERT = (
    f"INSERT INTO status_engagements ({', '.join(ENGAGEMENT_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(ENGAGEMENT_COLUMNS))})"
    " ON CONFLICT (engagement_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ENGAGEMENT_COLUMNS[1:])
)
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS status_engagements (engagement_id TEXT PRIMARY KEY, code TEXT NOT NULL,"
    " title TEXT NOT NULL, client_id TEXT NOT NULL, client_name TEXT NOT NULL, manager TEXT NOT NULL,"
    " state TEXT NOT NULL, planned_start TEXT NOT NULL, planned_end TEXT NOT NULL,"
    " version BIGINT NOT NULL, last_position BIGINT NOT NULL, last_changed_at TEXT NOT NULL,"
    " milestones_total INTEGER NOT NULL, milestones_achieved INTEGER NOT NULL,"
    " tasks_total INTEGER NOT NULL, tasks_done INTEGER NOT NULL, tasks_by_status TEXT NOT NULL,"
    " percent_done INTEGER NOT NULL, health TEXT NOT NULL, health_reason TEXT NOT NULL,"
    " next_milestone TEXT, next_milestone_forecast TEXT, current_slip_days INTEGER)",
    "CREATE UNIQUE INDEX IF NOT EXISTS status_engagements_code ON status_engagements (code)",
    "CREATE INDEX IF NOT EXISTS status_engagements_client ON status_engagements (client_id, code)",
    "CREATE TABLE IF NOT EXISTS status_milestones (engagement_id TEXT NOT NULL, key TEXT NOT NULL,"
    " title TEXT NOT NULL, baseline TEXT NOT NULL, original_baseline TEXT NOT NULL,"
    " forecast TEXT NOT NULL, actual TEXT, status TEXT NOT NULL, slip_days INTEGER,"
    " slip_vs_original_days INTEGER, PRIMARY KEY (engagement_id, key))",
    "CREATE TABLE IF NOT EXISTS status_scope (engagement_id TEXT NOT NULL, key TEXT NOT NULL,"
    " title TEXT NOT NULL, description TEXT NOT NULL, removed INTEGER NOT NULL,"
    " PRIMARY KEY (engagement_id, key))",
    "CREATE TABLE IF NOT EXISTS status_tasks (engagement_id TEXT NOT NULL, key TEXT NOT NULL,"
    " title TEXT NOT NULL, status TEXT NOT NULL, milestone_key TEXT, assignee TEXT, due_on TEXT,"
    " PRIMARY KEY (engagement_id, key))",
]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def slip(milestone: Milestone, against: date) -> int | None:
    """Days from ``against`` to the actual date (or the forecast); ``None`` once cancelled."""
    if milestone.status is MilestoneStatus.CANCELLED:
        return None
    return ((milestone.actual or milestone.forecast) - against).days


def open_milestones(e: Engagement) -> list[Milestone]:
    return [m for m in e.milestones.values() if m.status is MilestoneStatus.PLANNED]


def next_milestone(e: Engagement) -> Milestone | None:
    return min(open_milestones(e), key=lambda m: (m.forecast, m.key), default=None)


def _next_columns(e: Engagement) -> tuple[str | None, str | None, int | None]:
    """``next_milestone``, ``next_milestone_forecast`` and ``current_slip_days``."""
    upcoming = next_milestone(e)
    if upcoming is None:
        return None, None, None
    return upcoming.key, upcoming.forecast.isoformat(), slip(upcoming, upcoming.baseline)


def percent_done(done: int, not_cancelled: int) -> int:
    """``done`` of ``not_cancelled`` as a whole percentage, rounded half up (0 of 0 is 0)."""
    return (200 * done + not_cancelled) // (2 * not_cancelled) if not_cancelled else 0


@dataclass(frozen=True)
class Health:
    colour: str
    reason: str


def _latest_first(late: tuple[int, str]) -> tuple[int, str]:
    return -late[0], late[1]


def health(e: Engagement) -> Health:
    """The engagement's flag and why, by the rule in this module's docstring."""
    if e.state is EngagementState.CLOSED:
        return Health("green", "closed")
    late = sorted((((m.forecast - m.baseline).days, m.title) for m in open_milestones(e)), key=_latest_first)
    red = [f"{title} {_plural(days, 'day')} late" for days, title in late if days > RED_AFTER_DAYS]
    if red:
        return Health("red", "; ".join(red))
    amber = [f"{title} {_plural(days, 'day')} late" for days, title in late if days > 0]
    blocked = sum(t.status is TaskStatus.BLOCKED for t in e.tasks.values())
    amber += [f"{_plural(blocked, 'task')} blocked"] if blocked else []
    amber += ["on hold"] if e.state is EngagementState.ON_HOLD else []
    return Health("amber", "; ".join(amber)) if amber else Health("green", "on track")


def engagement_row(change: Change) -> tuple[Any, ...]:
    e = change.after
    by_status = Counter(t.status for t in e.tasks.values())
    milestones = [m for m in e.milestones.values() if m.status is not MilestoneStatus.CANCELLED]
    achieved = sum(m.status is MilestoneStatus.ACHIEVED for m in milestones)
    tasks_total = len(e.tasks) - by_status[TaskStatus.CANCELLED]
    flag = health(e)
    return (
        str(e.id), e.code, e.title, e.client_id, e.client_name, e.manager, e.state.value,
        e.planned_start.isoformat(), e.planned_end.isoformat(), e.version, change.position,
        e.last_changed_at.isoformat(), len(milestones), achieved, tasks_total,
        by_status[TaskStatus.DONE], orjson.dumps({s.value: by_status[s] for s in TaskStatus}).decode(),
        percent_done(by_status[TaskStatus.DONE], tasks_total), flag.colour, flag.reason,
        *_next_columns(e),
    )  # fmt: skip


def milestone_row(e: Engagement, m: Milestone) -> tuple[Any, ...]:
    return (
        str(e.id), m.key, m.title, m.baseline.isoformat(), m.original_baseline.isoformat(),
        m.forecast.isoformat(), _iso(m.actual), m.status.value, slip(m, m.baseline),
        slip(m, m.original_baseline),
    )  # fmt: skip


def milestone_rows(e: Engagement) -> list[tuple[Any, ...]]:
    return [milestone_row(e, m) for m in e.milestones.values()]


def scope_rows(e: Engagement) -> list[tuple[Any, ...]]:
    return [(str(e.id), s.key, s.title, s.description, int(s.removed)) for s in e.scope.values()]


def task_rows(e: Engagement) -> list[tuple[Any, ...]]:
    return [
        (str(e.id), t.key, t.title, t.status.value, t.milestone_key, t.assignee, _iso(t.due_on))
        for t in e.tasks.values()
    ]


_CHILDREN: list[tuple[str, tuple[str, ...], Callable[[Engagement], list[tuple[Any, ...]]]]] = [
    ("status_milestones", MILESTONE_COLUMNS, milestone_rows),
    ("status_scope", SCOPE_COLUMNS, scope_rows),
    ("status_tasks", TASK_COLUMNS, task_rows),
]


class CurrentStatus(Projection):
    name = "status"
    tables = ("status_engagements", "status_milestones", "status_scope", "status_tasks")
    keeps = "state"

    def schema(self, dialect: str) -> list[str]:
        return list(_SCHEMA)

    def apply(self, tx: Tx, changes: Sequence[Change]) -> None:
        """Rewrite each engagement the batch touched, as its last change in the batch left it."""
        latest = list({c.engagement_id: c for c in changes}.values())
        tx.executemany(_UPSERT, [engagement_row(c) for c in latest])
        ids = [(c.engagement_id,) for c in latest]
        for table, columns, rows_of in _CHILDREN:
            tx.executemany(f"DELETE FROM {table} WHERE engagement_id = %s", ids)
            rows = [row for c in latest for row in rows_of(c.after)]
            if rows:
                tx.insert(table, columns, rows)


@dataclass(frozen=True)
class EngagementStatus:
    """One engagement's status row with its milestones (by date), scope items and tasks (by key)."""

    engagement: Row
    milestones: tuple[Row, ...]
    scope: tuple[Row, ...]
    tasks: tuple[Row, ...]

    def for_a_client(self) -> EngagementStatus:
        """The status as a client sees it: its tasks without internal values (the assignee)."""
        tasks = tuple({k: v for k, v in task.items() if k not in INTERNAL_VALUES} for task in self.tasks)
        return EngagementStatus(self.engagement, self.milestones, self.scope, tasks)

    @property
    def tasks_by_status(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {s.value: [] for s in TaskStatus}
        for task in self.tasks:
            grouped[task["status"]].append(task)
        return grouped


def _decoded(row: Row) -> Row:
    return {**row, "tasks_by_status": orjson.loads(row["tasks_by_status"])}


def portfolio(
    db: ProjectionDB, client_id: str | None = None, after: str | None = None, limit: int | None = None
) -> list[Row]:
    """Every engagement's status row (only ``client_id``'s, if given), by code; with ``after`` and
    ``limit``, the first ``limit`` rows whose codes sort after ``after`` (keyset paging)."""
    return [_decoded(row) for row in db.query(*_portfolio_query(client_id, after, limit))]


async def portfolio_async(
    db: ProjectionDB, client_id: str | None = None, after: str | None = None, limit: int | None = None
) -> list[Row]:
    """``portfolio`` for a coroutine."""
    return [_decoded(row) for row in await db.query_async(*_portfolio_query(client_id, after, limit))]


def _portfolio_query(client_id: str | None, after: str | None, limit: int | None) -> tuple[str, list[Any]]:
    """The portfolio's statement and its parameters (``after``: a code, in either case)."""
    wanted = {"client_id = %s": client_id, "code > %s": after and after.upper()}
    clauses = [clause for clause, value in wanted.items() if value is not None]
    params: list[Any] = [value for value in wanted.values() if value is not None]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    statement = f"SELECT * FROM status_engagements{where} ORDER BY code"
    if limit is None:
        return statement, params
    return f"{statement} LIMIT %s", [*params, limit]


_CHILDREN_ORDER = {
    "milestones": ("status_milestones", "COALESCE(actual, forecast), key"),
    "scope": ("status_scope", "key"),
    "tasks": ("status_tasks", "key"),
}
"""Each child table of an engagement's status, in the order its rows are shown."""
_CHILD_QUERIES = {
    name: f"SELECT * FROM {table} WHERE engagement_id = %s ORDER BY {order}"
    for name, (table, order) in _CHILDREN_ORDER.items()
}
_CHILDREN_AS_JSON = ", ".join(
    f"(SELECT COALESCE(json_agg(c ORDER BY {order}), '[]')::text FROM {table} c"
    f" WHERE c.engagement_id = e.engagement_id) AS {name}"
    for name, (table, order) in _CHILDREN_ORDER.items()
)
_STATUS_AS_JSON = (
    f"SELECT row_to_json(e)::text AS engagement, {_CHILDREN_AS_JSON}"
    " FROM status_engagements e WHERE engagement_id = %s"
)
"""On PostgreSQL: the status and its children as JSON from one statement, which sees one
snapshot by itself: one round trip instead of a transaction of six."""


def engagement_status(db: ProjectionDB, code: str) -> EngagementStatus | None:
    """The engagement with ``code`` and everything under it, read in one snapshot; ``None`` if unknown."""
    stream = str(engagement_id(code))
    if db.dialect == "postgres":
        return _status_of_json(db.query(_STATUS_AS_JSON, [stream]))
    with db.reading() as tx:
        found = tx.query("SELECT * FROM status_engagements WHERE engagement_id = %s", [stream])
        if not found:
            return None
        children = {name: tuple(tx.query(sql, [stream])) for name, sql in _CHILD_QUERIES.items()}
    return EngagementStatus(engagement=_decoded(found[0]), **children)


async def engagement_status_async(db: ProjectionDB, code: str) -> EngagementStatus | None:
    """``engagement_status`` for a coroutine: on PostgreSQL one statement, in no thread of its own."""
    if db.dialect == "postgres":
        return _status_of_json(await db.query_async(_STATUS_AS_JSON, [str(engagement_id(code))]))
    return await asyncio.to_thread(engagement_status, db, code)


def _status_of_json(rows: list[Row]) -> EngagementStatus | None:
    if not rows:
        return None
    found = {name: orjson.loads(text) for name, text in rows[0].items()}
    children = {name: tuple(found[name]) for name in _CHILD_QUERIES}
    return EngagementStatus(engagement=_decoded(found["engagement"]), **children)
