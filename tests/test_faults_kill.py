"""The API process is killed with SIGKILL in the middle of a stream of commands, and started again.

Client threads keep adding tasks, each command with an ``Idempotency-Key`` and a title of its
own (no task key: only the Idempotency-Key can keep a retried command from recording a second
task). A command whose answer was lost to the kill is sent again, with the same key, until the
restarted API answers it: once the lost try's lease on the key has run out, the retry looks in
the store for what that try recorded. Each command cut off by a kill gets its 201 in the end, and
every command that got a 2xx is in the store exactly once,
at the version its answer gave; no command is in it twice; no stream has a gap; the projections
catch up and ``ledger reconcile`` finds no difference; and no secret reached the server's logs.

On SQLite the projections run in the API process, so they die with it too; on PostgreSQL they
run in a ``ledger worker`` of their own, which outlives the API.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fault_support import (
    PG_PASSWORD,
    SECRET,
    Command,
    Ledgerd,
    Site,
    Traffic,
    assert_acknowledged_recorded_once,
    caught_up,
    more_acknowledged,
    open_engagements,
    private_key_lines,
    site,
)

pytestmark = pytest.mark.slow

KILLS = 2
WRITERS = 6
LEASE = 1.0
"""Seconds an API holds a command's key before a retry may take over: short, so the test is."""
CODES = ["KILL-A", "KILL-B", "KILL-C"]
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def _kill_mid_stream(api: Ledgerd, traffic: Traffic, rng: random.Random) -> None:
    """Once the API has acknowledged a few more commands, SIGKILL it at a random moment."""
    more_acknowledged(traffic)
    time.sleep(rng.uniform(0, 0.2))
    api.kill()


def _cut_off(traffic: Traffic) -> list[Command]:
    """The commands whose first send got no answer: the ones the kills cut off."""
    return [c for c in traffic.commands if c.answers and not c.answers[0].status]


def _settled(traffic: Traffic, within: float = 60) -> None:
    """Once every command cut off by a kill got its answer (the restarted API waits out the lease)."""
    deadline = time.monotonic() + within
    while any(not c.acknowledged for c in _cut_off(traffic)):
        assert time.monotonic() < deadline, "a command cut off by a kill never got its 2xx"
        time.sleep(0.1)


def _outcomes(traffic: Traffic) -> Counter[str]:
    """What became of the commands the kills cut off: the last answer of each."""
    return Counter(f"{a.status} {a.rule or ''}".strip() for c in _cut_off(traffic) for a in c.answers[-1:])


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_every_command_acknowledged_around_sigkills_of_the_api_is_recorded_exactly_once(
    store: dict[str, str], tmp_path: Path
) -> None:
    rng = random.Random(7)
    secret_store = store if "SQLITE_DBNAME" in store else store | {"POSTGRES_PASSWORD": PG_PASSWORD}
    with site(secret_store, tmp_path / "site", LEDGER_IDEMPOTENCY_LEASE_SECONDS=str(LEASE)) as here:
        api = here.serve()
        if "SQLITE_DBNAME" not in store:
            here.worker()
        open_engagements(here.url, CODES)
        with Traffic(here.url, CODES, writers=WRITERS) as traffic:
            for _ in range(KILLS):
                _kill_mid_stream(api, traffic, rng)
                api = here.serve()
            more_acknowledged(traffic)
            _settled(traffic)
        cut_off = _outcomes(traffic)
        print(f"{len(traffic.commands)} commands, {len(traffic.acknowledged())} acknowledged; "
              f"cut off by the {KILLS} kills and sent again: {dict(cut_off)}")  # fmt: skip

        assert cut_off, "no command was in flight when the API was killed"
        assert set(cut_off) == {"201"}, cut_off
        assert_acknowledged_recorded_once(store, traffic.commands)
        assert {a.status for a in traffic.answers()} <= {0, 201, 409}
        caught_up(here)
        reconciled = here.run("reconcile")
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        assert "reconciled: every projection saw every event" in reconciled.stdout
        _assert_no_secret_in(here)


def _assert_no_secret_in(here: Site) -> None:
    logs = here.logs()
    assert "Uvicorn running" in logs  # the server's output was captured
    for secret in (SECRET, PG_PASSWORD, *private_key_lines(here.folder.parent)):
        assert secret not in logs
    assert not JWT.search(logs), "a bearer token reached a log"
