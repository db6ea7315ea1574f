"""The HTTP benchmark's load generator: clients that cost the server as little CPU as possible.

The clients share the machine's cores with the server, the projection worker and PostgreSQL, so
whatever CPU they spend, the server lacks. A full HTTP client cost about 1 ms of CPU per request.
So each client here is a coroutine of one event loop (uvloop when installed) on a raw keep-alive
HTTP/1.1 connection. It writes requests whose bytes were built before the load, and reads the
answers by their Content-Length, parsing only what it counts. What is sent (the workload) and how
it is judged stay in ``bench.http``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import orjson

COMMAND = "command"
"""The kind of every command a client sends; its reads have kinds of the caller's choosing."""
TIMEOUT = 30.0
"""Seconds a request may take, connecting included, before it counts as failed (status 0)."""
LIMIT = 1 << 20
"""The longest response head a client reads, in bytes."""
T = TypeVar("T")


class Sample(NamedTuple):
    """One request sent: its kind, when it started, how long it took and how it was answered."""

    kind: str
    started: float
    seconds: float
    status: int
    """The HTTP status, 0 when the request failed without one."""
    note: str = ""
    """On an error, the problem's rule; on a 2xx command, ``"recorded nothing"`` if it did."""


class Request(NamedTuple):
    kind: str
    wire: bytes
    """The request as sent: request line, headers and body."""


def _wire(host: str, token: str, path: str, body: bytes | None = None) -> bytes:
    """The bytes of a GET of ``path`` or, with a ``body``, a JSON POST to it."""
    method = "GET" if body is None else "POST"
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
    if body is None:
        return f"{head}\r\n".encode()
    return f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def one_round(commands: Iterator[T], longest: int = 100) -> list[T]:
    """The commands up to where ``commands`` starts over (the workload's do): each is built once."""
    seen = list(islice(commands, 2 * longest))
    for period in range(1, longest + 1):
        if all(seen[k] == seen[k + period] for k in range(len(seen) - period)):
            return seen[:period]
    raise ValueError(f"the commands do not repeat within {longest}: they cannot be prebuilt")


class Client:
    """One client: its commands and reads, prebuilt, and a keep-alive connection opened when needed.

    Its commands go on from phase to phase, so that each keeps recording an event.
    """

    def __init__(
        self, url: str, token: str, commands: Sequence[tuple[str, bytes]], reads: Sequence[tuple[str, str]]
    ) -> None:
        """A client of the API at ``url`` acting with ``token``: it posts ``commands`` (path and JSON
        body) and gets ``reads`` (kind and path), each in turn, over and over."""
        address = urlsplit(url)
        self.host, self.port = address.hostname or "127.0.0.1", address.port
        self.commands = cycle([Request(COMMAND, _wire(address.netloc, token, *x)) for x in commands])
        self.reads = cycle([Request(kind, _wire(address.netloc, token, path)) for kind, path in reads])
        self.connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def run(self, phase: Phase, stop_at: float) -> list[Sample]:
        """The phase's round (commands, then reads) over and over until ``stop_at``; the connection is
        closed at the end, as an idle one would be by the server before the next phase."""
        samples: list[Sample] = []
        try:
            while time.perf_counter() < stop_at:
                for _ in range(phase.commands):
                    samples.append(await self.send(next(self.commands)))
                for _ in range(phase.reads):
                    samples.append(await self.send(next(self.reads)))
        finally:
            self.close()
        return samples

    async def send(self, request: Request) -> Sample:
        """A failed request (no connection, broken, timed out) is a sample with status 0; the next
        request connects again."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                status, head, body = await self._exchange(request.wire)
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as error:
            self.close()
            return Sample(request.kind, started, time.perf_counter() - started, 0, type(error).__name__)
        seconds = time.perf_counter() - started
        return Sample(request.kind, started, seconds, status, _note(request.kind, status, head, body))

    async def _exchange(self, wire: bytes) -> tuple[int, bytes, bytes]:
        """The status, head and body of the answer to ``wire``."""
        if self.connection is None:
            self.connection = await asyncio.open_connection(self.host, self.port, limit=LIMIT)
        reader, writer = self.connection
        writer.write(wire)
        head = await reader.readuntil(b"\r\n\r\n")
        status, fields = int(head[9:12]), head.lower()
        length = _field(fields, b"content-length")
        if length is not None:
            body = await reader.readexactly(int(length))
        elif _field(fields, b"transfer-encoding") == b"chunked":
            body = await _chunked(reader)
        elif status in (204, 304):
            body = b""
        else:
            raise ValueError(f"an answer with no Content-Length, not chunked: {head!r}")
        if _field(fields, b"connection") == b"close":
            self.close()
        return status, head, body

    def close(self) -> None:
        if self.connection is not None:
            self.connection[1].close()
            self.connection = None


def _field(fields: bytes, name: bytes) -> bytes | None:
    """The value of the header ``name`` in a lower-cased response head, or None."""
    at = fields.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    return fields[start : fields.index(b"\r\n", start)].strip()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body (the API sends Content-Length; this is in case a proxy or a change does not)."""
    chunks = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        chunks.append((await reader.readexactly(size + 2))[:-2])
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
        pass
    return b"".join(chunks)


def _note(kind: str, status: int, head: bytes, body: bytes) -> str:
    """On an error, the problem's rule (or the reason phrase); on a 2xx command that recorded nothing,
    that. The only answers parsed: the others are counted by their status."""
    if status >= 400:
        if b"json" in (_field(head.lower(), b"content-type") or b""):
            return str(orjson.loads(body).get("rule", ""))
        return head[13 : head.index(b"\r\n")].decode(errors="replace")
    if kind == COMMAND and orjson.loads(body).get("position") is None:
        return "recorded nothing"
    return ""


@dataclass(frozen=True)
class Phase:
    """What each client sends in a round, over and over: ``commands`` commands, then ``reads`` reads."""

    name: str
    commands: int
    reads: int
    label: str


def phases(names: str, reads: int) -> list[Phase]:
    """The phases named in ``names`` (comma-separated), in that order."""
    known = {
        "mixed": Phase("mixed", 1, reads, f"mixed, 1 command : {reads} reads"),
        "commands": Phase("commands", 1, 0, "commands only"),
        "reads": Phase("reads", 0, 1, "reads only"),
    }
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise ValueError(f"phases are among {', '.join(known)}, not {names!r}")
    return [known[name] for name in chosen]


async def load(clients: Sequence[Client], phase: Phase, warmup: float, seconds: float
               ) -> tuple[list[Sample], float]:  # fmt: skip
    """The samples of ``clients`` running ``phase`` ``warmup`` + ``seconds``; when the timed part began."""
    start = time.perf_counter() + warmup
    runs = await asyncio.gather(*(client.run(phase, start + seconds) for client in clients))
    return [s for run in runs for s in run], start


def run_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``coroutine`` run to its end on uvloop, whose loop costs less CPU per request, or on asyncio's."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)
