"""Helpers for tests: a fixed clock, given/when/then over the pure deciders, PostgreSQL settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from bench.stores import PG_DSN as PG_DSN
from bench.stores import PG_SETTINGS
from domain import commands as c
from domain import events as ev
from domain.decide import Context, decide
from domain.state import Engagement, fold
from domain.values import engagement_id

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CODE = "ACME-ERP"
START = date(2026, 1, 5)


def opened(**fields: Any) -> c.OpenEngagement:
    values: dict[str, Any] = {
        "code": CODE,
        "title": "ERP rollout",
        "client_id": "acme",
        "client_name": "ACME Manufacturing",
        "manager": "Dana Whitfield",
        "planned_start": START,
        "planned_end": date(2026, 10, 30),
    }
    return c.OpenEngagement(**(values | fields))


def given(*commands: c.Command, actor: str = "dana", now: datetime = NOW) -> Engagement | None:
    """The engagement after recording ``commands`` one after another (each must be accepted)."""
    state: Engagement | None = None
    for command in commands:
        state = fold(state, decide(state, command, Context(actor=actor, now=now)))
    return state


def state_of(*commands: c.Command) -> Engagement:
    """The engagement after ``commands``, which must open it."""
    state = given(*commands)
    assert state is not None
    return state


def head(version: int, actor: str = "dana", **why: Any) -> dict[str, Any]:
    """The fields every event of the test engagement carries: id, version, time, actor and the why."""
    return {
        "originator_id": engagement_id(CODE), "originator_version": version, "timestamp": NOW,
        "actor": actor, **why,
    }  # fmt: skip


def when(
    state: Engagement | None, command: c.Command, actor: str = "dana", now: datetime = NOW
) -> list[ev.Event]:
    return decide(state, command, Context(actor=actor, now=now))


class StepClock:
    """A clock that moves one minute forward each time it is read."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """Skip without PostgreSQL on a developer's machine; fail in CI, where it must run."""
    if postgres_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required when CI=true")
    pytest.skip("PostgreSQL on 127.0.0.1:5432 is not running")


@contextmanager
def postgres_schema() -> Iterator[dict[str, str]]:
    """The library's settings for a fresh schema in database ``test``, dropped afterwards."""
    require_postgres()
    schema = f"ledger_test_{uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield PG_SETTINGS | {"POSTGRES_SCHEMA": schema}
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
