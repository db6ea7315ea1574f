"""A client's change-log bundle, and the offline verifier that checks one with nothing but the file.

The bundle holds every event of one engagement up to a signed checkpoint, in version order, each
with its inclusion proof in that checkpoint's tree. A client-visible event comes with its public
state exactly as stored; an event clients never see comes as its topic and digests only, so the
verifier can check that nothing was left out (versions run 1..n without a gap) and that nothing
hidden is a kind of event a client should have seen. Internal notes are never in it, nor the
assignees of tasks (stored since in the same private part): the leaf commits to them through a
salted digest (see ``replay.leaves``).

The file is written in one canonical form, and the verifier refuses any file that is not exactly
that form, so that no byte of it can change without the verdict changing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated, Literal
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from domain import events as ev
from domain.events import TOPICS
from domain.mapper import split_state
from domain.service import Ledger
from domain.values import engagement_id
from projections.audit import INTERNAL_TYPES
from projections.db import ProjectionDB
from replay import merkle
from replay.checkpoints import StoredCheckpoint
from replay.leaves import Leaf
from replay.log import fetcher, leaves_of
from replay.note import Checkpoint, NoteError, open_checkpoint

FORMAT = "engagement-ledger/change-log-bundle/1"
HIDDEN_TOPICS = frozenset(t.TOPIC for t in INTERNAL_TYPES)
"""What a bundle may leave out: the kinds of event clients never see."""

Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_WRITE = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE


class BundledEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    topic: str
    leaf_index: int
    proof: list[Hash]
    state: str | None = None
    """The public state, as stored (client-visible events)."""
    state_digest: Hash | None = None
    """SHA-256 of the public state (events clients never see)."""
    note_digest: Hash | None = None
    """SHA-256 of the salted private part (internal note, assignee), where the event has one."""


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["engagement-ledger/change-log-bundle/1"]
    engagement: str
    engagement_id: str
    checkpoint: str
    public_key: str
    events: list[BundledEvent]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True), option=_WRITE)


class NotCovered(Exception):
    """The checkpoint does not cover the engagement's latest event yet."""


def build(ledger: Ledger, db: ProjectionDB, code: str, checkpoint: StoredCheckpoint, key: str) -> Bundle:
    """The bundle of engagement ``code`` against ``checkpoint`` (``key``: the ledger's verifier key)."""
    stream = engagement_id(code)
    state = ledger.engagement(code)
    stored = {e.originator_version: e for e in ledger.recorder.select_events(stream)}
    with db.reading() as tx:
        fetch = fetcher(tx)
        records = leaves_of(tx, str(stream), checkpoint.size)
        if [r.version for r in records] != list(range(1, state.version + 1)):
            raise NotCovered(
                f"checkpoint {checkpoint.size} does not cover {code} up to version {state.version}"
            )
        events = [
            _bundled(stored[r.version], r.leaf, merkle.inclusion_proof(fetch, r.leaf, checkpoint.size))
            for r in records
        ]
    return Bundle(
        format=FORMAT,
        engagement=state.code,
        engagement_id=str(stream),
        checkpoint=checkpoint.note,
        public_key=key,
        events=events,
    )


def _bundled(stored: StoredEvent, leaf_index: int, proof: list[bytes]) -> BundledEvent:
    leaf = Leaf.of(stored)
    hidden = stored.topic in HIDDEN_TOPICS
    return BundledEvent(
        version=leaf.version,
        topic=leaf.topic,
        leaf_index=leaf_index,
        proof=[p.hex() for p in proof],
        state=None if hidden else _public(stored.state),
        state_digest=leaf.state_digest.hex() if hidden else None,
        note_digest=leaf.note_digest.hex() if leaf.note_digest else None,
    )


def _public(state: bytes) -> str:
    return split_state(state)[0].decode()


# The offline verifier ----------------------------------------------------------------------------


@dataclass
class Report:
    """What the verifier found, in words."""

    ok: bool = False
    lines: list[str] = field(default_factory=list)

    def refuse(self, why: str) -> Report:
        self.ok = False
        self.lines.append(f"REJECTED: {why}")
        return self


def check(raw: bytes, trusted_key: str | None = None) -> Report:
    """Check a bundle file with nothing but its bytes (and, better, a key the reader already trusts)."""
    report = Report()
    try:
        bundle = Bundle.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as error:
        return report.refuse(f"not a change-log bundle: {_first_line(error)}")
    if bundle.to_bytes() != raw:
        return report.refuse("the file is not byte for byte as the ledger wrote it: it was changed")
    if trusted_key and trusted_key != bundle.public_key:
        return report.refuse("the bundle names a different public key from the one you trust")
    try:
        signed = open_checkpoint(bundle.checkpoint, bundle.public_key)
    except NoteError as error:
        return report.refuse(f"the checkpoint's signature does not verify: {error}")
    if str(engagement_id(bundle.engagement)) != bundle.engagement_id:
        return report.refuse(f"engagement id {bundle.engagement_id} is not the id of {bundle.engagement}")
    report.lines += _heading(bundle, signed, trusted_key)
    problem = _problem(bundle, signed)
    if problem:
        return report.refuse(problem)
    report.lines += [_line(e) for e in bundle.events]
    report.ok = True
    shown = sum(e.state is not None for e in bundle.events)
    report.lines.append(
        f"VERIFIED: all {len(bundle.events)} events ({shown} shown, {len(bundle.events) - shown} of kinds "
        f"clients do not see) are in the ledger's log of size {signed.size}, as signed"
    )
    return report


def _problem(bundle: Bundle, signed: Checkpoint) -> str | None:
    if not bundle.events:
        return "the bundle holds no events"
    versions = [e.version for e in bundle.events]
    if versions != list(range(1, len(versions) + 1)):
        return "the events do not run from version 1 without a gap: an event is missing or repeated"
    indices = [e.leaf_index for e in bundle.events]
    if indices != sorted(set(indices)):
        return "the events' places in the log are not in version order"
    if _opened_as(bundle.events[0]) != bundle.engagement:
        return f"the engagement's first event does not open {bundle.engagement}"
    stream = engagement_id(bundle.engagement)
    for event in bundle.events:
        why = _leaf_problem(event)
        if why:
            return f"version {event.version}: {why}"
        leaf = _leaf(stream, event)
        try:
            merkle.verify_inclusion(
                leaf.hash(), event.leaf_index, signed.size, _hashes(event.proof), signed.root
            )
        except merkle.ProofError as error:
            return f"version {event.version} ({event.topic}) is not in the signed log: {error}"
    return None


def _opened_as(first: BundledEvent) -> object:
    """The code the engagement's first event opened it with (proven with that event's leaf)."""
    if first.topic != ev.EngagementOpened.TOPIC or first.state is None:
        return None
    try:
        return orjson.loads(first.state).get("code")
    except orjson.JSONDecodeError:
        return None


def _leaf_problem(event: BundledEvent) -> str | None:
    if event.topic not in TOPICS:
        return f"unknown event type {event.topic!r}"
    if event.state is None:
        if event.topic not in HIDDEN_TOPICS:
            return f"a {event.topic} event is hidden, but clients see that kind of event"
        return None if event.state_digest else "neither its state nor its digest is given"
    if event.state_digest is not None:
        return "both its state and a digest are given"
    try:
        orjson.loads(event.state)
    except orjson.JSONDecodeError:
        return "its state is not JSON"
    return None


def _leaf(stream: UUID, event: BundledEvent) -> Leaf:
    digest = (
        hashlib.sha256(event.state.encode()).digest()
        if event.state is not None
        else bytes.fromhex(event.state_digest or "")
    )
    return Leaf(
        stream,
        event.version,
        event.topic,
        digest,
        bytes.fromhex(event.note_digest) if event.note_digest else None,
    )


def _hashes(proof: list[str]) -> list[bytes]:
    return [bytes.fromhex(p) for p in proof]


def _heading(bundle: Bundle, signed: Checkpoint, trusted_key: str | None) -> list[str]:
    source = (
        "the key you gave"
        if trusted_key
        else "the key in the bundle (compare it with GET /ledger/public-key)"
    )
    return [
        f"Change log of {bundle.engagement}: {len(bundle.events)} events",
        f"Checkpoint: log {signed.origin}, size {signed.size}, root {signed.root.hex()}",
        f"Signature: good, by {source}: {bundle.public_key}",
    ]


def _line(event: BundledEvent) -> str:
    name = event.topic.removeprefix("ledger:")
    if event.state is None:
        return f"  v{event.version:<4} {name} (not shown to clients)"
    state = orjson.loads(event.state)
    when = str(state.get("timestamp", ""))[:16].replace("T", " ")
    reason = f" - {state['reason']}" if state.get("reason") else ""
    return f"  v{event.version:<4} {when}  {name} by {state.get('actor', '?')}{reason}"


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]
