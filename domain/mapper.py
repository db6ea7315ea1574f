"""Stored-event mapping with pydantic and orjson, running the library's upcast convention.

Topics come from each class's ``TOPIC``, never from module paths, so that moving or renaming
a class cannot orphan history.

What clients never see of an event they do see is stored apart from the rest of its state: its
internal note and, since the ledger hides who works on what from clients, a task's assignee
(``PRIVATE``). The stored state is the public JSON, then, only if the event has either, a newline
and a second JSON object holding them and a random salt. The Merkle log commits to that second
part through its digest, so that a client's change-log bundle can prove an event without
revealing (or letting anyone guess) what it holds. JSON from orjson never contains a raw newline,
so the split is unambiguous. Events stored before assignees moved there keep theirs in the
public part, and read the same.
"""

from __future__ import annotations

import secrets
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)

from domain.events import TOPICS, Stored

NOTE_SEPARATOR = b"\n"
PRIVATE = ("internal_note", "assignee")
"""The fields kept in the private part when set (``assignee``: ``TaskAdded``'s)."""


def split_state(data: bytes) -> tuple[bytes, bytes | None]:
    """A stored state's public JSON and, if the event has an internal note, the note's part."""
    public, separator, private = data.partition(NOTE_SEPARATOR)
    return public, private if separator else None


class OrjsonTranscoder(Transcoder):
    """JSON bytes by orjson; pydantic has already made everything JSON-ready."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class LedgerMapper(Mapper[UUID]):
    """Maps the ledger's pydantic events to and from the library's ``StoredEvent``."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event = cast(Stored, domain_event)
        state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        if event.class_version > 1:
            state["class_version"] = event.class_version
        if state.get("request_id") is None:
            state.pop("request_id", None)  # most events have none: their bytes stay as they were
        private = {name: value for name in PRIVATE if (value := state.pop(name, None)) is not None}
        data = self.transcoder.encode(state)
        if private:
            data += NOTE_SEPARATOR + self.transcoder.encode(private | {"salt": secrets.token_hex(16)})
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=event.TOPIC,
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = TOPICS.get(stored_event.topic)
        if cls is None:
            raise MapperDeserialisationError(f"unknown event topic {stored_event.topic!r}")
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        public, private = split_state(data)
        state: dict[str, Any] = self.transcoder.decode(public)
        if private is not None:
            state |= {k: v for k, v in self.transcoder.decode(private).items() if k in PRIVATE}
        version = state.pop("class_version", 1)
        while version < cls.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        # A quoted type: subscripting the protocol at run time costs more than the cast is worth.
        return cast("DomainEventProtocol[UUID]", cls.model_validate(state))
