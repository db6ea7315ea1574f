"""The projection worker is killed with SIGKILL again and again while it catches up: the rows
it leaves equal a clean rebuild, and every engagement reconciles with the store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.synthetic import load
from domain.service import Ledger
from projections import positions
from projections.db import ProjectionDB, open_projection_db
from projections.reconcile import reconcile
from projections.registry import all_projections
from projections.runner import Runner
from replay import checkpoints
from replay.checkpoints import load_signer
from replay.registry import every_projection
from replay.verify import verify
from tests.test_projection_laws import dump

EVENTS = 20_000
KILLS = 6
pytestmark = pytest.mark.slow


def _worker(store: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PERSISTENCE_", "POSTGRES_"))
    }
    data = ["--data", str(Path(store["SQLITE_DBNAME"]).parent)] if "SQLITE_DBNAME" in store else []
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *data, "worker", "--poll", "0.05"],
        env=environ | ({} if data else store),
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )


def _lowest(db: ProjectionDB) -> int:
    return min(positions.positions(db).values())


def _kill_once_it_moves(worker: subprocess.Popen[bytes], db: ProjectionDB, rng: random.Random) -> None:
    """Wait until the worker has committed a batch past ``start``, then SIGKILL it at a random moment."""
    start, deadline = _lowest(db), time.monotonic() + 60
    while _lowest(db) == start and time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker stopped by itself with status {worker.returncode}"
        time.sleep(0.02)
    time.sleep(rng.uniform(0, 0.4))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def test_a_worker_killed_mid_catch_up_leaves_exactly_what_a_rebuild_makes(
    store: dict[str, str], tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    with Ledger(store) as ledger:
        assert load(ledger, engagements=20, events_each=EVENTS // 20) == EVENTS
        end = ledger.recorder.max_notification_id() or 0
        names = [p.name for p in every_projection()]
        db = open_projection_db(ledger.settings)
        try:
            runner = Runner(ledger, db, every_projection(), batch_size=500)
            killed_mid_way = 0
            while _lowest(db) < end and killed_mid_way < KILLS:
                _kill_once_it_moves(_worker(store, tmp_path), db, rng)
                killed_mid_way += _lowest(db) < end
            assert killed_mid_way >= 3, "the worker must be killed while catching up, several times"
            runner.catch_up()
            assert _lowest(db) == end
            assert reconcile(ledger, db, names) == []
            after_crashes = dump(db)
            Runner(ledger, db, all_projections()).rebuild()
            assert dump(db) == after_crashes
            signer = load_signer(tmp_path / "keys")
            checkpoints.take(db, signer, lambda: datetime.now(UTC))
            verdict = verify(ledger, db, signer.verifier_key)
            assert verdict.ok, verdict.lines()
            assert verdict.events == end, "the Merkle log holds every event once, in order"
        finally:
            db.close()
