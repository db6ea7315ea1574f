"""The ``ledger`` command line, run as a real process against a real data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api.demo import CODE, demo_steps
from domain import events as ev
from domain.service import Ledger
from domain.store import sqlite_env


def ledger_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PERSISTENCE_"))}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env=environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _stream(data: Path) -> list[ev.Event]:
    with Ledger(sqlite_env(data)) as ledger:
        return list(ledger.history(CODE))


def test_demo_seeds_the_engagement_once_and_prints_its_history(tmp_path: Path) -> None:
    first = ledger_cli("--data", str(tmp_path / "d"), "demo", cwd=tmp_path)
    second = ledger_cli("--data", str(tmp_path / "d"), "demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert f"{len(demo_steps())} events recorded now" in first.stdout
    assert "0 events recorded now (already seeded)" in second.stdout
    assert (
        "Milestone 'Build complete' moved 2026-05-29 -> 2026-06-12 (+14 days): scope change" in first.stdout
    )
    stream = _stream(tmp_path / "d")
    assert [e.originator_version for e in stream] == list(range(1, len(demo_steps()) + 1))


def test_the_demo_shows_every_kind_of_event_and_a_realistic_story(tmp_path: Path) -> None:
    ledger_cli("--data", str(tmp_path), "demo", cwd=tmp_path)
    stream = _stream(tmp_path)
    kinds = {type(e) for e in stream}
    every_kind = {
        cls for t, cls in ev.TOPICS.items() if t.startswith("ledger:") and issubclass(cls, ev.Event)
    }
    assert every_kind - kinds == {ev.EngagementClosed}, "all but closing: hypercare goes on"
    slips = [e for e in stream if isinstance(e, ev.MilestoneRescheduled) and e.delta_days > 0]
    assert len({e.cause for e in slips}) >= 4
    assert len({e.responsible_party for e in slips}) >= 3
    assert sum(isinstance(e, ev.MilestoneRebaselined) for e in stream) == 1
    statuses = {(e.from_status, e.to_status) for e in stream if isinstance(e, ev.TaskStatusChanged)}
    assert ("in_progress", "blocked") in statuses
    assert ("done", "in_progress") in statuses


def test_the_data_folder_comes_from_the_environment_or_the_working_directory(tmp_path: Path) -> None:
    from_env = ledger_cli("demo", cwd=tmp_path, env={"LEDGER_DATA_DIR": str(tmp_path / "env")})
    default = ledger_cli("demo", cwd=tmp_path)
    assert from_env.returncode == default.returncode == 0
    assert (tmp_path / "env" / "events.sqlite").exists()
    assert (tmp_path / "ledger-data" / "events.sqlite").exists()


def test_an_unknown_engagement_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = ledger_cli("--data", str(tmp_path), "history", "NOPE-1", cwd=tmp_path)
    assert result.returncode == 2
    assert "EngagementNotFound" in result.stderr
    assert "Traceback" not in result.stderr


def test_projections_are_kept_rebuilt_and_reconciled_from_the_command_line(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert ledger_cli("--data", data, "demo", cwd=tmp_path).returncode == 0
    reconciled = ledger_cli("--data", data, "reconcile", cwd=tmp_path)
    assert reconciled.returncode == 0, reconciled.stdout
    assert "every projection saw every event" in reconciled.stdout
    rebuilt = ledger_cli("--data", data, "rebuild", "--workers", "2", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"from {len(demo_steps())} events" in rebuilt.stdout
    assert "100%" in rebuilt.stderr, "the progress bar goes to standard error"
    assert ledger_cli("--data", data, "reconcile", cwd=tmp_path).returncode == 0
