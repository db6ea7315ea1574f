"""Where events live: settings for the embedded store, and the append-only guard.

The guard is a pair of database triggers on the stored-events table: the database itself
refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE), whoever asks. That stops mistakes;
the Merkle log makes deliberate rewrites detectable.
"""

from __future__ import annotations

from pathlib import Path

from eventsourcing.persistence import Recorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql

APPEND_ONLY_MESSAGE = "stored events are append-only"


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


_PG_FUNCTION = sql.SQL(
    "CREATE OR REPLACE FUNCTION {schema}.ledger_refuse_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION '" + APPEND_ONLY_MESSAGE + ": % refused on %', TG_OP, TG_TABLE_NAME "
    "USING ERRCODE = 'insufficient_privilege'; END $$"
)
_PG_TRIGGERS = (
    ("refuse_update_delete", "UPDATE OR DELETE", "ROW"),
    ("refuse_truncate", "TRUNCATE", "STATEMENT"),
)


def _postgres_triggers(recorder: PostgresApplicationRecorder) -> None:
    schema = sql.Identifier(recorder.datastore.schema)
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(table))
        cursor.execute(_PG_FUNCTION.format(schema=schema))
        for name, operations, level in _PG_TRIGGERS:
            cursor.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {name} BEFORE " + operations + " ON {schema}.{table} "
                    "FOR EACH " + level + " EXECUTE FUNCTION {schema}.ledger_refuse_change()"
                ).format(name=sql.Identifier(f"{table}_{name}"), schema=schema, table=sql.Identifier(table))
            )
