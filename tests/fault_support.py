"""Helpers for the fault tests: `ledger` processes to kill, a private PostgreSQL to stop, and
clients that keep sending commands (each with an ``Idempotency-Key``) and reads meanwhile.

Every process is a ``python -m api.cli ...`` of its own (what ``ledger`` runs), in a process
group of its own so that a SIGKILL takes its children too, its output kept in a log file that
the tests search for secrets.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from domain import events as ev
from domain.service import Ledger

SECRET = "fault-jwt-secret-" + "k" * 40
"""The API's HS256 secret: it must never show in a log or a response."""
PG_PASSWORD = "fault-db-password-" + "p" * 24
"""The database password the processes are given (trust authentication ignores it): never to be seen."""
CLEARED = ("LEDGER_", "PERSISTENCE_", "POSTGRES_", "SQLITE_")
"""Settings of the caller's environment a process must not inherit: it gets the store's own."""
PG_BIN = Path("/usr/lib/postgresql/15/bin")
JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tokens() -> Tokens:
    return Tokens(HttpSettings(jwt_secret=SecretStr(SECRET), jwt_public_key=None))


def bearer(
    sub: str = "dana.whitfield", role: Role = Role.PMO, client_id: str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens().issue(sub, role, client_id)}"}


def opening(code: str) -> dict[str, Any]:
    """The body that opens engagement ``code`` (2025, so no date of it lies in the future)."""
    return {
        "code": code, "title": f"Rollout {code}", "client_id": "acme", "client_name": "ACME",
        "manager": "Dana Whitfield", "planned_start": "2025-01-06", "planned_end": "2025-12-19",
    }  # fmt: skip


class Ledgerd:
    """One ``ledger`` command running as a process group of its own, its output appended to ``log``."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.args, self.env, self.cwd, self.log = list(args), dict(env), cwd, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Ledgerd:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *self.args], env=self.env, cwd=self.cwd,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: no clean-up of any kind runs."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to whatever of the group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()


@dataclass
class Site:
    """Where the ledger processes of a test run: a store, a folder for logs, a port for the API."""

    store: dict[str, str]
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)
    """``LEDGER_*`` settings of the processes, beside the token secret."""
    port: int = field(default_factory=free_port)
    started: list[Ledgerd] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
        store = {} if "SQLITE_DBNAME" in self.store else self.store
        return env | store | self.settings | {"LEDGER_JWT_SECRET": SECRET}

    def data(self) -> list[str]:
        if "SQLITE_DBNAME" in self.store:
            return ["--data", str(Path(self.store["SQLITE_DBNAME"]).parent)]
        return []

    def launch(self, name: str, *args: str) -> Ledgerd:
        process = Ledgerd([*self.data(), *args], self.env(), self.folder, self.folder / f"{name}.log")
        self.started.append(process.start())
        return process

    def serve(self, *args: str, ready_within: float = 60) -> Ledgerd:
        """``ledger serve`` on this site's port, once it answers a query."""
        api = self.launch("api", "serve", "--port", str(self.port), *args)
        deadline = time.monotonic() + ready_within
        with httpx.Client(base_url=self.url, headers=bearer(), timeout=5) as http:
            while not _answers(http):
                assert api.alive(), f"ledger serve exited:\n{self.logs()}"
                assert time.monotonic() < deadline, f"ledger serve was not ready:\n{self.logs()}"
                time.sleep(0.05)
        return api

    def worker(self) -> Ledgerd:
        """``ledger worker``, once it follows the log."""
        worker = self.launch("worker", "worker", "--poll", "0.2")
        deadline = time.monotonic() + 60
        while b"worker: following" not in (self.folder / "worker.log").read_bytes():
            assert worker.alive(), f"ledger worker exited:\n{self.logs()}"
            assert time.monotonic() < deadline, f"ledger worker did not start:\n{self.logs()}"
            time.sleep(0.05)
        return worker

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A ``ledger`` command run to its end."""
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *self.data(), *args], env=self.env(), cwd=self.folder,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}" for log in self.folder.glob("*.log")
        )

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` behind a real uvicorn server in this process (a thread of its own); its URL."""
    port = free_port()
    # No logging config of uvicorn's own: its records reach the root logger, where tests read them.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/engagements").status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def site(store: Mapping[str, str], folder: Path, **settings: str) -> Iterator[Site]:
    """A site whose processes are all stopped at the end, whatever happens."""
    folder.mkdir(parents=True, exist_ok=True)
    here = Site(dict(store), folder, settings)
    try:
        yield here
    finally:
        here.stop_all()


def open_engagements(url: str, codes: Sequence[str]) -> None:
    with httpx.Client(base_url=url, headers=bearer(), timeout=30) as http:
        for code in codes:
            response = http.post("/engagements", json=opening(code))
            assert response.status_code == 201, response.text


def more_acknowledged(traffic: Traffic, count: int = 20, within: float = 30) -> None:
    """Wait until ``count`` more commands of ``traffic`` have been acknowledged."""
    start, deadline = len(traffic.acknowledged()), time.monotonic() + within
    while len(traffic.acknowledged()) < start + count:
        assert time.monotonic() < deadline, "the API stopped acknowledging commands"
        time.sleep(0.01)


def caught_up(here: Site, within: float = 60) -> None:
    """Wait until the projections have seen every event recorded: a query asking for the head."""
    with Ledger(here.store) as ledger:
        head = ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + within
    with httpx.Client(base_url=here.url, headers=bearer(), timeout=30) as http:
        while (seen := http.get("/engagements", params={"min_position": head})).status_code != 200:
            assert seen.status_code == 503, seen.text
            assert seen.json()["rule"] == "ProjectionBehind", seen.text
            assert time.monotonic() < deadline, f"the projections did not reach {head}:\n{here.logs()}"


def private_key_lines(folder: Path) -> list[str]:
    """The lines of every private key kept under ``folder`` (the ledger's signing key, embedded)."""
    found = [p for p in folder.rglob("*.pem") if b"PRIVATE" in p.read_bytes()]
    return [
        line for p in found for line in p.read_text().splitlines() if line and not line.startswith("-----")
    ]


# The traffic: each command adds a task by title alone, so that only the Idempotency-Key (not
# a key of the task) can keep a retried command from recording a second task.


@dataclass(frozen=True)
class Answer:
    """One request and what came of it: a status (0: no answer at all), when, how long."""

    kind: str
    started: float
    seconds: float
    status: int
    content_type: str = ""
    retry_after: str | None = None
    rule: str | None = None
    body: Any = None
    error: str = ""


@dataclass
class Command:
    """A task to add: its title and Idempotency-Key, and every answer its sends got."""

    code: str
    title: str
    answers: list[Answer] = field(default_factory=list)

    @property
    def acknowledged(self) -> Answer | None:
        """The 2xx answer, if one came."""
        return next((a for a in self.answers if 200 <= a.status < 300), None)


class Traffic:
    """Client threads: writers add tasks (retrying the same command with the same key while no
    answer comes, or while the key is busy), readers read the status and the portfolio; all until
    stopped."""

    def __init__(
        self, url: str, codes: Sequence[str], writers: int, readers: int = 0, timeout: float = 30,
        retry_unanswered: bool = True,
    ) -> None:  # fmt: skip
        self.url, self.codes, self.timeout = url, list(codes), timeout
        self.retry_unanswered = retry_unanswered
        self.commands: list[Command] = []
        self.reads: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(writers)]
        self._threads += [threading.Thread(target=self._read, args=(n,)) for n in range(readers)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def acknowledged(self) -> list[Command]:
        with self._lock:
            return [c for c in self.commands if c.acknowledged]

    def answers(self) -> list[Answer]:
        with self._lock:
            return [a for c in self.commands for a in c.answers] + list(self.reads)

    def _write(self, n: int) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(), timeout=self.timeout) as http:
            for k in range(10**9):
                if self._stop.is_set():
                    return
                command = Command(self.codes[(n + k) % len(self.codes)], f"Task {n}-{k}")
                with self._lock:
                    self.commands.append(command)
                self._send(http, command, f"w{n}-{k}")

    def _send(self, http: httpx.Client, command: Command, key: str) -> None:
        """Send until an answer comes (the same body and key each time), or the traffic stops. A key
        still held by a try the API lost is sent again after the Retry-After the answer gives."""
        headers = {"Idempotency-Key": key}
        while not self._stop.is_set():
            answer = timed(
                http, "command", f"/engagements/{command.code}/tasks", {"title": command.title}, headers
            )
            command.answers.append(answer)
            busy = answer.rule == "IdempotencyKeyBusy"
            if (answer.status and not busy) or not self.retry_unanswered:
                return
            self._stop.wait(float(answer.retry_after or 0.05))

    def _read(self, n: int) -> None:
        paths = [f"/engagements/{code}" for code in self.codes] + ["/engagements"]
        with httpx.Client(
            base_url=self.url, headers=bearer("ada.auditor", Role.AUDITOR), timeout=self.timeout
        ) as http:
            for k in range(10**9):
                if self._stop.is_set():
                    return
                answer = timed(http, "read", paths[(n + k) % len(paths)])
                with self._lock:
                    self.reads.append(answer)
                if not answer.status:
                    self._stop.wait(0.05)


def timed(
    http: httpx.Client, kind: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    """POST ``body`` (or, without one, GET) ``path``; the answer, or the error that came instead."""
    started = time.monotonic()
    try:
        if body is None:
            response = http.get(path, headers=headers)
        else:
            response = http.post(path, json=body, headers=headers)
    except httpx.HTTPError as error:
        return Answer(kind, started, time.monotonic() - started, 0, error=f"{type(error).__name__}: {error}")
    seconds = time.monotonic() - started
    content_type = response.headers.get("content-type", "")
    body_of = response.json() if "json" in content_type else response.text
    rule = body_of.get("rule") if isinstance(body_of, dict) else None
    return Answer(kind, started, seconds, response.status_code, content_type,
                  response.headers.get("retry-after"), rule, body_of)  # fmt: skip


# What the store holds, read back directly.


def tasks_recorded(store: Mapping[str, str], codes: Sequence[str]) -> dict[str, list[ev.TaskAdded]]:
    """Per engagement, its TaskAdded events; and checks each stream's versions have no gap."""
    found: dict[str, list[ev.TaskAdded]] = {}
    with Ledger(dict(store)) as ledger:
        for code in codes:
            stream = list(ledger.history(code))
            assert [e.originator_version for e in stream] == list(range(1, len(stream) + 1)), code
            found[code] = [e for e in stream if isinstance(e, ev.TaskAdded)]
    return found


def assert_acknowledged_recorded_once(store: Mapping[str, str], commands: Sequence[Command]) -> None:
    """Every command that got a 2xx is in the store exactly once, at the version its answer gave;
    no command is in it twice; versions have no gaps."""
    codes = sorted({c.code for c in commands})
    recorded = tasks_recorded(store, codes)
    by_title: dict[tuple[str, str], list[ev.TaskAdded]] = {}
    for code, events in recorded.items():
        for event in events:
            by_title.setdefault((code, event.title), []).append(event)
    twice = {title: len(events) for title, events in by_title.items() if len(events) > 1}
    assert not twice, f"recorded more than once: {twice}"
    for command in commands:
        answer = command.acknowledged
        if answer is None:
            continue
        events = by_title.get((command.code, command.title), [])
        assert len(events) == 1, f"{command.title} got {answer.status} but is not recorded"
        assert answer.body["recorded"] == ["TaskAdded"]
        assert events[0].originator_version == answer.body["version"], command.title
        assert events[0].key == answer.body["key"], command.title


# A private PostgreSQL cluster: the shared server on 5432 is never stopped by a test.


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a folder its OS user owns, on a free port."""

    folder: Path
    port: int
    as_postgres: list[str]

    def settings(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": "postgres",
            "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port), "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": PG_PASSWORD,
        }  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._ctl("start", "-w", "-t", "60", "-l", str(self.folder / "server.log"), "-o", options)

    def stop(self) -> None:
        """An immediate stop: every connection is cut, no checkpoint is written (a crash)."""
        self._ctl("stop", "-m", "immediate", "-w")

    def ready(self) -> bool:
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                 connect_timeout=2):  # fmt: skip
                return True
        except psycopg.OperationalError:
            return False

    def _ctl(self, *args: str) -> None:
        command = [*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=90)


def _require_postgres_binaries() -> None:
    if (PG_BIN / "initdb").exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL 15 binaries are required in {PG_BIN} when CI=true")
    pytest.skip(f"no PostgreSQL 15 binaries in {PG_BIN}")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh cluster (initdb, trust authentication), stopped and deleted at the end.

    PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` user.
    """
    _require_postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="ledger-faults-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    cluster = PrivatePostgres(folder, free_port(), as_postgres)
    try:
        initdb = [*as_postgres, str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-D", str(folder / "data")]  # fmt: skip
        subprocess.run(initdb, check=True, capture_output=True, timeout=120)
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.SubprocessError):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
