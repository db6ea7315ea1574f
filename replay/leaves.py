"""What the Merkle log commits to for each stored event: its leaf's canonical bytes.

The leaf covers the engagement, the version, the topic and the whole stored state. The state
enters through digests of its two parts (``domain.mapper.split_state``): the public JSON and,
when the event has one, the salted private part (its internal note, a task's assignee: see
``domain.mapper``). A change-log bundle can then prove a
client's event while showing only its public part, and prove that an event it hides is one
of the types clients never see, without showing anything of it but its topic.

Canonical bytes, all lengths fixed or prefixed so that no two leaves share them::

    originator id (16 bytes) || version (8 bytes, big-endian)
    || topic length (2 bytes) || topic (UTF-8)
    || SHA-256(public state) || 0x00, or 0x01 || SHA-256(note part)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.mapper import split_state
from replay.merkle import leaf_hash


@dataclass(frozen=True)
class Leaf:
    """One event as the Merkle log sees it."""

    originator_id: UUID
    version: int
    topic: str
    state_digest: bytes
    note_digest: bytes | None = None

    @classmethod
    def of(cls, stored: StoredEvent) -> Leaf:
        public, note = split_state(stored.state)
        return cls(
            originator_id=_uuid(stored.originator_id),
            version=stored.originator_version,
            topic=stored.topic,
            state_digest=hashlib.sha256(public).digest(),
            note_digest=hashlib.sha256(note).digest() if note is not None else None,
        )

    def canonical(self) -> bytes:
        topic = self.topic.encode()
        note = b"\x01" + self.note_digest if self.note_digest is not None else b"\x00"
        return b"".join(
            [
                self.originator_id.bytes,
                self.version.to_bytes(8, "big"),
                len(topic).to_bytes(2, "big"),
                topic,
                self.state_digest,
                note,
            ]
        )

    def hash(self) -> bytes:
        return leaf_hash(self.canonical())


def _uuid(value: UUID | str) -> UUID:
    """The SQLite log reader leaves ids as text."""
    return value if isinstance(value, UUID) else UUID(value)
