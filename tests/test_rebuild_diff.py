"""``ledger rebuild --diff``: a rebuild from zero into scratch tables, compared with the live ones."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from api.demo import CODE, seed_demo
from domain import commands as c
from domain.service import Ledger
from projections.db import ProjectionDB, open_projection_db
from projections.registry import all_projections
from projections.runner import Runner
from replay.diff import rebuild_and_diff
from replay.registry import every_projection


@pytest.fixture
def live(store: dict[str, str]) -> Iterator[tuple[Ledger, ProjectionDB]]:
    seed_demo(store)
    with Ledger(store) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            Runner(ledger, db, every_projection()).catch_up()
            yield ledger, db
        finally:
            db.close()


def test_live_projections_match_a_rebuild_from_zero(live: tuple[Ledger, ProjectionDB]) -> None:
    assert rebuild_and_diff(*live) == []


def test_a_projection_merely_behind_the_others_is_no_difference(live: tuple[Ledger, ProjectionDB]) -> None:
    ledger, db = live
    ledger.execute(c.AssignManager(code=CODE, manager="Sam Okafor"), "dana.whitfield")
    Runner(ledger, db, [p for p in all_projections() if p.name != "audit_trail"]).catch_up()
    assert rebuild_and_diff(ledger, db) == []


def test_rows_changed_added_or_lost_in_the_live_tables_are_reported(
    live: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = live
    with db.transaction() as tx:
        tx.execute("UPDATE status_engagements SET title = 'Rewritten'")
        tx.execute("DELETE FROM slip_history WHERE position = (SELECT MAX(position) FROM slip_history)")
        tx.execute("UPDATE audit_trail SET actor = 'mallory' WHERE version = 3")
    differences = {d.table: d for d in rebuild_and_diff(ledger, db)}
    assert set(differences) == {"status_engagements", "slip_history", "audit_trail"}
    assert len(differences["slip_history"].only_rebuilt) == 1
    assert not differences["slip_history"].only_live
    assert any("mallory" in row for row in differences["audit_trail"].only_live)
    assert any("Rewritten" in row for row in differences["status_engagements"].only_live)


def test_ledger_rebuild_diff_exits_non_zero_on_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "demo"]) == 0
    assert main(["--data", str(data), "rebuild", "--diff"]) == 0
    assert "no difference" in capsys.readouterr().out
    conn = sqlite3.connect(data / "projections.sqlite", isolation_level=None)
    conn.execute("UPDATE status_milestones SET forecast = '2030-01-01' WHERE key = 'go-live'")
    conn.close()
    assert main(["--data", str(data), "rebuild", "--diff"]) == 1
    out = capsys.readouterr().out
    assert "status_milestones" in out
    assert "2030-01-01" in out
