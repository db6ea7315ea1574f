"""The read models' database: a SQLite file beside the events, or the events' PostgreSQL schema.

SQL is written once, with ``%s`` placeholders, and never from user input; on SQLite the
placeholders become ``?``. Dates and times are stored as ISO-8601 text in both, so rows
compare equal across stores and sort in time order.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.utils import Environment, strtobool
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from domain.pooling import AsyncPingWhenIdle, PingWhenIdle

Row = dict[str, Any]
Params = Sequence[Any]


class Tx(ABC):
    """One transaction: rows and positions written together, or not at all."""

    @abstractmethod
    def execute(self, statement: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    def executemany(self, statement: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Append rows fast (COPY on PostgreSQL)."""

    @abstractmethod
    def query(self, statement: str, params: Params = ()) -> list[Row]: ...


class ProjectionDB(ABC):
    dialect: str

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A writing transaction: one writer at a time."""

    @abstractmethod
    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read-only transaction that sees one consistent state of every table."""

    def query(self, statement: str, params: Params = ()) -> list[Row]:
        with self.reading() as tx:
            return tx.query(statement, params)

    async def open_async(self) -> None:
        """Make ready what ``query_async`` needs in the running event loop: here nothing."""
        return

    async def query_async(self, statement: str, params: Params = ()) -> list[Row]:
        """``query`` for a coroutine: here in a worker thread (PostgreSQL needs none)."""
        return await asyncio.to_thread(self.query, statement, params)

    async def close_async(self) -> None:
        """Let go of what ``open_async`` made ready."""
        return

    @abstractmethod
    def close(self) -> None: ...


class _SQLiteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Params = ()) -> int:
        return self.conn.execute(statement.replace("%s", "?"), params).rowcount

    def executemany(self, statement: str, rows: Iterable[Params]) -> None:
        self.conn.executemany(statement.replace("%s", "?"), rows)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        marks = ",".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)

    def query(self, statement: str, params: Params = ()) -> list[Row]:
        cursor = self.conn.execute(statement.replace("%s", "?"), params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class SQLiteDB(ProjectionDB):
    """A SQLite file; one connection per thread, writers take the database's write lock."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._begin("BEGIN IMMEDIATE") as tx:
            yield tx

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        # A deferred transaction in WAL mode reads one snapshot and blocks no writer.
        with self._begin("BEGIN DEFERRED") as tx:
            yield tx

    @contextmanager
    def _begin(self, statement: str) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute(statement)
        try:
            yield _SQLiteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
        self._connections.clear()


class _PostgresTx(Tx):
    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Params = ()) -> int:
        return self.conn.execute(statement.encode(), params or None).rowcount

    def executemany(self, statement: str, rows: Iterable[Params]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(statement.encode(), rows)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        statement = psycopg.sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg.sql.Identifier(table), psycopg.sql.SQL(",").join(map(psycopg.sql.Identifier, columns))
        )
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def query(self, statement: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(statement.encode(), params).fetchall()


class PostgresDB(ProjectionDB):
    """The events' PostgreSQL schema, through a small pool of autocommit connections: a lone
    query is one round trip, and a transaction says where it begins."""

    dialect = "postgres"

    def __init__(
        self, conninfo: str, schema: str, max_size: int = 4, wait: float = 30.0, ping: bool = False
    ) -> None:
        """``wait``: the longest a caller waits for a connection (a database that is down answers a
        request with an error after it, not never); ``ping``: check a connection that sat idle before
        handing it out, so that one cut by a restart is replaced instead of failing its caller
        (``domain.pooling``)."""
        self.schema = schema
        self.conninfo = conninfo
        self.ping = ping
        self.async_pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] | None = None
        self.pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs={"options": f"-c search_path={schema}", "row_factory": dict_row, "autocommit": True},
            timeout=wait,
            check=PingWhenIdle() if ping else None,
            open=True,
        )

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        with self.pool.connection() as conn:
            conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try:
                yield _PostgresTx(conn)
            except BaseException:
                if not conn.broken:
                    conn.execute(b"ROLLBACK")
                raise
            conn.execute(b"COMMIT")

    def query(self, statement: str, params: Params = ()) -> list[Row]:
        """One statement, which sees one snapshot by itself: one round trip, no transaction around it."""
        with self.pool.connection() as conn:
            return conn.execute(statement.encode(), params or None).fetchall()

    async def open_async(self) -> None:
        self.async_pool = AsyncConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self.pool.max_size,
            kwargs=self.pool.kwargs,
            timeout=self.pool.timeout,
            check=AsyncPingWhenIdle() if self.ping else None,
            open=False,
        )
        await self.async_pool.open()

    async def query_async(self, statement: str, params: Params = ()) -> list[Row]:
        if self.async_pool is None:
            return await super().query_async(statement, params)
        async with self.async_pool.connection() as conn:
            cursor = await conn.execute(statement.encode(), params or None)
            return await cursor.fetchall()

    async def close_async(self) -> None:
        if self.async_pool is not None:
            await self.async_pool.close()
            self.async_pool = None

    def close(self) -> None:
        self.pool.close()


def postgres_conninfo(env: Environment) -> str:
    """A libpq connection string from the library's ``POSTGRES_*`` settings."""
    return psycopg.conninfo.make_conninfo(
        host=env.get("POSTGRES_HOST") or "127.0.0.1",
        port=env.get("POSTGRES_PORT") or "5432",
        dbname=env.get("POSTGRES_DBNAME") or "",
        user=env.get("POSTGRES_USER") or "",
        password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=env.get("POSTGRES_CONNECT_TIMEOUT") or "10",
    )


def open_projection_db(env: Environment) -> ProjectionDB:
    """The read models' database for the event store that ``env`` configures."""
    if (env.get("PERSISTENCE_MODULE") or "").startswith("eventsourcing.postgres"):
        wait = float(env.get("POSTGRES_CONNECT_TIMEOUT") or 30)  # the library's pool takes the same
        ping = strtobool(env.get("POSTGRES_PRE_PING") or "no")
        schema = env.get("POSTGRES_SCHEMA") or "public"
        return PostgresDB(postgres_conninfo(env), schema, wait=wait, ping=ping)
    events_file = Path(env.get("SQLITE_DBNAME") or "events.sqlite")
    return SQLiteDB(events_file.with_name("projections.sqlite"))
