"""What a read model is to the runner: its tables, and how it applies a batch of changes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from eventsourcing.persistence import StoredEvent

from domain import events as ev
from domain.state import Engagement
from projections.db import Tx


@dataclass(frozen=True)
class Change:
    """One event at its log position, with the engagement just before and just after it."""

    position: int
    event: ev.Event
    before: Engagement | None
    after: Engagement
    engagement_id: str = ""

    def __post_init__(self) -> None:
        if not self.engagement_id:
            object.__setattr__(self, "engagement_id", str(self.event.originator_id))


class Projection(ABC):
    """A read model: a pure function of the events, kept in tables of its own."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    keeps: ClassVar[str] = "history"
    """``history``: rows that each depend on one change alone, so any stretch of the log can be
    rebuilt on its own (in parallel); ``state``: each engagement's current state only, so a
    rebuild needs just the latest state of each engagement."""

    @abstractmethod
    def schema(self, dialect: str) -> list[str]:
        """``CREATE TABLE IF NOT EXISTS`` (and index) statements for its tables."""

    @abstractmethod
    def apply(self, tx: Tx, changes: Sequence[Change]) -> None:
        """Write the rows for ``changes`` (in log order) inside the runner's transaction."""


Stored = tuple[int, StoredEvent]
"""One stored event, exactly as recorded, at its log position."""


class LogProjection(ABC):
    """A read model of the stored events themselves, byte for byte (the Merkle log).

    It is evidence rather than a view: it is extended, never emptied or rebuilt, so that what
    it committed to earlier can be checked against what the store holds now.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    @abstractmethod
    def schema(self, dialect: str) -> list[str]:
        """``CREATE TABLE IF NOT EXISTS`` (and trigger) statements for its tables."""

    @abstractmethod
    def extend(self, tx: Tx, stored: Sequence[Stored]) -> None:
        """Append ``stored`` (in log order) inside the runner's transaction."""
