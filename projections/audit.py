"""The audit trail: one row per event, with who, when, what (before and after) and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, ClassVar

import orjson

from domain import events as ev
from projections.base import Change, Projection
from projections.db import ProjectionDB, Row, Tx
from projections.summary import describe

CATEGORIES = ("engagement", "scope", "milestone", "task")
INTERNAL_TYPES = frozenset({ev.TaskAssigned})
"""Events clients never see: who works on what is the PMO's own business."""
INTERNAL_VALUES = frozenset({"assignee"})
"""Values clients never see, for the same reason, in what they do see (the task a ``TaskAdded``
names, a task in the status)."""

_COMMON = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "reason"}
    | {
        "internal_note",
        "change_ref",
        "effective_on",
        "request_id",
    }
)
_DATE_MEANS = {
    ev.MilestoneRescheduled: "forecast",
    ev.MilestoneRebaselined: "baseline",
    ev.TaskRescheduled: "due_on",
}
COLUMNS = (
    "position", "engagement_id", "code", "version", "recorded_at", "effective_on", "actor", "type",
    "category", "subject", "summary", "before", "after", "reason", "change_ref", "internal_note",
    "client_visible",
)  # fmt: skip


@cache
def _category(event_type: type[ev.Event]) -> str:
    name = event_type.__name__
    for prefix, kind in (("Scope", "scope"), ("Milestone", "milestone"), ("Task", "task")):
        if name.startswith(prefix):
            return kind
    return "engagement"


def category(event: ev.Event) -> str:
    return _category(type(event))


Pairs = tuple[tuple[str, str], ...]


@cache
def _shape(event_type: type[ev.Event]) -> tuple[Pairs, Pairs, Pairs]:
    """For each event type, once: which fields hold the old values, the new ones, and the rest."""
    own = [f for f in event_type.model_fields if f not in _COMMON]
    date_means = _DATE_MEANS.get(event_type, "date")

    def named(stem: str) -> str:
        return date_means if stem == "date" else stem

    befores = tuple((f, named(f[5:])) for f in own if f.startswith("from_"))
    afters = tuple((f, named(f[3:])) for f in own if f.startswith("to_"))
    return befores, afters, tuple((f, f) for f in own)


def before_after(event: ev.Event) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The values the event replaced and the values it set, by field name (orjson-ready)."""
    values = event.__dict__
    if isinstance(event, ev.MilestoneAchieved):
        return {"forecast": event.forecast}, {"actual": event.actual_on}
    if isinstance(event, ev.ScopeItemRemoved):
        return {"title": event.title}, {"removed": True}
    befores, afters, own = _shape(type(event))
    if not befores:
        return None, {name: values[f] for f, name in own}
    return {name: values[f] for f, name in befores}, {name: values[f] for f, name in afters}


def row(change: Change) -> tuple[Any, ...]:
    event, engagement = change.event, change.after
    before, after = before_after(event)
    subject = getattr(event, "key", None) or engagement.code
    return (
        change.position, change.engagement_id, engagement.code, event.originator_version,
        event.timestamp.isoformat(), event.effective_on and event.effective_on.isoformat(), event.actor,
        type(event).__name__, category(event), subject, describe(event, change.before),
        before and orjson.dumps(before).decode(), orjson.dumps(after).decode(), event.reason,
        event.change_ref, event.internal_note, int(type(event) not in INTERNAL_TYPES),
    )  # fmt: skip


class AuditTrail(Projection):
    name = "audit"
    tables = ("audit_trail",)

    def schema(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS audit_trail ("
            " position BIGINT PRIMARY KEY, engagement_id TEXT NOT NULL, code TEXT NOT NULL,"
            " version BIGINT NOT NULL, recorded_at TEXT NOT NULL, effective_on TEXT, actor TEXT NOT NULL,"
            " type TEXT NOT NULL, category TEXT NOT NULL, subject TEXT NOT NULL, summary TEXT NOT NULL,"
            " before TEXT, after TEXT NOT NULL, reason TEXT, change_ref TEXT, internal_note TEXT,"
            " client_visible INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS audit_trail_engagement ON audit_trail (engagement_id, position)",
        ]

    def apply(self, tx: Tx, changes: Sequence[Change]) -> None:
        tx.insert("audit_trail", COLUMNS, [row(c) for c in changes])


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor (or a client, with ``client_view``) asks of the trail."""

    engagement_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    category: str | None = None
    subject: str | None = None
    client_view: bool = False

    _CLAUSES: ClassVar[dict[str, str]] = {
        "engagement_id": "engagement_id = %s",
        "since": "recorded_at >= %s",
        "until": "recorded_at < %s",
        "actor": "actor = %s",
        "category": "category = %s",
        "subject": "subject = %s",
    }

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["position > %s"], []
        for field, clause in self._CLAUSES.items():
            value = getattr(self, field)
            if value is not None:
                clauses.append(clause)
                params.append(value.isoformat() if isinstance(value, datetime) else value)
        if self.client_view:
            clauses.append("client_visible = 1")
        return " AND ".join(clauses), params


def audit_page(db: ProjectionDB, where: AuditFilter, after: int = 0, limit: int = 100) -> list[Row]:
    """Rows matching ``where`` with positions after ``after``, in log order (keyset paging)."""
    clauses, params = where.where()
    rows = db.query(
        f"SELECT * FROM audit_trail WHERE {clauses} ORDER BY position LIMIT %s", [after, *params, limit]
    )
    if where.client_view:
        for r in rows:
            for_a_client(r)
    return rows


def for_a_client(row: Row) -> Row:
    """``row`` as a client may see it, changed in place: no internal note, no internal values."""
    row.pop("internal_note", None)
    for column in ("before", "after"):
        if row[column] and any(f'"{name}"' in row[column] for name in INTERNAL_VALUES):
            values = orjson.loads(row[column])
            row[column] = orjson.dumps({k: v for k, v in values.items() if k not in INTERNAL_VALUES}).decode()
    return row
