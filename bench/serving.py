"""Starting the API as production runs it, in processes of its own, for benchmarks and tests.

``ledger serve`` and, beside it, ``ledger worker`` run as separate processes, each in its own
session, as they would in production. That way the code driving them shares only the machine with
the server, and stopping one leaves no uvicorn worker behind. The HTTP benchmark, the hammer and
the PostgreSQL API tests all start the server here, so each gets the same cleared environment,
secret, readiness check and shutdown.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from replay.note import generate_key, save_private_key

CLEARED = ("LEDGER_", "PERSISTENCE_", "POSTGRES_", "SQLITE_")
"""Settings of the caller's environment the server must not inherit: it gets the store's own."""
WORKER = ("worker",)
"""The projection worker as ``ledger worker`` runs it by default."""


@dataclass(frozen=True)
class Server:
    """A running API (``ledger serve``) and its projection worker (``ledger worker``), if it has one."""

    url: str
    tokens: Tokens
    api: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None

    def headers(
        self, sub: str = "bench", role: Role = Role.PMO, client_id: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(sub, role, client_id)}"}

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.api] if self.worker is None else [self.api, self.worker]


@contextmanager
def serving(
    store: Mapping[str, str],
    workers: int = 2,
    worker: Sequence[str] | None = WORKER,
    signing_key: bool = False,
    ready_within: float = 60.0,
) -> Iterator[Server]:
    """``ledger serve --workers workers`` on ``store``, with the ``worker`` command beside it (None:
    no worker), stopped at the end.

    A SQLite store also reaches the processes as their data folder (``--data``). With
    ``signing_key`` every process signs with one key, configured as production configures it,
    instead of each finding its own. Ready once the API answers a query and the worker follows the
    log, within ``ready_within`` seconds. If a process exits before that, it raises with the logs'
    tails.
    """
    secret = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env |= dict(store) | {"LEDGER_JWT_SECRET": secret}
    port = _free_port()
    data = ["--data", str(Path(store["SQLITE_DBNAME"]).parent)] if "SQLITE_DBNAME" in store else []
    runs = {"api": [*data, "serve", "--port", str(port), "--workers", str(workers)]}
    if worker is not None:
        runs["worker"] = [*data, *worker]
    with tempfile.TemporaryDirectory(prefix="ledger-serve-") as folder:
        logs = Path(folder)
        if signing_key:
            env["LEDGER_SIGNING_KEY_FILE"] = str(_signing_key(logs))
        started: list[subprocess.Popen[bytes]] = []
        try:
            for name, args in runs.items():
                started.append(_launch(args, env, logs, name))
            tokens = Tokens(HttpSettings(jwt_secret=SecretStr(secret), jwt_public_key=None))
            server = Server(f"http://127.0.0.1:{port}", tokens, started[0], started[1] if worker else None)
            _wait_until_ready(server, logs, ready_within)
            yield server
        finally:
            for process in started:
                _stop(process)


def _signing_key(folder: Path) -> Path:
    key = folder / "signing-key.pem"
    save_private_key(generate_key(), key)
    return key


def _launch(args: Sequence[str], env: Mapping[str, str], logs: Path, name: str) -> subprocess.Popen[bytes]:
    """``ledger`` with ``args`` in a session of its own, its output in ``logs``/``name``.log."""
    with (logs / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            env=dict(env),
            cwd=logs,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(server: Server, logs: Path, within: float) -> None:
    deadline = time.monotonic() + within
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=2) as http:
        while True:
            for process in server.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{_tails(logs)}")
            if _answers(http) and _follows(server, logs):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server was not ready within {within:g} s:\n{_tails(logs)}")
            time.sleep(0.1)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/engagements").status_code == 200
    except httpx.TransportError:
        return False


def _follows(server: Server, logs: Path) -> bool:
    """Whether the worker, if there is one, has started following the log."""
    return server.worker is None or b"worker: following" in (logs / "worker.log").read_bytes()


def _tails(logs: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs.glob("*.log")
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn stops its workers), then SIGKILL to whatever of its process group is left."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
