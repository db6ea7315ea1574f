"""The stores the benchmarks run on: the ledger's settings, and a raw writer of the same rows.

Each store is a context manager that leaves nothing behind: SQLite lives in a temporary
folder, PostgreSQL in a fresh schema dropped at the end, even when the run fails.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import count
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from domain.store import sqlite_env

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_SETTINGS = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": "test",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
}

RawWrite = Callable[[], None]
"""Inserts the next row, alone in its own transaction."""


@dataclass(frozen=True)
class Store:
    """Where a ledger keeps its events, and how to write rows there without the library."""

    name: str
    env: dict[str, str]
    raw_writer: Callable[[StoredEvent], AbstractContextManager[RawWrite]]
    """Opens a scratch table shaped like the library's, writing copies of one stored event."""


@contextmanager
def sqlite_store() -> Iterator[Store]:
    """A ledger file and a scratch file in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as folder:
        path = Path(folder)
        yield Store("SQLite", sqlite_env(path / "ledger"), partial(_sqlite_writer, path / "raw.sqlite"))


@contextmanager
def postgres_store() -> Iterator[Store]:
    """A fresh schema in database ``test`` for the ledger and the scratch table, dropped afterwards."""
    schema = f"ledger_bench_{uuid4().hex[:12]}"
    _pg_admin(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        env = PG_SETTINGS | {"POSTGRES_SCHEMA": schema}
        yield Store("PostgreSQL", env, partial(_postgres_writer, schema))
    finally:
        _pg_admin(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def postgres_version() -> str:
    with psycopg.connect(PG_DSN) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def _pg_admin(statement: sql.Composed) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(statement)


# The library's SQLiteApplicationRecorder table; WAL is its journal mode and FULL
# the synchronous level it leaves (SQLite's default), said here explicitly.
_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")
_SQLITE_TABLE = (
    "CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
    "state BLOB, PRIMARY KEY (originator_id, originator_version))"
)
_SQLITE_INSERT = "INSERT INTO raw_events VALUES (?,?,?,?)"


@contextmanager
def _sqlite_writer(path: Path, stored: StoredEvent) -> Iterator[RawWrite]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in (*_SQLITE_PRAGMAS, _SQLITE_TABLE):
            conn.execute(statement)
        versions = count(1)
        originator_id = _hex(stored.originator_id)

        def write() -> None:
            conn.execute("BEGIN")
            conn.execute(_SQLITE_INSERT, (originator_id, next(versions), stored.topic, stored.state))
            conn.execute("COMMIT")

        yield write


# The library's PostgresApplicationRecorder table, without its lock, NOTIFY and triggers.
_PG_TABLE = sql.SQL(
    "CREATE TABLE {schema}.raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
    "topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
)
_PG_INDEX = sql.SQL("CREATE UNIQUE INDEX ON {schema}.raw_events (notification_id)")
_PG_INSERT = sql.SQL(
    "INSERT INTO {schema}.raw_events (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s)"
)


@contextmanager
def _postgres_writer(schema: str, stored: StoredEvent) -> Iterator[RawWrite]:
    names = {"schema": sql.Identifier(schema)}
    with psycopg.connect(PG_DSN) as conn, conn.cursor() as cursor:
        cursor.execute(_PG_TABLE.format(**names))
        cursor.execute(_PG_INDEX.format(**names))
        conn.commit()
        insert = _PG_INSERT.format(**names)
        versions = count(1)

        def write() -> None:
            cursor.execute(insert, (stored.originator_id, next(versions), stored.topic, stored.state))
            conn.commit()

        yield write


def _hex(originator_id: UUID | str) -> str:
    """The originator id as the library's SQLite recorder writes it."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id
