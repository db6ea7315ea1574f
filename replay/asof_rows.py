"""Read-model rows made by the projections' own row functions, shaped as their queries return them.

The status projection keeps an engagement's rows as its last change left them, and its query
decodes ``tasks_by_status`` and orders the children; the change log is the audit trail's
client view. These give the same rows from changes, without a table in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from projections import audit
from projections import status as live_status
from projections.base import Change
from projections.db import Row

INTERNAL_TOPICS = frozenset(t.TOPIC for t in audit.INTERNAL_TYPES)
"""Topics of the events a change log leaves out (``projections.audit.INTERNAL_TYPES``)."""


@dataclass(frozen=True)
class ChangePage:
    """Change-log rows (as ``projections.audit.audit_page`` reads them for a client) and what follows."""

    rows: list[Row]
    next_after: int | None
    """The page's last position if more rows follow, else ``None``."""


def rows(columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> list[Row]:
    return [dict(zip(columns, v, strict=True)) for v in values]


def client_changes(changes: Iterable[Change]) -> list[Row]:
    """The change-log rows of ``changes``: the client-visible ones, without internal notes or values."""
    visible = rows(audit.COLUMNS, [audit.row(c) for c in changes if c.event.TOPIC not in INTERNAL_TOPICS])
    return [audit.for_a_client(r) for r in visible]


def _by_date(milestone: Row) -> tuple[str, str]:
    """``status_milestones`` order: ``COALESCE(actual, forecast), key`` (ISO text sorts by date)."""
    return milestone["actual"] or milestone["forecast"], milestone["key"]


def status_of(change: Change) -> live_status.EngagementStatus:
    """The status read model's rows for the engagement as ``change`` left it, in its query's order."""
    e = change.after
    engagement = dict(zip(live_status.ENGAGEMENT_COLUMNS, live_status.engagement_row(change), strict=True))
    engagement["tasks_by_status"] = orjson.loads(engagement["tasks_by_status"])
    by_key = itemgetter("key")
    return live_status.EngagementStatus(
        engagement=engagement,
        milestones=tuple(
            sorted(rows(live_status.MILESTONE_COLUMNS, live_status.milestone_rows(e)), key=_by_date)
        ),
        scope=tuple(sorted(rows(live_status.SCOPE_COLUMNS, live_status.scope_rows(e)), key=by_key)),
        tasks=tuple(sorted(rows(live_status.TASK_COLUMNS, live_status.task_rows(e)), key=by_key)),
    )
