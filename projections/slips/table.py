"""The ``slip_history`` table: the projection that appends its rows, and the query that reads them."""

from __future__ import annotations

from collections.abc import Sequence

from projections.base import Change, Projection
from projections.db import ProjectionDB, Row, Tx
from projections.slips.rows import COLUMNS, row

__all__ = ["COLUMNS", "SlipHistory", "slip_history"]

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS slip_history ("
    " position BIGINT PRIMARY KEY, engagement_id TEXT NOT NULL, code TEXT NOT NULL,"
    " milestone_key TEXT NOT NULL, milestone_title TEXT NOT NULL, kind TEXT NOT NULL,"
    " version BIGINT NOT NULL, recorded_at TEXT NOT NULL, effective_on TEXT,"
    " from_date TEXT, to_date TEXT, delta_days INTEGER NOT NULL,"
    " forecast TEXT NOT NULL, baseline TEXT NOT NULL, original_baseline TEXT NOT NULL, actual TEXT,"
    " slip_days INTEGER NOT NULL, slip_vs_original_days INTEGER NOT NULL,"
    " cause TEXT, responsible_party TEXT, reason TEXT, actor TEXT NOT NULL, change_ref TEXT,"
    " approved_by TEXT)",
    "CREATE INDEX IF NOT EXISTS slip_history_milestone"
    " ON slip_history (engagement_id, milestone_key, position)",
]
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM slip_history WHERE engagement_id = %s"


class SlipHistory(Projection):
    """One row per planned, rescheduled, re-baselined, achieved or cancelled milestone."""

    name = "slips"
    tables = ("slip_history",)

    def schema(self, dialect: str) -> list[str]:
        return list(_SCHEMA)

    def apply(self, tx: Tx, changes: Sequence[Change]) -> None:
        rows = [r for r in map(row, changes) if r is not None]
        if rows:
            tx.insert("slip_history", COLUMNS, rows)


def slip_history(db: ProjectionDB, engagement_id: str, milestone_key: str | None = None) -> list[Row]:
    """The engagement's rows (only ``milestone_key``'s, if given) in log order."""
    if milestone_key is None:
        return db.query(f"{_SELECT} ORDER BY position", (engagement_id,))
    return db.query(f"{_SELECT} AND milestone_key = %s ORDER BY position", (engagement_id, milestone_key))
