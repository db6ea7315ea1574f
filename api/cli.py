"""The ``ledger`` command line: every command finds its store from ``--data`` or the environment."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import orjson
import uvicorn
from pydantic import TypeAdapter, ValidationError

from api import cli_integrity
from api.demo import CODE, seed_demo
from api.http import asof
from api.http.auth import Role, Tokens
from api.http.exports import Instant
from api.http.settings import HttpSettings
from api.progress import ProgressBar
from api.stores import DEFAULT_DATA_DIR, data_folder, store_env
from domain.errors import RuleViolation
from domain.service import Ledger
from projections.db import ProjectionDB, open_projection_db
from projections.history import format_history
from projections.locks import AnotherRunnerActive
from projections.reconcile import reconcile
from projections.registry import all_projections
from projections.runner import Runner
from replay.asof import History
from replay.asof_text import format_as_of
from replay.checkpoints import keep_taking, load_signer
from replay.diff import rebuild_and_diff
from replay.log import MerkleLog
from replay.registry import every_projection


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[tuple[Ledger, ProjectionDB]]:
    with Ledger(store_env(args.data)) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            yield ledger, db
        finally:
            db.close()


def _demo(args: argparse.Namespace) -> int:
    """Seed the demo, bring the projections up to date (embedded set-up) and print its history."""
    recorded = seed_demo(store_env(args.data))
    note = " (already seeded)" if not recorded else ""
    print(f"Demo engagement {CODE}: {recorded} events recorded now{note}")
    with opened(args) as (ledger, db):
        Runner(ledger, db, every_projection()).catch_up()
    return _history(argparse.Namespace(data=args.data, code=CODE))


def _history(args: argparse.Namespace) -> int:
    with Ledger(store_env(args.data)) as ledger:
        print(format_history(ledger.engagement(args.code), ledger.history(args.code)))
    return 0


def _as_of(args: argparse.Namespace) -> int:
    """The engagement as it stood at a version or a recorded time, rebuilt from its events."""
    with Ledger(store_env(args.data)) as ledger:
        history = History.of(ledger, args.code)
        version = history.point(args.version, args.at)
        if args.json:
            print(orjson.dumps(asof.document(history, version), option=orjson.OPT_INDENT_2).decode())
        else:
            print(format_as_of(history.status(version), history.slips(version), history.current))
    return 0


def _instant(text: str) -> datetime:
    try:
        return TypeAdapter(Instant).validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-03-16T10:30Z"
        ) from None


def _project(args: argparse.Namespace) -> int:
    with opened(args) as (ledger, db):
        runner = Runner(ledger, db, every_projection())
        done = runner.catch_up(ProgressBar("projecting"))
        print(f"{done:,} events projected; every projection is at position {runner.position():,}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    if args.diff:
        return _rebuild_diff(args)
    with opened(args) as (ledger, db):
        runner = Runner(ledger, db, all_projections())
        done = runner.rebuild(ProgressBar("rebuilding"), workers=args.workers)
        print(f"rebuilt {', '.join(p.name for p in runner.projections)} from {done:,} events")
    return 0


def _rebuild_diff(args: argparse.Namespace) -> int:
    """Rebuild into scratch tables and compare with the live ones; the live ones are left alone."""
    with opened(args) as (ledger, db):
        Runner(ledger, db, every_projection())  # makes sure the live tables exist
        differences = rebuild_and_diff(ledger, db, ProgressBar("rebuilding into scratch tables"))
    for difference in differences:
        print("\n".join(difference.lines()))
    if differences:
        print(f"{len(differences)} tables differ from a rebuild from the first event")
        return 1
    print("no difference: every projection matches a rebuild from the first event")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    with opened(args) as (ledger, db):
        projections = every_projection()
        Runner(ledger, db, projections)  # makes sure the tables exist
        found = reconcile(ledger, db, [p.name for p in projections])
    for discrepancy in found:
        print(discrepancy)
    print("reconciled: every projection saw every event" if not found else f"{len(found)} differences")
    return 1 if found else 0


def _worker(args: argparse.Namespace) -> int:
    """Follow the log until SIGTERM or Ctrl-C: one reading pass feeds the chosen projections."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    chosen = [p for p in every_projection() if not args.projection or p.name in args.projection]
    with opened(args) as (ledger, db):
        runner = Runner(ledger, db, chosen)
        print(f"worker: following {', '.join(p.name for p in chosen)}", flush=True)
        if any(isinstance(p, MerkleLog) for p in chosen):
            every = _settings(args).checkpoint_seconds
            signer = load_signer(data_folder(args.data))
            threading.Thread(target=keep_taking, args=(db, signer, stop, every), daemon=True).start()
        runner.follow(stop, poll_interval=args.poll, standby=True)
    return 0


def _settings(args: argparse.Namespace) -> HttpSettings:
    return HttpSettings(data_dir=data_folder(args.data))


def _token(args: argparse.Namespace) -> int:
    if args.role == Role.CLIENT.value and not args.client_id:
        print("ledger: a client token needs --client-id", file=sys.stderr)
        return 2
    print(Tokens(_settings(args)).issue(args.sub, Role(args.role), args.client_id, ttl=args.ttl))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve the API with uvicorn; the data folder reaches every worker through the environment."""
    settings = _settings(args)
    os.environ["LEDGER_DATA_DIR"] = str(settings.data_dir)
    url = f"http://{args.host}:{args.port}"
    print(f"Engagement ledger at {url}  (web pages: {url}/ui, OpenAPI docs: {url}/docs)")
    if settings.jwt_public_key is None and settings.jwt_secret is None:
        # Only the embedded set-up's own secret: a configured one's tokens never go to a log.
        tokens = Tokens(settings)
        for role, sub, client in [(Role.PMO, "dana.whitfield", None), (Role.AUDITOR, "avery.audit", None),
                                  (Role.CLIENT, "acme.viewer", "acme")]:  # fmt: skip
            print(f"  {role.value:8} token: {tokens.issue(sub, role, client)}")
    uvicorn.run(
        "api.http.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
        log_level="info", access_log=False,
    )  # fmt: skip
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
    as_of = sub.add_parser("as-of", help="an engagement as it stood at a version or a recorded time")
    as_of.add_argument("code")
    point = as_of.add_mutually_exclusive_group(required=True)
    point.add_argument("--at", type=_instant, metavar="TIME", help="the latest version recorded by then")
    point.add_argument("--version", type=int, metavar="N", help="that version")
    as_of.add_argument(
        "--json", action="store_true", help="status, slips and change log as the API gives them"
    )
    as_of.set_defaults(run=_as_of)
    sub.add_parser("project", help="bring every projection up to date, then stop").set_defaults(run=_project)
    serve = sub.add_parser("serve", help="serve the HTTP API (embedded: projections run in-process)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (PostgreSQL set-up)")
    serve.set_defaults(run=_serve)
    token = sub.add_parser("token", help="print a bearer token signed with the configured secret")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True, help="the subject: who acts with this token")
    token.add_argument("--client-id", help="the client a client token is bound to")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid (default 8 h)")
    token.set_defaults(run=_token)
    rebuild = sub.add_parser("rebuild", help="rebuild every projection from the first event")
    rebuild.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes to rebuild with (default: cores)"
    )
    rebuild.add_argument(
        "--diff",
        action="store_true",
        help="rebuild into scratch tables and report differences from the live ones",
    )
    rebuild.set_defaults(run=_rebuild)
    sub.add_parser("reconcile", help="check every projection saw every event").set_defaults(run=_reconcile)
    worker = sub.add_parser("worker", help="run the projections as their own process (PostgreSQL set-up)")
    worker.add_argument(
        "--poll", type=float, default=0.5, help="seconds between polls when nothing is notified"
    )
    worker.add_argument(
        "--projection",
        action="append",
        choices=[p.name for p in every_projection()],
        help="run only this projection (repeatable), e.g. to spread projections over processes",
    )
    worker.set_defaults(run=_worker)
    cli_integrity.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except RuleViolation as error:
        print(f"ledger: {error.rule}: {error.detail}", file=sys.stderr)
        return 2
    except AnotherRunnerActive as error:
        print(f"ledger: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
