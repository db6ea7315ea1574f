"""Rebuild and diff: every projection rebuilt from the first event into scratch tables, compared
row for row with the live ones.

The live tables are read in one snapshot. Each projection is compared at the position it has
reached in that snapshot: the scratch runner stops there first (projections that stand at
different positions are compared in turn, the scratch build moving forward between them), so
that a projection merely behind or ahead of another is not reported as a difference. The
scratch tables are a SQLite file in a temporary folder, or a PostgreSQL schema of their own,
dropped afterwards.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql

from domain.service import Ledger
from projections.db import PostgresDB, ProjectionDB, SQLiteDB, Tx
from projections.runner import AnyProjection, Progress, Runner
from replay.log import CHECKPOINTS
from replay.registry import every_projection

EXAMPLES = 3


@dataclass
class TableDifference:
    table: str
    position: int
    only_live: list[tuple[Any, ...]] = field(default_factory=list)
    only_rebuilt: list[tuple[Any, ...]] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"{self.table} (at position {self.position}): {len(self.only_live)} rows only in the live table, "
            f"{len(self.only_rebuilt)} only in the rebuild"
        ]
        lines += [f"  live only:    {row}" for row in self.only_live[:EXAMPLES]]
        lines += [f"  rebuild only: {row}" for row in self.only_rebuilt[:EXAMPLES]]
        return lines


def rebuild_and_diff(
    ledger: Ledger, live: ProjectionDB, progress: Progress | None = None
) -> list[TableDifference]:
    """Every table of every projection that differs from a rebuild from zero (none: all agree)."""
    projections = every_projection()
    with scratch_db(live) as scratch:
        rebuilt = Runner(ledger, scratch, projections)
        differences = []
        with live.reading() as tx:
            reached = _positions(tx)
            for position in sorted({reached.get(p.name, 0) for p in projections}):
                rebuilt.catch_up(progress, until=position)
                with scratch.reading() as theirs:
                    for projection in projections:
                        if reached.get(projection.name, 0) == position:
                            differences += _compare(projection, position, tx, theirs)
    return differences


def _positions(tx: Tx) -> dict[str, int]:
    return {
        r["name"]: int(r["position"]) for r in tx.query("SELECT name, position FROM projection_positions")
    }


def _compare(projection: AnyProjection, position: int, live: Tx, rebuilt: Tx) -> list[TableDifference]:
    found = []
    for table in projection.tables:
        if table == CHECKPOINTS:  # signed when they were taken: history, not a projection of it
            continue
        ours, theirs = Counter(_rows(live, table)), Counter(_rows(rebuilt, table))
        if ours != theirs:
            found.append(
                TableDifference(
                    table, position, sorted((ours - theirs).elements()), sorted((theirs - ours).elements())
                )
            )
    return found


def _rows(tx: Tx, table: str) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row.values()) for row in tx.query(f"SELECT * FROM {table}")]


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


@contextmanager
def scratch_db(live: ProjectionDB) -> Iterator[ProjectionDB]:
    """Empty projection tables of the same kind as ``live``, removed afterwards."""
    if isinstance(live, PostgresDB):
        schema = f"{live.schema}_scratch_{uuid4().hex[:8]}"
        with psycopg.connect(live.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        db = PostgresDB(live.conninfo, schema)
        try:
            yield db
        finally:
            db.close()
            with psycopg.connect(live.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        return
    with tempfile.TemporaryDirectory(prefix="ledger-rebuild-") as folder:
        scratch = SQLiteDB(Path(folder) / "projections.sqlite")
        try:
            yield scratch
        finally:
            scratch.close()
