"""Tamper evidence: whatever is done to the stored events behind the ledger's back, ``verify``
against a checkpoint taken before finds it and names the first bad event, on both stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import psycopg
import pytest
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql

from api.cli import main
from api.demo import CODE, seed_demo
from domain.mapper import split_state
from domain.service import Ledger
from domain.values import engagement_id
from projections.db import ProjectionDB, open_projection_db
from projections.runner import Runner
from replay import checkpoints
from replay.checkpoints import Signer, load_signer
from replay.log import MerkleLog
from replay.registry import every_projection
from replay.verify import Verdict, verify
from tests.support import PG_DSN


@dataclass
class Scene:
    """The demo engagement (50 events), its Merkle log, and a checkpoint an auditor kept."""

    store: dict[str, str]
    ledger: Ledger
    db: ProjectionDB
    signer: Signer
    kept: str

    def verify(self, against: str | None = None) -> Verdict:
        return verify(self.ledger, self.db, self.signer.verifier_key, against)

    def position(self, version: int) -> int:
        """The log position of the demo engagement's event ``version``."""
        rows = self.db.query(
            "SELECT position FROM merkle_leaves WHERE engagement_id = %s AND version = %s",
            (str(engagement_id(CODE)), version),
        )
        return int(rows[0]["position"])

    def checkpoint(self) -> checkpoints.StoredCheckpoint:
        return checkpoints.take(self.db, self.signer, lambda: datetime.now(UTC))


@pytest.fixture
def scene(store: dict[str, str], tmp_path: Path) -> Iterator[Scene]:
    seed_demo(store)
    with Ledger(store) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            Runner(ledger, db, every_projection()).catch_up()
            signer = load_signer(tmp_path / "keys")
            kept = checkpoints.take(db, signer, lambda: datetime.now(UTC)).note
            yield Scene(store, ledger, db, signer, kept)
        finally:
            db.close()


# What a superuser can do to the events table, with the append-only triggers out of the way ------


@contextmanager
def behind_the_ledgers_back(scene: Scene) -> Iterator[Callable[..., list[Any]]]:
    """Raw SQL on the events table (``{events}``, ``{position}``), the triggers disabled."""
    table = cast(
        SQLiteApplicationRecorder | PostgresApplicationRecorder, scene.ledger.recorder
    ).events_table_name
    if "SQLITE_DBNAME" in scene.store:
        conn = sqlite3.connect(scene.store["SQLITE_DBNAME"], isolation_level=None)
        for operation in ("update", "delete"):
            conn.execute(f"DROP TRIGGER {table}_refuse_{operation}")

        def sqlite_run(statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
            query = statement.format(events=table, position="rowid").replace("%s", "?")
            return conn.execute(query, params).fetchall()

        yield sqlite_run
        conn.close()
        return
    schema = scene.store["POSTGRES_SCHEMA"]
    with psycopg.connect(PG_DSN, autocommit=True) as pg:
        qualified = sql.Identifier(schema, table).as_string(pg)
        pg.execute(f"ALTER TABLE {qualified} DISABLE TRIGGER USER")

        def pg_run(statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
            cursor = pg.execute(
                statement.format(events=qualified, position="notification_id").encode(), params
            )
            return cursor.fetchall() if cursor.description else []

        yield pg_run


def _rewrite_reason(state: bytes, reason: str) -> bytes:
    public, note = split_state(bytes(state))
    rewritten = orjson.dumps(orjson.loads(public) | {"reason": reason})
    return rewritten if note is None else rewritten + b"\n" + note


def change_state(scene: Scene, version: int) -> None:
    with behind_the_ledgers_back(scene) as run:
        where = "WHERE {position} = %s"
        (state,) = run("SELECT state FROM {events} " + where, (scene.position(version),))[0]
        run(
            "UPDATE {events} SET state = %s " + where,
            (_rewrite_reason(state, "As agreed"), scene.position(version)),
        )


def delete(scene: Scene, version: int) -> None:
    with behind_the_ledgers_back(scene) as run:
        run("DELETE FROM {events} WHERE {position} = %s", (scene.position(version),))


def swap(scene: Scene, version: int) -> None:
    """The events ``version`` and ``version + 1`` exchange their places in the log."""
    first, second = scene.position(version), scene.position(version + 1)
    with behind_the_ledgers_back(scene) as run:
        run("UPDATE {events} SET {position} = -1 WHERE {position} = %s", (first,))
        run("UPDATE {events} SET {position} = %s WHERE {position} = %s", (first, second))
        run("UPDATE {events} SET {position} = %s WHERE {position} = -1", (second,))


def truncate(scene: Scene, version: int) -> None:
    """Every event from ``version`` on is cut off the end of the log."""
    with behind_the_ledgers_back(scene) as run:
        run("DELETE FROM {events} WHERE {position} >= %s", (scene.position(version),))


# Each tampering is found and located --------------------------------------------------------------


def test_an_untouched_ledger_verifies_against_the_kept_checkpoint(scene: Scene) -> None:
    verdict = scene.verify(scene.kept)
    assert verdict.ok, verdict.lines()
    assert (verdict.events, verdict.checkpoints) == (50, 1)


def test_a_changed_event_is_named_with_the_hash_the_log_expected_and_the_one_found(scene: Scene) -> None:
    change_state(scene, 7)
    verdict = scene.verify(scene.kept)
    assert not verdict.ok
    assert verdict.first_bad is not None
    assert (verdict.first_bad.engagement, verdict.first_bad.version) == (CODE, 7)
    assert f"version 7 at position {scene.position(7)}" in verdict.first_bad.found
    assert verdict.first_bad.expected != verdict.first_bad.found
    assert verdict.bad_leaves == 1, "only that event differs"
    assert any("the history it covers was changed" in f for f in verdict.findings)


def test_a_deleted_event_is_named(scene: Scene) -> None:
    delete(scene, 12)
    first_bad = scene.verify(scene.kept).first_bad
    assert first_bad is not None
    assert (first_bad.engagement, first_bad.version) == (CODE, 12)
    assert f"{CODE} version 13" in first_bad.found, "the event now in its place"


def test_two_swapped_events_are_named(scene: Scene) -> None:
    swap(scene, 20)
    verdict = scene.verify(scene.kept)
    assert verdict.first_bad is not None
    assert (verdict.first_bad.engagement, verdict.first_bad.version) == (CODE, 20)
    assert f"{CODE} version 21" in verdict.first_bad.found
    assert verdict.bad_leaves == 2


def test_a_truncated_tail_is_named(scene: Scene) -> None:
    truncate(scene, 41)
    verdict = scene.verify(scene.kept)
    assert verdict.first_bad is not None
    assert (verdict.first_bad.engagement, verdict.first_bad.version) == (CODE, 41)
    assert "no such event in the store" in verdict.first_bad.found
    assert verdict.bad_leaves == 10


def test_a_history_rewritten_with_a_fresh_tree_and_checkpoint_fails_only_against_a_kept_checkpoint(
    scene: Scene,
) -> None:
    """The attacker rewrites an event, recomputes the whole Merkle log, removes the old checkpoints
    and signs a new one (they hold the server, key and all). Only an outside checkpoint catches it."""
    change_state(scene, 3)
    with scene.db.transaction() as tx:
        for table in ("merkle_leaves", "checkpoints"):
            for statement in _without_guard(scene.db.dialect, table):
                tx.execute(statement)
        tx.execute("UPDATE projection_positions SET position = 0 WHERE name = 'merkle_log'")
        tx.execute("DELETE FROM projection_streams WHERE projection = 'merkle_log'")
    Runner(scene.ledger, scene.db, [MerkleLog()]).catch_up()
    scene.checkpoint()

    assert scene.verify().ok, "on its own terms the rewritten ledger is consistent"
    verdict = scene.verify(scene.kept)
    assert not verdict.ok
    assert any("the given checkpoint (size 50)" in f and "was changed" in f for f in verdict.findings)
    assert any("does not extend the given one" in f for f in verdict.findings)


def _without_guard(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER {table}_refuse_delete", f"DELETE FROM {table}"]
    return [f"ALTER TABLE {table} DISABLE TRIGGER USER", f"DELETE FROM {table}"]


def test_the_merkle_log_and_checkpoints_refuse_changes_in_the_database_itself(scene: Scene) -> None:
    for statement in ("UPDATE merkle_leaves SET version = 2", "DELETE FROM checkpoints"):
        with pytest.raises(Exception, match="append-only"), scene.db.transaction() as tx:
            tx.execute(statement)
    assert scene.verify(scene.kept).ok


def test_a_checkpoint_from_another_key_is_refused(scene: Scene, tmp_path: Path) -> None:
    stranger = load_signer(tmp_path / "stranger")
    forged = stranger.sign(50, scene.checkpoint().root)
    verdict = scene.verify(forged)
    assert any("does not verify with the ledger's key" in f for f in verdict.findings)


# The command line ---------------------------------------------------------------------------------


def test_ledger_verify_exits_non_zero_and_names_the_first_bad_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "demo"]) == 0
    assert main(["--data", str(data), "checkpoint", "-o", str(tmp_path / "kept.txt")]) == 0
    assert main(["--data", str(data), "verify", "--against", str(tmp_path / "kept.txt")]) == 0
    assert "OK" in capsys.readouterr().out

    conn = sqlite3.connect(data / "events.sqlite", isolation_level=None)
    conn.execute("DROP TRIGGER stored_events_refuse_delete")
    conn.execute("DELETE FROM stored_events WHERE rowid = 30")
    conn.close()
    assert main(["--data", str(data), "verify", "--against", str(tmp_path / "kept.txt")]) == 1
    out = capsys.readouterr().out
    assert f"first bad event: engagement {CODE}, version 30" in out
    assert "FAILED" in out
