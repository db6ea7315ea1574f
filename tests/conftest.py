"""Fixtures: the same store contract runs on SQLite files and on a PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.service import Ledger
from domain.store import sqlite_env
from tests.support import StepClock, postgres_schema


@pytest.fixture
def sqlite_store(tmp_path: Path) -> dict[str, str]:
    return sqlite_env(tmp_path / "data")


@pytest.fixture
def postgres_store() -> Iterator[dict[str, str]]:
    with postgres_schema() as env:
        yield env


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for each real store in turn."""
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


@pytest.fixture
def ledger(store: dict[str, str]) -> Iterator[Ledger]:
    app = Ledger(store, clock=StepClock())
    yield app
    app.close()
