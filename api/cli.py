"""The ``ledger`` command line: every command finds its store from ``--data`` or the environment."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from api.demo import CODE, seed_demo
from domain.errors import RuleViolation
from domain.service import Ledger
from domain.store import sqlite_env
from projections.history import format_history

DEFAULT_DATA_DIR = "ledger-data"


def store_env(data_dir: str | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The library's persistence settings: PostgreSQL if the environment names it, else SQLite.

    PostgreSQL comes from the library's own settings (``PERSISTENCE_MODULE=eventsourcing.postgres``
    and ``POSTGRES_*``); otherwise the embedded SQLite store lives in the data folder.
    """
    environ = dict(os.environ if environ is None else environ)
    if environ.get("PERSISTENCE_MODULE", "").startswith("eventsourcing.postgres"):
        return {}
    folder = data_dir or environ.get("LEDGER_DATA_DIR") or DEFAULT_DATA_DIR
    return sqlite_env(Path(folder))


def _demo(args: argparse.Namespace) -> int:
    env = store_env(args.data)
    recorded = seed_demo(env)
    print(
        f"Demo engagement {CODE}: {recorded} events recorded now"
        + (" (already seeded)" if not recorded else "")
    )
    return _history(argparse.Namespace(data=args.data, code=CODE))


def _history(args: argparse.Namespace) -> int:
    with Ledger(store_env(args.data)) as ledger:
        print(format_history(ledger.engagement(args.code), ledger.history(args.code)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ledger", description="The engagement ledger.")
    p.add_argument(
        "--data",
        metavar="DIR",
        help=f"embedded store folder (env LEDGER_DATA_DIR; default ./{DEFAULT_DATA_DIR})",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="seed the demo engagement (idempotent) and print its history").set_defaults(
        run=_demo
    )
    history = sub.add_parser("history", help="print an engagement's history")
    history.add_argument("code")
    history.set_defaults(run=_history)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except RuleViolation as error:
        print(f"ledger: {error.rule}: {error.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
