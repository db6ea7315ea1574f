"""Verify: recompute the whole Merkle log from the stored events and check it against what was signed.

One pass, side by side: the n-th stored event in log order is hashed again and compared with
the n-th leaf of the Merkle log, every subtree hash the log keeps is compared with the one
recomputed, and the root at each checkpoint's size with the root that checkpoint signed.
Given an earlier checkpoint (kept by an auditor, outside the ledger), the recomputed root at
its size must match it too, and the log's consistency proof from it to the latest checkpoint
must hold: a history rewritten together with a freshly recomputed tree passes the first checks
and fails these.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.service import Ledger
from domain.store import read_log
from projections.db import ProjectionDB
from replay import merkle
from replay.checkpoints import StoredCheckpoint, all_checkpoints
from replay.leaves import Leaf
from replay.log import HASH_SIZE, LeafRecord, fetcher, leaves_from, tree_size
from replay.note import Checkpoint, NoteError, open_checkpoint

Progress = Callable[[int, int], None]
BATCH = 2000
MAX_FINDINGS = 20


@dataclass(frozen=True)
class BadEvent:
    """The first place where the stored events and the Merkle log part ways."""

    leaf: int
    engagement: str
    version: int
    expected: str
    found: str

    def __str__(self) -> str:
        return (
            f"first bad event: engagement {self.engagement}, version {self.version} (leaf {self.leaf}): "
            f"expected {self.expected}; found {self.found}"
        )


@dataclass
class Verdict:
    events: int = 0
    pending: int = 0
    checkpoints: int = 0
    first_bad: BadEvent | None = None
    bad_leaves: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings and self.first_bad is None

    def find(self, what: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(what)

    def lines(self) -> list[str]:
        lines = [f"{self.events} stored events rehashed; {self.checkpoints} signed checkpoints checked"]
        if self.pending:
            lines.append(f"{self.pending} events recorded since the Merkle log last caught up (not checked)")
        if self.ok:
            return [*lines, "OK: every event, subtree hash and checkpoint matches"]
        if self.first_bad:
            lines += [str(self.first_bad), f"{self.bad_leaves} leaves in all do not match"]
        return [*lines, *self.findings, "FAILED"]


def verify(
    ledger: Ledger,
    db: ProjectionDB,
    key: str,
    against: str | None = None,
    progress: Progress | None = None,
) -> Verdict:
    """Check the log against the store and the checkpoints signed by ``key`` (a verifier key);
    ``against``: the text of an earlier checkpoint to hold the history to."""
    verdict = Verdict()
    checkpoints = all_checkpoints(db)
    earlier = _opened(against, key, verdict, "the checkpoint given") if against else None
    sizes = {c.size for c in checkpoints} | ({earlier.size} if earlier else set())
    roots = {0: merkle.EMPTY_ROOT}
    tree = merkle.CompactRange()
    names = _Names(ledger)
    with db.reading() as tx:
        size = tree_size(tx)  # leaves appended while this runs are left for the next verify
    total = ledger.recorder.max_notification_id() or 0
    for event, kept in itertools.zip_longest(_stored(ledger), _kept(db, size)):
        if kept is None:
            verdict.pending += 1
            continue
        record, nodes = kept
        found = Leaf.of(event[1]).hash() if event else None
        if event is None or found != record.hash or event[0] != record.position:
            _bad(verdict, names, record, event, found)
        completed = tree.append(found or record.hash)
        _check_subtrees(verdict, record, completed, nodes)
        if tree.size in sizes:
            roots[tree.size] = tree.root()
        if progress and tree.size % BATCH == 0:
            progress(record.position, total)
    verdict.events = tree.size
    for checkpoint in checkpoints:
        _check(verdict, checkpoint, key, roots)
    if earlier:
        _hold_to(verdict, earlier, checkpoints, roots, db)
    if progress:
        progress(total, total)
    return verdict


def _stored(ledger: Ledger) -> Iterator[tuple[int, StoredEvent]]:
    after = 0
    while batch := read_log(ledger.recorder, after, BATCH):
        yield from batch
        after = batch[-1][0]


def _kept(db: ProjectionDB, size: int) -> Iterator[tuple[LeafRecord, bytes]]:
    """The first ``size`` leaves of the Merkle log, in order."""
    start = 0
    while start < size:
        with db.reading() as tx:
            batch = leaves_from(tx, start, min(BATCH, size - start))
        if not batch:
            return
        yield from batch
        start += len(batch)


class _Names:
    """Engagement codes for the report, by stream id (the id itself if the code cannot be read)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.known: dict[str, str] = {}

    def __call__(self, stream: str | UUID) -> str:
        text = str(stream)
        if text not in self.known:
            try:
                state = self.ledger.state_at(UUID(text), 1)
                self.known[text] = state.code if state else text
            except Exception:  # a tampered first event may not even decode: the id will do
                self.known[text] = text
        return self.known[text]


def _bad(
    verdict: Verdict,
    names: _Names,
    record: LeafRecord,
    event: tuple[int, StoredEvent] | None,
    found: bytes | None,
) -> None:
    verdict.bad_leaves += 1
    if verdict.first_bad:
        return
    if event is None:
        seen = "no such event in the store (the log ends before it)"
    else:
        position, stored = event
        seen = (
            f"engagement {names(stored.originator_id)} version {stored.originator_version} "
            f"at position {position} with leaf hash {found.hex() if found else '?'}"
        )
    verdict.first_bad = BadEvent(
        leaf=record.leaf,
        engagement=names(record.engagement_id),
        version=record.version,
        expected=f"the event at position {record.position} with leaf hash {record.hash.hex()}",
        found=seen,
    )


def _check_subtrees(
    verdict: Verdict, record: LeafRecord, completed: list[tuple[int, int, bytes]], nodes: bytes
) -> None:
    for level, index, node in completed:
        if not level:  # the leaf itself: compared with the stored event already
            continue
        kept = nodes[(level - 1) * HASH_SIZE : level * HASH_SIZE]
        if kept != node:
            verdict.find(
                f"the Merkle log keeps {kept.hex()} for the subtree at level {level}, index {index}; "
                f"the events give {node.hex()}"
            )


def _opened(text: str, key: str, verdict: Verdict, what: str) -> Checkpoint | None:
    try:
        return open_checkpoint(text, key)
    except NoteError as error:
        verdict.find(f"{what} does not verify with the ledger's key: {error}")
        return None


def _check(verdict: Verdict, stored: StoredCheckpoint, key: str, roots: dict[int, bytes]) -> None:
    verdict.checkpoints += 1
    signed = _opened(stored.note, key, verdict, f"the checkpoint of size {stored.size}")
    if signed and (signed.size, signed.root) != (stored.size, stored.root):
        verdict.find(f"the checkpoint of size {stored.size} is stored beside a note for another tree")
    if signed:
        _compare(verdict, signed, roots, f"the checkpoint of size {signed.size}")


def _compare(verdict: Verdict, signed: Checkpoint, roots: dict[int, bytes], what: str) -> None:
    recomputed = roots.get(signed.size)
    if recomputed is None:
        verdict.find(f"{what} covers more events than the Merkle log holds ({verdict.events})")
    elif recomputed != signed.root:
        verdict.find(
            f"{what} signed root {signed.root.hex()}, the stored events give {recomputed.hex()}: "
            "the history it covers was changed"
        )


def _hold_to(
    verdict: Verdict,
    earlier: Checkpoint,
    checkpoints: list[StoredCheckpoint],
    roots: dict[int, bytes],
    db: ProjectionDB,
) -> None:
    """The earlier checkpoint against the events, and the log's latest checkpoint against it."""
    _compare(verdict, earlier, roots, f"the given checkpoint (size {earlier.size})")
    latest = checkpoints[-1] if checkpoints else None
    if latest is None or latest.size < earlier.size:
        verdict.find(f"the ledger holds no checkpoint as large as the given one (size {earlier.size})")
        return
    try:
        with db.reading() as tx:
            proof = merkle.consistency_proof(fetcher(tx), earlier.size, latest.size)
        merkle.verify_consistency(earlier.size, latest.size, earlier.root, latest.root, proof)
    except ValueError as error:
        verdict.find(
            f"the latest checkpoint (size {latest.size}) does not extend the given one "
            f"(size {earlier.size}): {error}"
        )
