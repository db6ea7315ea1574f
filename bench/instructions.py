"""Instructions per request through the API in process, beside the direct call (callgrind).

Run as ``python -m bench.instructions [--requests 200]`` (needs valgrind). Time on shared cores
moves with whatever else runs; the count of instructions executed does not, so this is how a
change to the request path is judged before and after. For each kind, a child process under
``valgrind --tool=callgrind`` builds the app (``create_app``) on a fresh PostgreSQL schema,
seeds it, sends ``--requests`` untimed requests through the ASGI interface (no network), then
counts the instructions of as many more: an engagement's status (``GET /engagements/{code}``),
a command (the milestone, task status and assignment moves of ``bench.http``), and, as the
baseline of the same run, the same status read through ``engagement_status`` and the same
commands through ``Ledger.execute``. It prints instructions per request and the ratio of each
request to its direct call. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine, Sequence
from itertools import cycle
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import Message

from api.http.app import create_app
from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from bench import http, report, workload
from bench.loadgen import one_round
from bench.stores import postgres_store, postgres_version
from projections.runner import Runner
from projections.status import engagement_status
from replay.registry import every_projection

KINDS = {
    "status": "GET /engagements/{code}",
    "status, direct": "engagement_status(db, code)",
    "command": "POST a command",
    "command, direct": "Ledger.execute(command)",
}
ENGAGEMENTS = 4
Step = Callable[[int], object]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.child:
        asyncio.run(_count(args.child, args.requests))
        return
    print("Engagement ledger: instructions per request through the API in process, beside the direct call")
    print("\n".join(report.machine(postgres_version())))
    print(
        f"run:      {args.requests} untimed requests of each kind, then {args.requests} counted (callgrind)\n"
    )
    counts = {kind: _under_callgrind(kind, args.requests) for kind in KINDS}
    print(f"  {'':36} {'instructions':>14} {'x direct':>9}")
    for kind, what in KINDS.items():
        base = counts[kind.split(",")[0] + ", direct"]
        print(f"  {what:36} {counts[kind]:>14,} {counts[kind] / base:>9.2f}")


def _under_callgrind(kind: str, requests: int) -> int:
    """Instructions per request of ``kind``, counted in a child process under callgrind."""
    child = [sys.executable, "-m", "bench.instructions", "--child", kind, "--requests", str(requests)]
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null", *child],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise RuntimeError(f"callgrind counted nothing for {kind}:\n{run.stderr[-2000:]}")
    return int(found.group(1)) // requests


async def _count(kind: str, requests: int) -> None:
    import api.http.ui.drawing  # noqa: F401  (matplotlib: the app imports it in a thread; not counted)

    with postgres_store() as store:
        settings = HttpSettings(jwt_secret=SecretStr(os.urandom(32).hex()), jwt_public_key=None)
        app = create_app(settings, store.env)
        async with app.router.lifespan_context(app):
            step = _steps(app, Tokens(settings).issue("bench", Role.PMO))[kind]
            for n in range(requests):
                await _maybe_await(step(n))
            _instrument("on")
            for n in range(requests):
                await _maybe_await(step(n))
            _instrument("off")


def _steps(app: FastAPI, token: str) -> dict[str, Step]:
    """One request of each kind, the ``n``-th; the engagements seeded and projected first."""
    state = app.state
    codes = [f"LOAD-{n:02d}" for n in range(ENGAGEMENTS)]
    for n, code in enumerate(codes):
        for command in [workload.opening(code)[0], *http.setup(code, n)]:
            state.ledger.execute(command, actor="bench")
    Runner(state.ledger, state.db, every_projection()).catch_up()
    posts = cycle([http.request_of(c) for c in one_round(http.moves(codes[0], 0))])
    direct = cycle(one_round(http.moves(codes[1], 1)))
    return {
        "status": lambda n: _call(app, "GET", f"/engagements/{codes[n % ENGAGEMENTS]}", token),
        "status, direct": lambda n: engagement_status(state.db, codes[n % ENGAGEMENTS]),
        "command": lambda n: _post(app, next(posts), token),
        "command, direct": lambda n: state.ledger.execute(next(direct), actor="bench"),
    }


def _post(app: FastAPI, request: tuple[str, bytes], token: str) -> Coroutine[Any, Any, None]:
    path, body = request
    return _call(app, "POST", path, token, body)


async def _call(app: FastAPI, method: str, path: str, token: str, body: bytes = b"") -> None:
    """One request through the ASGI interface, as uvicorn would make it; refused if not a 2xx.
    (Not through httpx's ASGI transport: the client's own work would be counted with the app's.)"""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(str(message["status"])))

    await app(scope, receive, send)
    if not statuses or not 200 <= statuses[0] < 300:
        raise RuntimeError(f"{method} {path} answered {statuses}")


async def _maybe_await(result: object) -> None:
    if asyncio.iscoroutine(result):
        await result


def _instrument(switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], capture_output=True, check=False)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    p.add_argument(
        "--requests", type=int, default=200, help="untimed, then counted, of each kind (default 200)"
    )
    p.add_argument("--child", choices=list(KINDS), help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    main()
