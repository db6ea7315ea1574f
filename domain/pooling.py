"""How a PostgreSQL connection pool makes sure of a connection before handing it out.

Pinging every connection on every checkout cost a round trip per request: about a tenth of
an API worker's time, and as much again of the database's. A connection handed out a moment
ago came back in good order (the pool drops one that comes back broken), so it is trusted; one
that sat idle, through a database restart say, is pinged first. A connection cut while busy
fails its request, which the API answers with a 503 to retry, and the pool drops it.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

IDLE_SECONDS = 1.0


class PingWhenIdle:
    """A pool's ``check``: ping a connection handed out again after ``idle`` seconds or more."""

    def __init__(self, idle: float = IDLE_SECONDS) -> None:
        self.idle = idle
        self._handed_out: WeakKeyDictionary[object, float] = WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        if self.due(conn):
            ConnectionPool.check_connection(conn)

    def due(self, conn: object) -> bool:
        """Whether ``conn`` sat idle long enough to be pinged; it counts as handed out from now."""
        now = time.monotonic()
        with self._lock:
            last = self._handed_out.get(conn)
            self._handed_out[conn] = now
        return last is None or now - last >= self.idle


class AsyncPingWhenIdle(PingWhenIdle):
    """The same, for an asynchronous pool."""

    async def __call__(self, conn: psycopg.AsyncConnection[Any]) -> None:  # type: ignore[override]
        if self.due(conn):
            await AsyncConnectionPool.check_connection(conn)
