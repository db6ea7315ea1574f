"""Reconciliation: prove per engagement that a projection saw every event the store holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.service import Ledger
from domain.store import stream_stats
from projections import positions
from projections.db import ProjectionDB


@dataclass(frozen=True)
class Discrepancy:
    """A projection and the store disagree about one engagement (counts, last versions)."""

    projection: str
    engagement_id: str
    store: tuple[int, int]
    seen: tuple[int, int]

    def __str__(self) -> str:
        return (
            f"{self.projection}: engagement {self.engagement_id} has {self.store[0]} events up to "
            f"version {self.store[1]} in the store, the projection saw {self.seen[0]} up to {self.seen[1]}"
        )


def reconcile(ledger: Ledger, db: ProjectionDB, names: Sequence[str]) -> list[Discrepancy]:
    """Every difference, per projection and engagement, up to the projection's own position."""
    with db.reading() as tx:  # a position and what it saw, read together while runners move on
        at = positions.positions(tx)
        seen_by = {name: positions.seen(tx, name) for name in names}
    found = []
    for name in names:
        stats = stream_stats(ledger.recorder, at.get(name, 0))
        store = {str(k): (s.events, s.last_version) for k, s in stats.items()}
        seen = seen_by[name]
        for engagement in sorted(store.keys() | seen.keys()):
            theirs, ours = store.get(engagement, (0, 0)), seen.get(engagement, (0, 0))
            if theirs != ours:
                found.append(Discrepancy(name, engagement, theirs, ours))
    return found
