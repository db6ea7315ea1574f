"""The change-log bundle and its offline verifier: a good bundle verifies with nothing but the file;
any changed byte, a missing event or a proof from another tree is rejected."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from api.cli import main
from api.demo import CODE, seed_demo
from domain import commands as c
from domain import events as ev
from domain.service import Ledger
from projections.db import ProjectionDB, open_projection_db
from projections.runner import Runner
from replay import bundle, checkpoints
from replay.bundle import Bundle
from replay.checkpoints import Signer, load_signer
from replay.registry import every_projection

NOTE = "client pushed back; do not mention the penalty clause"


@contextmanager
def bundled(ledger: Ledger, keys: Path) -> Iterator[tuple[ProjectionDB, Signer, Bundle]]:
    """The ledger's projections caught up, a checkpoint signed with a key in ``keys``, and the
    demo engagement's bundle against it."""
    db = open_projection_db(ledger.settings)
    try:
        Runner(ledger, db, every_projection()).catch_up()
        signer = load_signer(keys)
        checkpoint = checkpoints.take(db, signer, lambda: datetime.now(UTC))
        yield db, signer, bundle.build(ledger, db, CODE, checkpoint, signer.verifier_key)
    finally:
        db.close()


@pytest.fixture
def made(store: dict[str, str], tmp_path: Path) -> Iterator[tuple[Ledger, ProjectionDB, Signer, Bundle]]:
    """The demo engagement with one more scope item carrying an internal note, and its bundle."""
    seed_demo(store)
    with Ledger(store) as ledger:
        addition = c.AddScopeItem(code=CODE, key="edi", title="EDI interface", reason="Extended hypercare",
                                  internal_note=NOTE)  # fmt: skip
        ledger.execute(addition, "dana.whitfield")
        with bundled(ledger, tmp_path / "keys") as (db, signer, made_bundle):
            yield ledger, db, signer, made_bundle


def test_a_bundle_verifies_offline_and_reads_as_a_change_log(
    made: tuple[Ledger, ProjectionDB, Signer, Bundle],
) -> None:
    _, _, signer, made_bundle = made
    report = bundle.check(made_bundle.to_bytes(), signer.verifier_key)
    assert report.ok, report.lines
    assert report.lines[-1].startswith("VERIFIED: all 51 events (50 shown, 1 of kinds clients do not see)")
    assert any("v51" in line and "Extended hypercare" in line for line in report.lines)


def test_a_bundle_never_holds_an_internal_note_yet_proves_the_event_that_has_one(
    made: tuple[Ledger, ProjectionDB, Signer, Bundle],
) -> None:
    _, _, _, made_bundle = made
    raw = made_bundle.to_bytes()
    assert NOTE.encode() not in raw
    assert b"internal_note" not in raw
    last = made_bundle.events[-1]
    assert last.note_digest is not None
    assert last.state is not None
    assert b"penalty" not in raw


def test_a_bundle_never_shows_who_works_on_a_task_yet_proves_each_task_added(
    made: tuple[Ledger, ProjectionDB, Signer, Bundle],
) -> None:
    ledger, _, signer, made_bundle = made
    added = {e.originator_version: e for e in ledger.history(CODE) if isinstance(e, ev.TaskAdded)}
    assigned = [version for version, e in added.items() if e.assignee]
    assert assigned  # the demo adds tasks with an assignee
    raw = made_bundle.to_bytes()
    assert b"assignee" not in raw
    for event in made_bundle.events:
        if event.version in added:
            assert event.state is not None
            assert (event.note_digest is not None) == (event.version in assigned)
    assert bundle.check(raw, signer.verifier_key).ok


def test_hidden_events_are_the_kinds_clients_never_see(
    made: tuple[Ledger, ProjectionDB, Signer, Bundle],
) -> None:
    _, _, _, made_bundle = made
    hidden = [e for e in made_bundle.events if e.state is None]
    assert [e.topic for e in hidden] == ["ledger:TaskAssigned"]
    assert all(e.state_digest for e in hidden)


# Tampering with the file ----------------------------------------------------------------------------


@pytest.fixture
def raw(sqlite_store: dict[str, str], tmp_path: Path) -> Iterator[tuple[bytes, str]]:
    seed_demo(sqlite_store)
    with Ledger(sqlite_store) as ledger, bundled(ledger, tmp_path / "keys") as (_, signer, made_bundle):
        yield made_bundle.to_bytes(), signer.verifier_key


def _rejected(data: bytes, key: str | None = None) -> str:
    report = bundle.check(data, key)
    assert not report.ok
    return report.lines[-1]


def test_every_changed_byte_is_rejected(raw: tuple[bytes, str]) -> None:
    """Every byte position of the header and the first events, and a sample of the rest, each
    changed to a few other values."""
    data, _ = raw
    assert bundle.check(data).ok
    rng = random.Random(6962)
    positions = list(range(min(len(data), 3000))) + rng.sample(range(3000, len(data)), 400)
    for position in positions:
        for other in {data[position] ^ 0x01, data[position] ^ 0x20, ord("0")} - {data[position]}:
            changed = data[:position] + bytes([other]) + data[position + 1 :]
            assert not bundle.check(changed).ok, f"byte {position} changed to {other!r} was accepted"


def test_an_event_removed_is_rejected(raw: tuple[bytes, str]) -> None:
    data, _ = raw
    document = orjson.loads(data)
    del document["events"][17]
    shorter = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    assert "an event is missing or repeated" in _rejected(shorter)


def test_a_client_visible_event_hidden_as_internal_is_rejected(raw: tuple[bytes, str]) -> None:
    data, _ = raw
    document = orjson.loads(data)
    event = document["events"][9]
    state = event.pop("state").encode()
    event["state_digest"] = hashlib.sha256(state).hexdigest()
    hidden = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    assert "clients see that kind of event" in _rejected(hidden)


def test_a_proof_from_another_tree_is_rejected(raw: tuple[bytes, str], tmp_path: Path) -> None:
    """The same engagement in another ledger (one more event in the log): its proofs do not hold
    against this bundle's checkpoint."""
    data, _ = raw
    other_store = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "other" / "events.sqlite"),
    }
    (tmp_path / "other").mkdir()
    with Ledger(other_store) as ledger:
        ledger.execute(
            c.OpenEngagement(code="OTHER-1", title="Other", client_id="o", client_name="O", manager="M",
                             planned_start=date(2026, 1, 1), planned_end=date(2026, 12, 31)),
            "x",
        )  # fmt: skip
    seed_demo(other_store)
    with Ledger(other_store) as ledger, bundled(ledger, tmp_path / "other-keys") as (_, _, foreign):
        pass
    document = orjson.loads(data)
    document["events"][5]["proof"] = foreign.events[5].proof
    mixed = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    assert "is not in the signed log" in _rejected(mixed)


def test_a_bundle_signed_by_another_key_than_the_one_trusted_is_rejected(
    raw: tuple[bytes, str], tmp_path: Path
) -> None:
    data, _ = raw
    stranger = load_signer(tmp_path / "stranger").verifier_key
    assert "different public key" in _rejected(data, stranger)


def test_ledger_verify_bundle_needs_only_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "demo"]) == 0
    out = tmp_path / "acme.json"
    assert main(["--data", str(data), "export", "bundle", CODE, "-o", str(out)]) == 0
    capsys.readouterr()
    (data / "events.sqlite").unlink()  # no database from here on
    assert main(["verify-bundle", str(out)]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    out.write_bytes(out.read_bytes().replace(b"Initial scope", b"Initial scape", 1))
    assert main(["verify-bundle", str(out)]) == 1
    assert "REJECTED" in capsys.readouterr().out
