"""Which store the ledger uses: PostgreSQL if the library's settings name it, else SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

from domain.store import sqlite_env

DEFAULT_DATA_DIR = "ledger-data"


def store_env(data_dir: str | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The library's persistence settings: PostgreSQL if the environment names it, else SQLite.

    PostgreSQL comes from the library's own settings (``PERSISTENCE_MODULE=eventsourcing.postgres``
    and ``POSTGRES_*``); otherwise the embedded SQLite store lives in the data folder.
    """
    environ = dict(os.environ if environ is None else environ)
    if environ.get("PERSISTENCE_MODULE", "").startswith("eventsourcing.postgres"):
        return {}
    return sqlite_env(data_folder(data_dir, environ))


def data_folder(given: str | None, environ: dict[str, str] | None = None) -> Path:
    """The data folder: ``--data``, else ``LEDGER_DATA_DIR``, else ``./ledger-data``."""
    environ = dict(os.environ if environ is None else environ)
    return Path(given or environ.get("LEDGER_DATA_DIR") or DEFAULT_DATA_DIR)
