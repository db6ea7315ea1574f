"""The Merkle log: every stored event a leaf, in log order, kept by a projection.

One row per leaf holds the leaf's hash and the hashes of the perfect subtrees that the leaf
completes (a leaf at index ``i`` completes one subtree per trailing one bit of ``i``), so that
any subtree hash, and so any proof, is a lookup of O(log n) rows by primary key. Rows are only
ever appended (the database refuses anything else), one batch per transaction with the
projection's position, like every other read model.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from domain.store import append_only_statements
from projections.base import LogProjection, Stored
from projections.db import ProjectionDB, Row, Tx
from replay import merkle
from replay.leaves import Leaf

TABLE = "merkle_leaves"
COLUMNS = ("leaf", "position", "engagement_id", "version", "hash", "nodes")
HASH_SIZE = 32
CHECKPOINTS = "checkpoints"


class MerkleLog(LogProjection):
    name = "merkle_log"
    tables = (TABLE, CHECKPOINTS)

    def schema(self, dialect: str) -> list[str]:
        blob = "BYTEA" if dialect == "postgres" else "BLOB"
        return [
            f"CREATE TABLE IF NOT EXISTS {TABLE} (leaf BIGINT PRIMARY KEY, position BIGINT NOT NULL UNIQUE,"
            f" engagement_id TEXT NOT NULL, version BIGINT NOT NULL, hash {blob} NOT NULL,"
            f" nodes {blob} NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_event ON {TABLE} (engagement_id, version)",
            *append_only_statements(dialect, TABLE),
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (size BIGINT PRIMARY KEY, root {blob} NOT NULL,"
            " note TEXT NOT NULL, taken_at TEXT NOT NULL)",
            *append_only_statements(dialect, CHECKPOINTS),
        ]

    def extend(self, tx: Tx, stored: Sequence[Stored]) -> None:
        tree = merkle.CompactRange.resume(tree_size(tx), fetcher(tx))
        rows = []
        for position, event in stored:
            leaf = Leaf.of(event)
            hashed = leaf.hash()
            completed = sorted(tree.append(hashed))
            nodes = b"".join(node for level, _, node in completed if level > 0)
            rows.append((tree.size - 1, position, str(leaf.originator_id), leaf.version, hashed, nodes))
        tx.insert(TABLE, COLUMNS, rows)


def tree_size(tx: Tx) -> int:
    """The number of leaves: the log's tree size.

    Leaves are numbered from 0 without gaps (each batch appends from this size), so the last
    leaf's number says it from the primary key's index; a COUNT(*) reads every row, once per
    catch-up batch and proof request: quadratic in a catch-up, 0.1 s a request at 1M leaves."""
    return int(tx.query(f"SELECT COALESCE(MAX(leaf) + 1, 0) AS n FROM {TABLE}")[0]["n"])


def fetcher(tx: Tx) -> merkle.Fetch:
    """Perfect-subtree hashes by (level, index), read in one query."""

    def fetch(keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        if not keys:
            return {}
        rows_of = {key: ((key[1] + 1) << key[0]) - 1 for key in keys}
        wanted = sorted(set(rows_of.values()))
        marks = ",".join(["%s"] * len(wanted))
        found = {
            int(r["leaf"]): (bytes(r["hash"]), bytes(r["nodes"]))
            for r in tx.query(f"SELECT leaf, hash, nodes FROM {TABLE} WHERE leaf IN ({marks})", wanted)
        }
        return {key: _node(found[row], key[0]) for key, row in rows_of.items() if row in found}

    return fetch


def _node(row: tuple[bytes, bytes], level: int) -> bytes:
    leaf, nodes = row
    return leaf if level == 0 else nodes[(level - 1) * HASH_SIZE : level * HASH_SIZE]


@dataclass(frozen=True)
class LeafRecord:
    """Where an event sits in the log's tree."""

    leaf: int
    position: int
    engagement_id: str
    version: int
    hash: bytes


def leaf_of(tx: Tx, engagement_id: str, version: int) -> LeafRecord | None:
    rows = tx.query(
        f"SELECT leaf, position, engagement_id, version, hash FROM {TABLE}"
        " WHERE engagement_id = %s AND version = %s",
        (engagement_id, version),
    )
    return _record(rows[0]) if rows else None


def leaves_of(tx: Tx, engagement_id: str, below: int) -> list[LeafRecord]:
    """An engagement's leaves in the tree of size ``below``, by version."""
    rows = tx.query(
        f"SELECT leaf, position, engagement_id, version, hash FROM {TABLE}"
        " WHERE engagement_id = %s AND leaf < %s ORDER BY version",
        (engagement_id, below),
    )
    return [_record(r) for r in rows]


def leaves_from(tx: Tx, start: int, limit: int) -> list[tuple[LeafRecord, bytes]]:
    """Up to ``limit`` leaves from index ``start``, each with the subtree hashes it completes."""
    rows = tx.query(
        f"SELECT leaf, position, engagement_id, version, hash, nodes FROM {TABLE}"
        " WHERE leaf >= %s ORDER BY leaf LIMIT %s",
        (start, limit),
    )
    return [(_record(r), bytes(r["nodes"])) for r in rows]


def _record(r: Row) -> LeafRecord:
    return LeafRecord(
        int(r["leaf"]), int(r["position"]), r["engagement_id"], int(r["version"]), bytes(r["hash"])
    )


def root(db: ProjectionDB, size: int) -> bytes:
    with db.reading() as tx:
        return merkle.root(fetcher(tx), size)
