"""Load benchmark of the HTTP API as production runs it: uvicorn workers and a projection worker on PG.

Run as ``python -m bench.http [--seconds 20] [--clients 8,16] [--workers 2]
[--phases mixed,commands,reads]``. In a fresh PostgreSQL schema (dropped at the end) it starts
``ledger serve --workers N`` and ``ledger worker`` as processes of their own and seeds a few
engagements over HTTP. Then, one phase after another on the same server, and in each at every
number of ``--clients`` in turn, clients each on a keep-alive connection of their own send for a
fixed time: in ``mixed``, a command followed by ``--reads`` reads; in ``commands``, commands
only; in ``reads``, reads only. The commands are spread over the engagements (milestone slips
with cause, party and reason, and recoveries; task status moves; task assignments); the reads
are an engagement's status and the portfolio. Each run has its own warm-up and timed part, and
its commands and reads are measured apart: throughput, p50/p99 latency, 5xx and other errors.
The verdicts judge each phase at the number of clients that got the most through with p99 under
the bound (past that, more clients only queue longer for the same rate). Beside them, once per
run: the same commands through ``Ledger.execute`` and the same status reads through
``engagement_status``, called in this process.

The clients (``bench.loadgen``) are coroutines of one event loop writing prebuilt HTTP/1.1
requests on raw sockets. They share the machine's cores with the server (started by
``bench.serving``), the projection worker and PostgreSQL. The CPU each of these used is printed.
It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import httpx
import orjson

from api.http.auth import Role
from bench import report, workload
from bench.loadgen import COMMAND, Client, Phase, Sample, load, one_round, phases, run_loop
from bench.serving import Server, serving
from bench.stores import postgres_store, postgres_version
from bench.timing import Figures, measure
from domain import commands as c
from domain.service import Ledger
from domain.values import TaskStatus
from projections import positions
from projections.db import ProjectionDB, open_projection_db
from projections.registry import all_projections
from projections.status import engagement_status

COMMANDS_PER_SECOND, READS_PER_SECOND, P99_MS = 500, 1500, 50.0
ASSIGNEES = ("lena.berg", "priya.nair")
STATUS_ROUND = (TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.IN_PROGRESS, TaskStatus.DONE,
                TaskStatus.TODO)  # fmt: skip
"""From todo back to todo; blocking and reopening need the reason every move carries."""
JSON = {"Content-Type": "application/json"}
STATUS, PORTFOLIO = "status", "portfolio"
"""The kinds of read: an engagement's status, the portfolio (commands are ``COMMAND``)."""
READS = frozenset({STATUS, PORTFOLIO})
MACHINE = "the whole machine"


# The workload: each client moves a milestone and a task of its own in a shared engagement,
# so that every command records exactly one event while writers still race on each stream.


def setup(code: str, client: int) -> list[c.Command]:
    """The milestone and task client ``client`` will move, in engagement ``code``."""
    return [
        c.PlanMilestone(code=code, key=f"m{client}", title=f"Cut-over {client}", baseline=workload.BASELINE),
        c.AddTask(code=code, key=f"t{client}", title=f"Data migration {client}", milestone_key=f"m{client}",
                  assignee=ASSIGNEES[1]),
    ]  # fmt: skip


def moves(code: str, client: int) -> Iterator[c.Command]:
    """Reschedule (slip, then recover), move the task's status, reassign it; over and over."""
    milestone, task = f"m{client}", f"t{client}"
    slips = (r.model_copy(update={"key": milestone}) for r in workload.reschedules(code))
    assignees = cycle(ASSIGNEES)
    for status in cycle(STATUS_ROUND):
        yield next(slips)
        yield c.ChangeTaskStatus(code=code, key=task, to_status=status, reason="the weekly review")
        if status is not TaskStatus.DONE:  # a done task is not reassigned
            yield c.AssignTask(code=code, key=task, assignee=next(assignees))


ROUTES: dict[type[c.Command], str] = {
    c.PlanMilestone: "milestones", c.AddTask: "tasks", c.RescheduleMilestone: "milestones/{key}/reschedule",
    c.ChangeTaskStatus: "tasks/{key}/status", c.AssignTask: "tasks/{key}/assign",
}  # fmt: skip


def request_of(command: c.Command) -> tuple[str, bytes]:
    """The path and JSON body that send ``command`` over HTTP."""
    if isinstance(command, c.OpenEngagement):
        return "/engagements", orjson.dumps(command.model_dump(mode="json", exclude_none=True))
    route = ROUTES[type(command)]
    in_path = {"code", "key"} if "{key}" in route else {"code"}
    path = f"/engagements/{command.code}/" + route.format(key=getattr(command, "key", None))
    return path, orjson.dumps(command.model_dump(mode="json", exclude=in_path, exclude_none=True))


def seed(server: Server, engagements: int, clients: int) -> list[str]:
    """Open the engagements and give each client its milestone and task; the codes."""
    codes = [f"LOAD-{n:02d}" for n in range(engagements)]
    commands = [workload.opening(code)[0] for code in codes]
    commands += [s for n in range(clients) for s in setup(codes[n % engagements], n)]
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
        for command in commands:
            path, body = request_of(command)
            http.post(path, content=body, headers=JSON).raise_for_status()
    return codes


def client(server: Server, codes: Sequence[str], n: int) -> Client:
    """Client ``n``: it moves its milestone and task, and reads every engagement's status from its
    own on, then the portfolio."""
    commands = one_round(moves(codes[n % len(codes)], n))
    reads = [(STATUS, f"/engagements/{codes[(n + k) % len(codes)]}") for k in range(len(codes))]
    reads.append((PORTFOLIO, "/engagements"))
    token = server.tokens.issue(f"client-{n}", Role.PMO)
    return Client(server.url, token, [request_of(x) for x in commands], reads)


def cpu_seconds(roots: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each root process with its descendants, and of PostgreSQL (Linux /proc).

    The root named ``"load generator"`` (this process) is counted without its descendants: they
    are the server. PostgreSQL counts its live processes and the backends that have exited (in
    the postmaster's count of its reaped children), so that a connection closed between two
    readings takes none of what it used away.
    """
    table: dict[int, tuple[int, str, int]] = {}
    reaped = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            table[int(stat.parent.name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]))
            if comm == "postgres":
                reaped += int(fields[13]) + int(fields[14])
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for role, root in roots.items():
        tree, frontier = {root}, {root}
        while frontier and role != "load generator":
            frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - tree
            tree |= frontier
        used[role] = sum(table[pid][2] for pid in tree if pid in table) / tick
    live = sum(t for _, comm, t in table.values() if comm == "postgres")
    used["PostgreSQL (all backends)"] = (live + reaped) / tick
    with suppress(OSError, ValueError):
        user, nice, system, _, _, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
        used[MACHINE] = (user + nice + system + irq + softirq) / tick
    return used


@dataclass(frozen=True)
class Timed:
    """The samples of some kind of request started in the timed part."""

    samples: list[Sample]
    start: float
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds

    def figures(self) -> Figures:
        """Rates per second of the timed part, and every latency."""
        per_second = Counter(int(s.started - self.start) for s in self.samples)
        rates = [float(per_second[k]) for k in range(max(1, int(self.seconds)))]
        return Figures(rates=rates, latencies=[s.seconds for s in self.samples] or [0.0, 0.0])

    def count(self, low: int, high: int) -> int:
        return sum(low <= s.status < high for s in self.samples)

    def row(self, name: str) -> str:
        f, ok, server_errors = self.figures(), self.count(200, 300), self.count(500, 600)
        others = len(self.samples) - ok - server_errors
        return (f"  {name:<34}{self.rate:>8,.0f}{min(f.rates):>8,.0f}{f.p50_ms:>8.1f}{f.p99_ms:>8.1f}"
                f"{ok:>8}{server_errors:>6}{others:>7}")  # fmt: skip


@dataclass(frozen=True)
class Ran:
    """A phase's every sample, warm-up included, and when its timed part began."""

    phase: Phase
    clients: int
    samples: list[Sample]
    start: float
    seconds: float

    def timed(self, kinds: Collection[str]) -> Timed:
        end = self.start + self.seconds
        chosen = [s for s in self.samples if s.kind in kinds and self.start <= s.started < end]
        return Timed(chosen, self.start, self.seconds)

    def rows(self) -> dict[str, Timed]:
        """The table's rows, of the kinds of request the phase sent."""
        rows = {
            "commands (POST)": self.timed({COMMAND}),
            "reads (GET), all": self.timed(READS),
            "  GET /engagements/{code}": self.timed({STATUS}),
            "  GET /engagements": self.timed({PORTFOLIO}),
        }
        return {name: timed for name, timed in rows.items() if timed.samples}

    @property
    def server_errors(self) -> int:
        return sum(s.status >= 500 for s in self.samples)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    print(_header(args), flush=True)
    with postgres_store() as store, serving(store.env, args.workers) as server:
        codes = seed(server, args.engagements, max(args.clients))
        clients = [client(server, codes, n) for n in range(max(args.clients))]
        with Ledger(store.env) as ledger:
            db = open_projection_db(ledger.settings)
            try:
                ran = [
                    _phase(phase, server, clients[:n], ledger, db, args)
                    for phase in args.phases
                    for n in args.clients
                ]
                direct = _direct(ledger, db, codes[0], min(5.0, args.seconds / 2))
            finally:
                db.close()
    print()
    print(_in_process(direct))
    print()
    print(_verdicts(ran))
    print(report.load_average("at the end"))


def _phase(phase: Phase, server: Server, clients: Sequence[Client], ledger: Ledger, db: ProjectionDB,
           args: argparse.Namespace) -> Ran:  # fmt: skip
    """Run ``phase`` and print its figures; then wait for the projection worker to catch up."""
    roots = {"load generator": os.getpid(), "API": server.api.pid}
    if server.worker is not None:
        roots["projection worker"] = server.worker.pid
    before = cpu_seconds(roots)
    samples, start = run_loop(load(clients, phase, args.warmup, args.seconds))
    cpu = {role: used - before.get(role, 0.0) for role, used in cpu_seconds(roots).items()}
    ran = Ran(phase, len(clients), samples, start, args.seconds)
    print()
    print(f"phase {phase.name}, {len(clients)} clients: {_sends(phase)}")
    print(_table(ran.rows()))
    print(_answers_other_than_recorded(samples))
    print(_lag(ledger, db))
    print(_cpu(cpu, args.warmup + args.seconds, len(samples)), flush=True)
    return ran


def _sends(phase: Phase) -> str:
    if not phase.reads:
        return "each client sends commands only, one after another"
    if not phase.commands:
        return "each client sends reads only, one after another"
    return f"each client sends {phase.commands} command, then {phase.reads} reads, over and over"


def _header(args: argparse.Namespace) -> str:
    reads = args.engagements + 1
    return "\n".join([
        "Engagement ledger over HTTP: phases of commands and reads, beside in-process calls, same run",
        *report.machine(postgres_version()),
        f"run:      {' and '.join(map(str, args.clients))} clients in turn (coroutines of one event loop, "
        "each on a keep-alive HTTP/1.1 connection of its own, prebuilt requests) against "
        f"`ledger serve --workers {args.workers}` and "
        f"`ledger worker` on PostgreSQL; {args.engagements} engagements",
        f"phases:   {', '.join(p.name for p in args.phases)}, one after another on the same server, each "
        f"{args.warmup:g} s warm-up, then {args.seconds:g} s timed",
        *(f"  {p.name + ':':<10}{_sends(p)}" for p in args.phases),
        "commands: milestone slips (cause, party, reason) and recoveries, task status moves, task "
        "assignments; each client on a milestone and task of its own, in an engagement shared with others",
        f"reads:    an engagement's status (GET /engagements/{{code}}), each engagement in turn, and every "
        f"{reads}th read the portfolio (GET /engagements)",
        f"targets:  >= {COMMANDS_PER_SECOND} commands/s and >= {READS_PER_SECOND} reads/s, each with "
        f"p99 < {P99_MS:g} ms; no 5xx",
        f"note:     the {os.cpu_count()} cores are shared by the load generator (this process), the API "
        "workers, the projection worker and PostgreSQL: what the client spends, the server lacks",
    ])  # fmt: skip


COLUMNS = f"{'p50 ms':>8}{'p99 ms':>8}"


def _table(kinds: Mapping[str, Timed]) -> str:
    lines = [
        f"  {'over HTTP, timed part':<34}{'req/s':>8}{'worst s':>8}{COLUMNS}{'2xx':>8}{'5xx':>6}{'other':>7}"
    ]
    lines += [kind.row(name) for name, kind in kinds.items()]
    return "\n".join(lines)


def _in_process(direct: Mapping[str, Figures]) -> str:
    lines = [f"  {'in-process, one caller, same run':<34}{'ops/s':>8}{'':>8}{COLUMNS}"]
    lines += [
        f"  {name:<34}{f.rate:>8,.0f}{'':>8}{f.p50_ms:>8.2f}{f.p99_ms:>8.2f}" for name, f in direct.items()
    ]
    return "\n".join(lines)


def _cpu(cpu: dict[str, float], span: float, requests: int) -> str:
    """Who used the cores during the load: this run's processes, and everything else on the machine."""
    per_request = ", ".join(
        f"{role} {used / requests * 1000:.2f}" for role, used in cpu.items() if role != MACHINE
    )
    spent = {role: used for role, used in cpu.items() if role != MACHINE}
    if MACHINE in cpu:
        spent["anything else"] = cpu[MACHINE] - sum(spent.values())
    listed = ", ".join(f"{role} {used:.1f}" for role, used in spent.items())
    available = (os.cpu_count() or 1) * span
    return (f"CPU seconds over the {span:g} s of load ({available:.0f} available): {listed}\n"
            f"CPU ms per request (all {requests:,}, warm-up included): {per_request}")  # fmt: skip


def _answers_other_than_recorded(samples: list[Sample]) -> str:
    found = Counter(f"{s.kind} {s.status or 'without answer'} {s.note}" for s in samples if s.note)
    listed = ", ".join(f"{n} x {what}" for what, n in found.most_common())
    return f"answers other than a 2xx that recorded (warm-up included): {listed or 'none'}"


def _verdicts(ran: Sequence[Ran]) -> str:
    """Each phase's commands and reads against their targets, and its 5xx.

    Of a phase's runs at each number of clients, the one judged is the fastest whose p99 is under
    the bound (else the fastest): more clients than that only queue longer for the same rate.
    """
    lines = []
    for name, kinds, target in (
        ("commands", {COMMAND}, COMMANDS_PER_SECOND),
        ("reads", READS, READS_PER_SECOND),
    ):
        for phase in dict.fromkeys(r.phase for r in ran):
            if not (phase.commands if name == "commands" else phase.reads):
                continue
            runs = [(r.clients, r.timed(kinds)) for r in ran if r.phase == phase]
            clients, kind = max(runs, key=lambda run: (run[1].figures().p99_ms < P99_MS, run[1].rate))
            p99 = kind.figures().p99_ms
            lines.append(f"  {name} ({phase.label}, {clients} clients): "
                         f"{_check(f'{kind.rate:,.0f}/s', kind.rate >= target, f'>= {target:,}/s')}; "
                         f"{_check(f'p99 {p99:.1f} ms', p99 < P99_MS, f'< {P99_MS:g} ms')}")  # fmt: skip
    errors = sum(r.server_errors for r in ran)
    each = ", ".join(f"{r.server_errors} in {r.phase.name} ({r.clients} clients)" for r in ran)
    lines.append(f"  5xx: {_check(each, errors == 0, 'none, warm-up included')}")
    return (
        "targets, PostgreSQL with two API workers (of each phase's runs, the fastest with p99 under "
        f"{P99_MS:g} ms):\n" + "\n".join(lines)
    )


def _check(figure: str, met: bool, target: str) -> str:
    return f"{figure} ({'MEETS' if met else 'MISSES'} {target})"


def _lag(ledger: Ledger, db: ProjectionDB) -> str:
    """How far the projection worker was behind when the load stopped, and how long it took to catch up."""
    last = ledger.recorder.max_notification_id() or 0
    names = [p.name for p in all_projections()]
    behind = last - min(positions.positions(db).get(name, 0) for name in names)
    started = time.perf_counter()
    caught_up = positions.wait_until(db, names, last, 60.0)
    took = f"caught up {time.perf_counter() - started:.2f} s later" if caught_up else "not caught up in 60 s"
    return f"projection worker: {behind} log positions behind when the load stopped; {took}"


def _direct(ledger: Ledger, db: ProjectionDB, read_code: str, seconds: float) -> dict[str, Figures]:
    """The same commands through ``Ledger.execute`` and status reads through ``engagement_status``."""
    code = "DIRECT-00"
    for command in [workload.opening(code)[0], *setup(code, 0)]:
        workload.record(ledger, command)
    commands = moves(code, 0)
    return measure(
        {
            "Ledger.execute (same commands)": lambda: workload.record(ledger, next(commands)),
            "engagement_status (same reads)": lambda: engagement_status(db, read_code),
        },
        seconds,
        rounds=3,
    )


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, with ``phases`` as the phases to run."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.phases = phases(args.phases, args.reads)
    except ValueError as error:
        parser.error(str(error))
    return args


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"numbers of clients, comma-separated, not {text!r}")
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http",
        description="Load the HTTP API on PostgreSQL in phases: mixed commands and reads, commands only, "
        "reads only.",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="timed load of each phase (default 20)")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="untimed load before each phase's timed part (default 3)"
    )
    parser.add_argument(
        "--clients",
        type=_counts,
        default="8,16",
        help="clients, each on a connection of its own; a list runs each phase at each number (default 8,16)",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument(
        "--engagements", type=int, default=8, help="engagements the load spreads over (default 8)"
    )
    parser.add_argument(
        "--reads", type=int, default=3, help="reads after each command in the mixed phase (default 3)"
    )
    parser.add_argument(
        "--phases",
        default="mixed,commands,reads",
        help="the phases to run, in order, among mixed (a command, then --reads reads), commands "
        "(commands only) and reads (reads only) (default mixed,commands,reads)",
    )
    return parser


if __name__ == "__main__":
    main()
