"""The engagement as each event left it, kept per engagement while the log is read."""

from __future__ import annotations

from domain import events as ev
from domain.service import Ledger
from domain.state import Engagement, evolve
from projections.base import Change


class States:
    """The engagement just after the last event seen, per engagement.

    A miss (a fresh runner, or a full cache just dropped) loads the engagement from the
    store at the version before the event, from its latest snapshot.
    """

    def __init__(self, ledger: Ledger, capacity: int = 20_000) -> None:
        self.ledger = ledger
        self.capacity = capacity
        # Keyed by the id's integer: a UUID hashes and compares in Python, an int in C.
        self._states: dict[int, Engagement] = {}
        self._ids: dict[int, str] = {}

    def change(self, position: int, event: ev.Event) -> Change:
        stream = event.originator_id.int
        before = self._states.get(stream)
        if before is None or before.version != event.originator_version - 1:
            before = self.ledger.state_at(event.originator_id, event.originator_version - 1)
            if len(self._states) >= self.capacity:
                self.clear()
        after = self._states[stream] = evolve(before, event)
        text = self._ids.get(stream) or self._ids.setdefault(stream, str(event.originator_id))
        return Change(position, event, before, after, text)

    def clear(self) -> None:
        self._states.clear()
        self._ids.clear()
