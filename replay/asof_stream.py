"""One engagement's stream read by version with log positions: the queries as-of needs beyond the library's.

The library reads a stream by version but not the log position of each event, which the
read models carry (``last_position``, ``position``). These queries read both, by the stream's
primary key (originator id, version), so that a stretch of versions costs what it holds, not
what came before it. Within one stream positions rise with versions (a version is saved only
after the one before it committed, and positions are handed out in commit order), so paging
by position and by version agree.

SQL is written once here with ``%s`` placeholders; only the number of placeholders in a list
varies, never any text from a caller.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Recorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from psycopg import sql

Positioned = tuple[int, StoredEvent]
"""A stored event and its position in the ledger's log."""

_EVENTS = (
    "SELECT {position}, originator_id, originator_version, topic, state FROM {table}"
    " WHERE originator_id = %s AND {where} ORDER BY originator_version"
)
_STRETCH = "originator_version > %s AND originator_version <= %s"
_ENDS = "originator_version IN (1, (SELECT max(originator_version) FROM {table} WHERE originator_id = %s))"
_VERSIONS = (
    "SELECT originator_version FROM {table}"
    " WHERE originator_id = %s AND originator_version > %s AND originator_version <= %s{where}"
    " ORDER BY originator_version LIMIT %s"
)
_FROM_SNAPSHOT = (
    "WITH taken AS (SELECT originator_id, originator_version, topic, state FROM {snapshots}"
    " WHERE originator_id = %s AND originator_version <= %s ORDER BY originator_version DESC LIMIT 1)"
    " SELECT 0, originator_id, originator_version, topic, state FROM taken UNION ALL"
    " SELECT {position}, originator_id, originator_version, topic, state FROM {table}"
    " WHERE originator_id = %s AND originator_version <= %s"
    " AND originator_version > (SELECT coalesce(max(originator_version), 0) FROM taken)"
    " ORDER BY 3"
)
"""The latest snapshot at or below a version (at position 0: positions start at 1) and the
events after it up to another, in one round trip."""
_AT_POSITION = "SELECT originator_version FROM {table} WHERE {position} = %s AND originator_id = %s"
_UP_TO_POSITION = "SELECT max(originator_version) FROM {table} WHERE originator_id = %s AND {position} <= %s"


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _positioned(row: Sequence[Any]) -> Positioned:
    return int(row[0]), StoredEvent(row[1], int(row[2]), row[3], bytes(row[4]))


class StreamReader(ABC):
    """Reads one stream by version, each event with its log position."""

    snapshots: str | None
    """The snapshots table, if snapshots are taken."""

    def events(self, stream: UUID, after: int, up_to: int) -> list[Positioned]:
        """The stream's events with versions in ``(after, up_to]``, in order."""
        return self._events([self._id(stream), after, up_to], _STRETCH)

    def stretch(self, stream: UUID, first: int, last: int) -> tuple[StoredEvent | None, list[Positioned]]:
        """What folds into versions ``first`` to ``last``: the latest snapshot before ``first``
        (if any) and the events after it up to ``last``, read at once."""
        if not self.snapshots:
            return None, self.events(stream, 0, last)
        params = [self._id(stream), first - 1, self._id(stream), last]
        found = [_positioned(r) for r in self._query(_FROM_SNAPSHOT, params)]
        if found and found[0][0] == 0:
            return found[0][1], found[1:]
        return None, found

    def ends(self, stream: UUID) -> list[Positioned]:
        """The stream's first and last events (one, if it holds one; none, if it holds none)."""
        return self._events([self._id(stream), self._id(stream)], _ENDS)

    def at(self, stream: UUID, versions: Collection[int]) -> list[Positioned]:
        """The stream's events at these versions, in order."""
        return self._events([self._id(stream), *versions], f"originator_version IN ({_marks(len(versions))})")

    def versions(
        self, stream: UUID, after: int, up_to: int, limit: int, skip_topics: Collection[str] = ()
    ) -> list[int]:
        """Up to ``limit`` versions in ``(after, up_to]`` of events whose topic is not skipped.

        Only the index and topics are read, no event is decoded: this is how a page finds its
        stretch of the stream before reading it.
        """
        skip = f" AND topic NOT IN ({_marks(len(skip_topics))})" if skip_topics else ""
        rows = self._query(_VERSIONS, [self._id(stream), after, up_to, *skip_topics, limit], skip)
        return [int(r[0]) for r in rows]

    def version_at(self, stream: UUID, position: int) -> int:
        """The stream's last version at or before log position ``position`` (0 if none).

        A position of the stream's own (the usual ``after`` of a page) is one lookup by the
        log's key; any other falls back to the stream's versions up to it.
        """
        exact = self._query(_AT_POSITION, [position, self._id(stream)])
        if exact:
            return int(exact[0][0])
        found = self._query(_UP_TO_POSITION, [self._id(stream), position])
        return int(found[0][0] or 0) if found else 0

    def _events(self, params: Sequence[Any], where: str) -> list[Positioned]:
        return [_positioned(r) for r in self._query(_EVENTS, params, where)]

    @abstractmethod
    def _id(self, stream: UUID) -> Any:
        """The stream id as the recorder stores it."""

    @abstractmethod
    def _query(self, template: str, params: Sequence[Any], where: str = "") -> list[Sequence[Any]]:
        """Rows of ``template`` with ``where`` in its place, on this store's events table."""


class SQLiteStreamReader(StreamReader):
    """The library's SQLite table: ids as hex text, positions are the rowid."""

    def __init__(self, recorder: SQLiteApplicationRecorder, snapshots: str | None) -> None:
        self.recorder, self.snapshots = recorder, snapshots

    def _id(self, stream: UUID) -> Any:
        return stream.hex

    def _query(self, template: str, params: Sequence[Any], where: str = "") -> list[Sequence[Any]]:
        statement = template.replace("{where}", where).format(
            table=self.recorder.events_table_name, position="rowid", snapshots=self.snapshots
        )
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement.replace("%s", "?"), params)
            return [tuple(row) for row in cursor.fetchall()]


class PostgresStreamReader(StreamReader):
    """The library's PostgreSQL table in its schema: positions are ``notification_id``."""

    def __init__(self, recorder: PostgresApplicationRecorder, snapshots: str | None) -> None:
        self.recorder, self.snapshots = recorder, snapshots
        self.table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        self.snapshot_table = sql.Identifier(recorder.datastore.schema, snapshots or "")

    def _id(self, stream: UUID) -> Any:
        return stream

    def _query(self, template: str, params: Sequence[Any], where: str = "") -> list[Sequence[Any]]:
        statement = sql.SQL(template.replace("{where}", where)).format(
            table=self.table, position=sql.Identifier("notification_id"), snapshots=self.snapshot_table
        )
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, params, prepare=True)
            return [tuple(row.values()) if isinstance(row, dict) else row for row in cursor.fetchall()]


def stream_reader(recorder: Recorder, snapshots: Recorder | None = None) -> StreamReader:
    """The reader for the store ``recorder`` writes to (and ``snapshots``, its snapshots, if taken)."""
    table = (
        snapshots.events_table_name
        if isinstance(snapshots, SQLiteAggregateRecorder | PostgresAggregateRecorder)
        else None
    )
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteStreamReader(recorder, table)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresStreamReader(recorder, table)
    raise TypeError(f"no stream reader for {type(recorder).__name__}")
