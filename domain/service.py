"""The application service: load the engagement, decide, save; retry when a writer raced us."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import BoundedSemaphore, Lock
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.utils import Environment, EnvType

from domain import errors
from domain import events as ev
from domain.commands import Command
from domain.decide import Context, decide
from domain.mapper import LedgerMapper, OrjsonTranscoder
from domain.state import Engagement, fold
from domain.store import make_append_only, read_stream, schema_lock, stream_lock
from domain.values import engagement_id

Clock = Callable[[], datetime]

POSTGRES_DEFAULTS = {
    "POSTGRES_CONNECT_TIMEOUT": "2",
    "POSTGRES_PRE_PING": "y",
    "POSTGRES_LOCK_TIMEOUT": "5",
}
"""The library's PostgreSQL settings where the ledger needs other defaults than its own: while
the database is down a request waits at most 2 s for a connection (the library's default is 30 s,
per try), a connection that sat idle (through a restart, say) is pinged before use instead of
failing a request (see ``domain.pooling``), and no insert waits on the table lock for more than
5 s (the default waits for ever). Each may be set in the environment as usual."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tries:
    """A command's request id (from an idempotency key), and where its earlier tries may show.

    Events after version ``unsearched_after`` may hold an earlier try of the same request; ``None``
    while no other try can have run. A retry that takes over from a try that vanished (a crash)
    starts at 0, so the whole stream is searched once; every try, after losing a race, searches
    what was recorded since the state it decided on. Two tries of one request, alive at once,
    thus never both record: the store lets only one of them save on a version.
    """

    request_id: str | None = None
    unsearched_after: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What a command recorded: the engagement's version after it and the log position."""

    version: int
    position: int | None
    events: list[ev.Event] = field(default_factory=list)
    earlier: bool = False
    """Recorded by an earlier try of the same request, found in the stream, not by this one."""


class Ledger(Application[UUID]):
    """Engagements stored as event streams, one stream per engagement code."""

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {
        "IS_SNAPSHOTTING_ENABLED": "y",
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        # States are immutable, so the cache may hand them out without copying.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    snapshot_interval = 100
    max_attempts = 25
    recent_capacity = 10_000
    """Engagements whose last written state this process remembers (0: read the store each time)."""

    _stream_locks = tuple(Lock() for _ in range(64))
    """Writers in one process take turns per engagement (striped); other processes retry."""
    _contended = BoundedSemaphore(4)
    """At most this many retrying commands hold a pooled connection for a stream lock."""

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.listeners: list[Callable[[int], None]] = []
        self._recent: dict[UUID, Engagement] = {}
        with schema_lock(self.construct_env(self.name, env)):
            super().__init__(env)
            make_append_only(self.recorder)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library's settings, with the ledger's own PostgreSQL recorder unless one is named."""
        settings = super().construct_env(name, env)
        if (settings.get("PERSISTENCE_MODULE") or "").startswith("eventsourcing.postgres"):
            settings.setdefault("APPLICATION_RECORDER_TOPIC", "domain.store:LockingPostgresRecorder")
            for key, value in POSTGRES_DEFAULTS.items():
                settings.setdefault(key, value)
        return settings

    @property
    def settings(self) -> Environment:
        """The library's settings this application was built with (defaults, environment, overrides)."""
        return cast(Environment, self.env)

    def construct_mapper(self) -> Mapper[UUID]:
        return LedgerMapper(
            transcoder=OrjsonTranscoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )

    def execute(
        self,
        command: Command,
        actor: str,
        expected_version: int | None = None,
        request_id: str | None = None,
        retried: bool = False,
    ) -> Outcome:
        """Record ``command`` on behalf of ``actor``; with ``expected_version``, only on that version.

        Without an expected version a lost race is retried on fresh state, so concurrent
        writers never overwrite each other; with one, it is refused instead. The events carry
        ``request_id``; when an earlier try of that request may have been recorded (``retried``),
        what it recorded is answered instead of recording the command again.
        """
        tries = Tries(request_id, 0 if retried and request_id else None)
        with self._stream_locks[hash(command.code) % len(self._stream_locks)]:
            return self._execute(command, actor, expected_version, tries)

    def _execute(self, command: Command, actor: str, expected_version: int | None, tries: Tries) -> Outcome:
        outcome = self._attempt_on_recent(command, actor, expected_version, tries)
        outcome = outcome or self._attempt(command, actor, expected_version, tries)
        if outcome is not None:
            return outcome
        # Another process won the race. Queue behind the others on a database lock for
        # this engagement, so that retries take turns instead of colliding again.
        with self._contended, stream_lock(self.recorder, engagement_id(command.code)):
            for attempt in range(self.max_attempts):
                outcome = self._attempt(command, actor, expected_version, tries)
                if outcome is not None:
                    return outcome
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311
        raise errors.TooManyConcurrentWriters(f"{command.code} kept changing; nothing recorded")

    def _attempt_on_recent(
        self, command: Command, actor: str, expected_version: int | None, tries: Tries
    ) -> Outcome | None:
        """Decide on the state this process last wrote, without reading the store.

        The store's uniqueness of (engagement, version) makes this safe: if another process
        wrote meanwhile, the save conflicts and nothing is recorded. Only a successful save
        is trusted; a refusal or a no-op is judged again on fresh state (``None``). A retried
        request is judged on the store, where its earlier try may show.
        """
        state = self._recent.get(engagement_id(command.code))
        if state is None or (expected_version is not None and state.version != expected_version):
            return None
        if tries.unsearched_after is not None:  # a retry: its earlier try may show in the store
            return None
        try:
            new_events = decide(state, command, Context(actor=actor, now=self.clock()))
        except errors.RuleViolation:
            return None
        if not new_events:
            return None
        return self._save_decision(command, state, new_events, expected_version, tries)

    def _attempt(
        self, command: Command, actor: str, expected_version: int | None, tries: Tries
    ) -> Outcome | None:
        """Load, decide and save once; ``None`` if another writer saved first."""
        state = self.engagement_or_none(command.code)
        current = state.version if state else 0
        if earlier := self._earlier_try(command.code, tries, current):
            return earlier
        if expected_version is not None and current != expected_version:
            raise errors.ExpectedVersionMismatch(
                f"{command.code} is at version {current}, not {expected_version}"
            )
        new_events = decide(state, command, Context(actor=actor, now=self.clock()))
        if not new_events:
            return Outcome(version=current, position=None)
        return self._save_decision(command, state, new_events, expected_version, tries)

    def _save_decision(
        self,
        command: Command,
        state: Engagement | None,
        new_events: list[ev.Event],
        expected_version: int | None,
        tries: Tries,
    ) -> Outcome | None:
        if tries.request_id is not None:
            new_events = [e.model_copy(update={"request_id": tries.request_id}) for e in new_events]
            tries.unsearched_after = state.version if state else 0
        try:
            recordings = self.save(*new_events)
        except IntegrityError:
            self._recent.pop(new_events[0].originator_id, None)
            if expected_version is None:
                return None
            if earlier := self._earlier_try(command.code, tries, new_events[0].originator_version):
                return earlier
            raise errors.ExpectedVersionMismatch(
                f"{command.code} changed while this command was decided"
            ) from None
        after = fold(state, new_events)
        assert after is not None
        self._remember(after)
        self._snapshot_if_due(after, new_events)
        return Outcome(
            version=new_events[-1].originator_version,
            position=recordings[-1].notification.id,
            events=new_events,
        )

    def _earlier_try(self, code: str, tries: Tries, reached: int) -> Outcome | None:
        """What an earlier try of this request recorded, if the stream (known to have ``reached``
        that version) shows it; else ``None``, and the stream up to there holds none of it."""
        after = tries.unsearched_after
        if tries.request_id is None or after is None or reached <= after:
            return None
        found = [
            (position, event)
            for position, stored in read_stream(self.recorder, engagement_id(code), after)
            if (event := cast(ev.Event, self.mapper.to_domain_event(stored))).request_id == tries.request_id
        ]
        if not found:
            tries.unsearched_after = reached
            return None
        position, last = found[-1]
        return Outcome(last.originator_version, position, [event for _, event in found], earlier=True)

    def _remember(self, state: Engagement) -> None:
        self._keep_in_cache(state)
        if not self.recent_capacity:
            return
        if len(self._recent) >= self.recent_capacity:
            self._recent.clear()
        self._recent[state.id] = state

    def engagement(self, code: str, version: int | None = None) -> Engagement:
        """The engagement as its events leave it (at ``version``, if given)."""
        try:
            state = cast(
                Engagement,
                self.repository.get(engagement_id(code), version=version, projector_func=cast(Any, fold)),
            )
        except AggregateNotFoundError:
            raise errors.EngagementNotFound(f"no engagement {code.strip().upper()}") from None
        if version is None:
            self._keep_in_cache(state)
        return state

    def _keep_in_cache(self, state: Engagement) -> None:
        """Put the newest state in the aggregate cache.

        The library fast-forwards a cached aggregate on every load but only caches what its
        own aggregates save, so without this the cache would keep the first state it loaded
        and every command would replay everything recorded since. An older state put last
        (a reader racing a writer) costs only a longer fast-forward next time: loads always
        read the events recorded after the cached version.
        """
        if self.repository.cache is not None:
            self.repository.cache.put(state.id, state)

    def state_at(self, stream_id: UUID, version: int) -> Engagement | None:
        """The engagement with this id at ``version`` (``None`` before its first event)."""
        if version < 1:
            return None
        return cast(
            Engagement,
            self.repository.get(stream_id, version=version, projector_func=cast(Any, fold)),
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``save``; given only our events, without its check of each object against
        its runtime protocols, which on Python 3.11 cost more CPU than deciding the command."""
        if kwargs or not all(isinstance(obj, ev.Event) for obj in objs):
            return super().save(*objs, **kwargs)
        processing = ProcessingEvent[UUID]()
        processing.events.extend(objs)
        recordings = self._record(processing)
        self._notify(recordings)
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        """Tell in-process listeners (projection runners) the last position just recorded."""
        if recordings:
            for listener in self.listeners:
                listener(recordings[-1].notification.id)

    def engagement_or_none(self, code: str) -> Engagement | None:
        try:
            return self.engagement(code)
        except errors.EngagementNotFound:
            return None

    def history(self, code: str, after: int | None = None) -> Iterator[ev.Event]:
        """The engagement's events in order (after version ``after``, if given)."""
        return cast(Iterator[ev.Event], self.events.get(engagement_id(code), gt=after))

    def _snapshot_if_due(self, after: Engagement, new_events: list[ev.Event]) -> None:
        first, last = new_events[0].originator_version, new_events[-1].originator_version
        if self.snapshots is None or last // self.snapshot_interval == (first - 1) // self.snapshot_interval:
            return
        snapshot = ev.EngagementSnapshot(
            originator_id=after.id,
            originator_version=after.version,
            timestamp=after.last_changed_at,
            state=after.model_dump(mode="json"),
        )
        self.snapshots.put([snapshot])
