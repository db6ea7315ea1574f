"""A pooled connection is pinged only after it sat idle: what that finds out, and what it costs.

Each test cuts the pool's one connection from the server's side (``pg_terminate_backend``, as
a restart does) and looks at what the next caller gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from domain.pooling import AsyncPingWhenIdle, PingWhenIdle
from tests.support import PG_DSN

pytestmark = pytest.mark.postgres

IDLE = 0.3


@pytest.fixture
def pool() -> Iterator[ConnectionPool[psycopg.Connection[tuple[object, ...]]]]:
    with ConnectionPool(PG_DSN, min_size=1, max_size=1, check=PingWhenIdle(IDLE), open=True) as pool:
        yield pool


def _backend(pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]]) -> int:
    with pool.connection() as conn:
        return int(conn.info.backend_pid)


def _cut(pid: int) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.05)  # the server closes the socket


def test_a_connection_cut_while_it_sat_idle_is_replaced_before_anyone_uses_it(
    pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]],
) -> None:
    cut = _backend(pool)
    _cut(cut)
    time.sleep(IDLE)
    with pool.connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.backend_pid != cut


def test_a_connection_cut_just_after_use_fails_one_caller_and_the_pool_drops_it(
    pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]],
) -> None:
    cut = _backend(pool)
    _cut(cut)  # within IDLE of its last use: handed out unpinged
    with pytest.raises(psycopg.OperationalError), pool.connection() as conn:
        conn.execute("SELECT 1")
    with pool.connection(timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.backend_pid != cut


def test_the_asynchronous_pool_pings_an_idle_connection_too() -> None:
    async def scenario() -> tuple[int, int]:
        async with AsyncConnectionPool(
            PG_DSN, min_size=1, max_size=1, check=AsyncPingWhenIdle(IDLE), open=False
        ) as pool:
            async with pool.connection() as conn:
                cut = int(conn.info.backend_pid)
            _cut(cut)
            await asyncio.sleep(IDLE)
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
                return cut, int(conn.info.backend_pid)

    cut, now = asyncio.run(scenario())
    assert now != cut
