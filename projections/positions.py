"""Where each projection stands: its log position and, per engagement, what it has seen."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from projections.base import Change
from projections.db import ProjectionDB, Tx

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS projection_positions (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_streams ("
    " projection TEXT NOT NULL, engagement_id TEXT NOT NULL,"
    " events_seen BIGINT NOT NULL, last_version BIGINT NOT NULL,"
    " PRIMARY KEY (projection, engagement_id))",
]
_ADD = "INSERT INTO projection_positions (name, position) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING"
_MOVE = "UPDATE projection_positions SET position = %s WHERE name = %s AND position = %s"
_SEEN = (
    "INSERT INTO projection_streams (projection, engagement_id, events_seen, last_version)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (projection, engagement_id) DO UPDATE SET"
    " events_seen = projection_streams.events_seen + excluded.events_seen,"
    " last_version = excluded.last_version"
)


class ProjectionConflict(Exception):
    """Another runner moved this projection's position: this batch was not applied."""


def register(tx: Tx, name: str) -> None:
    tx.execute(_ADD, (name,))


def move(tx: Tx, name: str, expected: int, changes: Sequence[Change]) -> None:
    """Advance ``name`` from ``expected`` past ``changes``, in the caller's transaction."""
    versions = [(c.engagement_id, c.event.originator_version) for c in changes]
    advance(tx, name, expected, changes[-1].position, versions)


def advance(tx: Tx, name: str, expected: int, to: int, versions: Sequence[tuple[str, int]]) -> None:
    """Move ``name`` from ``expected`` to ``to``, having seen the (engagement, version) pairs between.

    The compare-and-set makes a batch apply at most once, even if two runners race.
    """
    if tx.execute(_MOVE, (to, name, expected)) != 1:
        raise ProjectionConflict(f"{name} is no longer at position {expected}")
    seen: dict[str, list[int]] = defaultdict(list)
    for engagement_id, version in versions:
        seen[engagement_id].append(version)
    tx.executemany(_SEEN, [(name, e, len(v), max(v)) for e, v in seen.items()])


def settle(tx: Tx, name: str, position: int, streams: dict[str, tuple[int, int]]) -> None:
    """Declare ``name`` rebuilt up to ``position``, having seen ``streams`` (events, last version)."""
    tx.execute("UPDATE projection_positions SET position = %s WHERE name = %s", (position, name))
    tx.execute("DELETE FROM projection_streams WHERE projection = %s", (name,))
    tx.executemany(_SEEN, [(name, e, n, v) for e, (n, v) in streams.items()])


def reset(tx: Tx, name: str) -> None:
    tx.execute("UPDATE projection_positions SET position = 0 WHERE name = %s", (name,))
    tx.execute("DELETE FROM projection_streams WHERE projection = %s", (name,))


def wait_until(db: ProjectionDB, names: Sequence[str], position: int, timeout: float) -> bool:
    """Wait (at most ``timeout`` seconds) until every projection in ``names`` has seen ``position``."""
    deadline = time.monotonic() + timeout
    while min(positions(db).get(name, 0) for name in names) < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def positions(db: ProjectionDB | Tx) -> dict[str, int]:
    rows = db.query("SELECT name, position FROM projection_positions")
    return {row["name"]: int(row["position"]) for row in rows}


def seen(db: ProjectionDB | Tx, name: str) -> dict[str, tuple[int, int]]:
    rows = db.query(
        "SELECT engagement_id, events_seen, last_version FROM projection_streams WHERE projection = %s",
        (name,),
    )
    return {r["engagement_id"]: (int(r["events_seen"]), int(r["last_version"])) for r in rows}
