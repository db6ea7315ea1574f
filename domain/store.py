"""Where events live: settings for the embedded store, and the append-only guard.

The guard is a pair of database triggers on the stored-events table: the database itself
refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE), whoever asks. That stops mistakes;
the Merkle log makes deliberate rewrites detectable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, Recorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, retry
from psycopg import sql
from psycopg.rows import tuple_row

from domain.pooling import PingWhenIdle

APPEND_ONLY_MESSAGE = "stored events are append-only"
SCHEMA_LOCK_KEY = 0x1ED6E2  # an arbitrary advisory-lock key of the ledger's own


def sqlite_env(data_dir: Path) -> dict[str, str]:
    """The library's settings for the embedded SQLite store in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(data_dir / "events.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def make_append_only(recorder: Recorder) -> None:
    """Install the triggers that refuse changes to stored events (idempotent)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        _sqlite_triggers(recorder)
    elif isinstance(recorder, PostgresApplicationRecorder):
        _postgres_triggers(recorder)
    else:
        raise TypeError(f"no append-only guard for {type(recorder).__name__}")


def _sqlite_triggers(recorder: SQLiteApplicationRecorder) -> None:
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        for operation in ("UPDATE", "DELETE"):
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_{operation.lower()} "
                f"BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


_PG_REFUSAL = (
    "ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION '" + APPEND_ONLY_MESSAGE + ": % refused on %', TG_OP, TG_TABLE_NAME "
    "USING ERRCODE = 'insufficient_privilege'; END $$"
)
_PG_FUNCTION = sql.SQL("CREATE OR REPLACE FUNCTION {schema}." + _PG_REFUSAL)
_PG_TRIGGERS = (
    ("refuse_update_delete", "UPDATE OR DELETE", "ROW"),
    ("refuse_truncate", "TRUNCATE", "STATEMENT"),
)


def _postgres_triggers(recorder: PostgresApplicationRecorder) -> None:
    schema = sql.Identifier(recorder.datastore.schema)
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(_PG_FUNCTION.format(schema=schema))
        for name, operations, level in _PG_TRIGGERS:
            cursor.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {name} BEFORE " + operations + " ON {schema}.{table} "
                    "FOR EACH " + level + " EXECUTE FUNCTION {schema}.ledger_refuse_change()"
                ).format(name=sql.Identifier(f"{table}_{name}"), schema=schema, table=sql.Identifier(table))
            )


def append_only_statements(dialect: str, table: str) -> list[str]:
    """The same guard for a table of our own beside the events (on PostgreSQL, on the search path)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for operation in ("UPDATE", "DELETE")
        ]
    # A function of its own: the events' one is replaced under another lock (the schema lock), and
    # PostgreSQL refuses two concurrent replacements of one function ("tuple concurrently updated").
    refusal = _PG_REFUSAL.replace("ledger_refuse_change()", "ledger_refuse_evidence_change()")
    return [f"CREATE OR REPLACE FUNCTION {refusal}"] + [
        f"CREATE OR REPLACE TRIGGER {table}_{name} BEFORE {operations} ON {table} "
        f"FOR EACH {level} EXECUTE FUNCTION ledger_refuse_evidence_change()"
        for name, operations, level in _PG_TRIGGERS
    ]


@contextmanager
def schema_lock(env: Environment) -> Iterator[None]:
    """On PostgreSQL, one process at a time creates tables and triggers (a database lock).

    Several API workers starting together would otherwise race on ``CREATE ... IF NOT EXISTS``
    and fail with "tuple concurrently updated". SQLite serialises schema changes itself.
    """
    if not env.get("PERSISTENCE_MODULE", "").startswith("eventsourcing.postgres"):
        yield
        return
    with psycopg.connect(
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT") or "5432",
        dbname=env.get("POSTGRES_DBNAME"),
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or "30"),
        autocommit=True,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [SCHEMA_LOCK_KEY])
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [SCHEMA_LOCK_KEY])


@contextmanager
def stream_lock(recorder: Recorder, stream_id: UUID) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock on one stream, so writers queue in turn.

    Other stores need none: the embedded SQLite store has one writing process, whose
    threads already take turns.
    """
    if not isinstance(recorder, PostgresApplicationRecorder):
        yield
        return
    key = int.from_bytes(stream_id.bytes[:8], "big", signed=True)
    with recorder.datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])


def out_of_reach(error: BaseException) -> bool:
    """Whether ``error`` says the database is out of reach for now (down, restarting, cut off, or
    locked by another writer past the wait): the same request may succeed a moment later.

    The library wraps the drivers' errors in its own, the original as the cause; a wrapped
    SQLite error is judged by its cause ("no such table" is a bug, not an outage).
    """
    if isinstance(error, sqlite3.OperationalError):
        return any(word in str(error) for word in ("locked", "busy"))
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True  # connection lost or refused, pool timeout, server shutting down, lock timeout
    if isinstance(error, OperationalError | InterfaceError):
        return error.__cause__ is None or out_of_reach(error.__cause__)
    return False


class StreamStats(NamedTuple):
    events: int
    last_version: int
    last_position: int


def stream_stats(recorder: Recorder, up_to: int) -> dict[UUID, StreamStats]:
    """Per stream: its event count, last version and last log position, among positions ``<= up_to``."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT originator_id, count(*), max(originator_version), max(rowid) "
            f"FROM {recorder.events_table_name} WHERE rowid <= ? GROUP BY originator_id"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [up_to])
            return {UUID(str(r[0])): StreamStats(int(r[1]), int(r[2]), int(r[3])) for r in cursor.fetchall()}
    if isinstance(recorder, PostgresApplicationRecorder):
        query = sql.SQL(
            "SELECT originator_id, count(*) AS n, max(originator_version) AS v, max(notification_id) AS p "
            "FROM {}.{} WHERE notification_id <= %s GROUP BY originator_id"
        ).format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, [up_to])
            return {
                UUID(str(r["originator_id"])): StreamStats(int(r["n"]), int(r["v"]), int(r["p"]))
                for r in cursor.fetchall()
            }
    raise TypeError(f"no stream statistics for {type(recorder).__name__}")


def read_log(recorder: Recorder, after: int, limit: int) -> list[tuple[int, StoredEvent]]:
    """Up to ``limit`` stored events with log positions after ``after``, in log order.

    This reads the table directly, on both stores: the library's readers build a UUID (and, on
    PostgreSQL, a notification object) per row, which costs more than the rest of the read (ids
    stay text; the mapper accepts them). The query is the library's own, so what it sees, and
    the order it sees it in, is the same.
    """
    return _read(recorder, "{position} > %s ORDER BY {position} LIMIT %s", [after, limit])


def read_stream(recorder: Recorder, stream_id: UUID, after: int) -> list[tuple[int, StoredEvent]]:
    """The stream's stored events after version ``after``, in order, each with its log position
    (which the library's ``select_events`` leaves out)."""
    where = "originator_id = %s AND originator_version > %s ORDER BY originator_version"
    return _read(recorder, where, [stream_id, after])


def _read(recorder: Recorder, where: str, params: list[Any]) -> list[tuple[int, StoredEvent]]:
    """Stored events and their log positions, as ``where`` (a constant of ours) picks them;
    ``{position}`` in it names the position column."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name}"
            f" WHERE {where.format(position='rowid').replace('%s', '?')}"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [p.hex if isinstance(p, UUID) else p for p in params])
            return [(r[0], StoredEvent(r[1], r[2], r[3], r[4])) for r in cursor.fetchall()]
    if isinstance(recorder, PostgresApplicationRecorder):
        where = where.format(position="notification_id")
        return cast(list[tuple[int, StoredEvent]], _read_postgres(recorder, where, params))
    raise TypeError(f"no log reader for {type(recorder).__name__}")


OUTAGE_ATTEMPTS = 2
"""Tries of a statement whose connection failed. A connection cut by a restart is found out by the
pool's pre-ping, so a second try covers a dropped one; the library's ten tries, each waiting for a
connection, would hold a request for ten times ``POSTGRES_CONNECT_TIMEOUT`` while the database is down."""


@retry((InterfaceError, OperationalError), max_attempts=OUTAGE_ATTEMPTS, wait=0.2)
def _read_postgres(
    recorder: PostgresApplicationRecorder, where: str, params: list[Any]
) -> list[tuple[int, StoredEvent]]:
    statement = sql.SQL(
        "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {}.{} WHERE "
        + where
    ).format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(statement, params, prepare=True)
        return [(r[0], StoredEvent(r[1], r[2], r[3], bytes(r[4]))) for r in cursor.fetchall()]


def _tried_twice(method: Any) -> Any:
    """The library's ``method`` without its ten tries: ``OUTAGE_ATTEMPTS`` of them."""
    tried = retry((InterfaceError, OperationalError), max_attempts=OUTAGE_ATTEMPTS, wait=0.2)
    return tried(method.__wrapped__)


class LockingPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, inserting in one round trip with the table lock kept.

    The library inserts either in a pipelined transaction (lock, notify, insert: several
    round trips) or through a database function that drops the table lock, so that a
    late-committing lower position could be passed over by readers. This function takes
    the lock too: one round trip, positions still committed in order.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.pre_ping:
            # The library's pool pings on every checkout; the pool offers no setter for its check.
            datastore.pool._check = PingWhenIdle()
        # Named after the table: applications sharing a schema each keep their own function.
        self.pg_function_name_insert_events = f"ledger_insert_{self.events_table_name}"
        self.check_identifier_length(self.pg_function_name_insert_events)
        schema, table = sql.Identifier(datastore.schema), sql.Identifier(self.events_table_name)
        function = sql.Identifier(self.pg_function_name_insert_events)
        # Four plain arrays rather than one of the library's composite type: psycopg sends them
        # in binary, where a composite array is written out as escaped text on every insert.
        self.sql_invoke_pg_function_insert_events = sql.SQL(
            "SELECT * FROM {}.{}(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(schema, function)
        self.sql_create_statements[self.create_insert_function_statement_index] = sql.SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}"
            "(ids uuid[], versions bigint[], topics text[], states bytea[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
            "SET LOCAL lock_timeout = '{timeout}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} AS t "
            "(originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) "
            "RETURNING notification_id; END; $BODY$"
        ).format(
            schema=schema,
            function=function,
            timeout=datastore.lock_timeout,
            table=table,
            channel=sql.Identifier(self.channel_name),
        )

    select_events = _tried_twice(PostgresApplicationRecorder.select_events)
    select_notifications = _tried_twice(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _tried_twice(PostgresApplicationRecorder.max_notification_id)

    @retry((InterfaceError, OperationalError), max_attempts=OUTAGE_ATTEMPTS, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(self.sql_invoke_pg_function_insert_events, columns, prepare=True)
            return [int(position) for (position,) in cursor.fetchall()]
