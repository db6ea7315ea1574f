"""Slip attribution: days of slip and recovery by responsible party and by cause."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from projections.db import ProjectionDB, Row
from projections.slips.table import slip_history

UNATTRIBUTED = "unattributed"
_FORECAST_MOVES = ("rescheduled", "achieved")


@dataclass(frozen=True)
class Tally:
    """Gross days slipped (later moves) and days recovered (earlier moves)."""

    gross: int = 0
    recoveries: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.recoveries

    def add(self, delta: int) -> Tally:
        if delta >= 0:
            return replace(self, gross=self.gross + delta)
        return replace(self, recoveries=self.recoveries - delta)


@dataclass(frozen=True)
class Attribution:
    """Who and what moved the engagement's dates: overall, by party and by cause."""

    overall: Tally = Tally()
    by_party: Mapping[str, Tally] = field(default_factory=dict)
    by_cause: Mapping[str, Tally] = field(default_factory=dict)
    rebaselines: int = 0
    rebaseline_days: int = 0
    """The signed sum of the baseline moves, in days (re-baselines are not slips)."""


def _tallied(tallies: Mapping[str, Tally], name: str | None, delta: int) -> dict[str, Tally]:
    name = name or UNATTRIBUTED
    return {**tallies, name: tallies.get(name, Tally()).add(delta)}


def _counted(total: Attribution, r: Row) -> Attribution:
    if r["kind"] == "rebaselined":
        moved = (date.fromisoformat(r["to_date"]) - date.fromisoformat(r["from_date"])).days
        return replace(
            total, rebaselines=total.rebaselines + 1, rebaseline_days=total.rebaseline_days + moved
        )
    delta = int(r["delta_days"])
    if r["kind"] not in _FORECAST_MOVES or delta == 0:
        return total
    return replace(
        total,
        overall=total.overall.add(delta),
        by_party=_tallied(total.by_party, r["responsible_party"], delta),
        by_cause=_tallied(total.by_cause, r["cause"], delta),
    )


def attribution(db: ProjectionDB, engagement_id: str, milestone_key: str | None = None) -> Attribution:
    """The engagement's slip attribution (of one milestone, with ``milestone_key``)."""
    return attributed(slip_history(db, engagement_id, milestone_key))


def attributed(history: Iterable[Row]) -> Attribution:
    """The slip attribution of slip-history rows already read."""
    total = Attribution()
    for r in history:
        total = _counted(total, r)
    return total
