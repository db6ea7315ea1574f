"""Stored-event mapping with pydantic and orjson, running the library's upcast convention.

Topics come from each class's ``TOPIC``, never from module paths, so that moving or renaming
a class cannot orphan history.
"""

from __future__ import annotations

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
        data = self.transcoder.encode(state)
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
        state: dict[str, Any] = self.transcoder.decode(data)
        version = state.pop("class_version", 1)
        while version < cls.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        # A quoted type: subscripting the protocol at run time costs more than the cast is worth.
        return cast("DomainEventProtocol[UUID]", cls.model_validate(state))
