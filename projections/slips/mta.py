"""The milestone trend analysis (MTA) chart's data: one line of forecasts per milestone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from projections.db import ProjectionDB, Row
from projections.slips.table import slip_history


@dataclass(frozen=True)
class MtaPoint:
    """One reading: recorded at ``recorded_at`` (x), the milestone expected on ``forecast`` (y).

    For the ``achieved`` point, ``forecast`` is the actual date, where the line meets the diagonal.
    """

    recorded_at: datetime
    forecast: date
    baseline: date
    kind: str


@dataclass(frozen=True)
class MtaSeries:
    """One milestone's line, its points in the order they were recorded."""

    key: str
    title: str
    points: list[MtaPoint] = field(default_factory=list)

    @property
    def rebaselines(self) -> list[MtaPoint]:
        return [p for p in self.points if p.kind == "rebaselined"]

    @property
    def achieved(self) -> MtaPoint | None:
        return next((p for p in self.points if p.kind == "achieved"), None)

    @property
    def status(self) -> str:
        """``achieved``, ``cancelled`` or ``open``: whether and how the line ends."""
        last = self.points[-1].kind if self.points else "open"
        return last if last in ("achieved", "cancelled") else "open"


def _point(r: Row) -> MtaPoint:
    return MtaPoint(
        recorded_at=datetime.fromisoformat(r["recorded_at"]),
        forecast=date.fromisoformat(r["actual"] or r["forecast"]),
        baseline=date.fromisoformat(r["baseline"]),
        kind=r["kind"],
    )


def mta_series(db: ProjectionDB, engagement_id: str) -> list[MtaSeries]:
    """One series per milestone of the engagement, in the order the milestones were planned."""
    return series_of(slip_history(db, engagement_id))


def series_of(history: Iterable[Row]) -> list[MtaSeries]:
    """The MTA series of slip-history rows already read (in log order)."""
    rows: dict[str, list[Row]] = {}
    for r in history:
        rows.setdefault(r["milestone_key"], []).append(r)
    return [
        MtaSeries(key, lines[-1]["milestone_title"], [_point(r) for r in lines])
        for key, lines in rows.items()
    ]
