"""A randomized hammer (after Trillian's): concurrent clients send random valid and invalid commands
for a fixed time while invariant checkers run alongside; it prints what it did and what it found.

Run as ``python -m bench.hammer --seconds S --seed N --clients C [--store sqlite|postgres]``.
It serves the real API as it runs in production: ``ledger serve`` on a SQLite data folder with
the projections in-process, or ``ledger serve --workers 2`` and ``ledger worker`` on a PostgreSQL
schema of its own (dropped afterwards). It opens a small pool of engagements, then C client
threads talk to it over HTTP for S seconds, colliding on the pool. Each sends a random mix of:

- valid commands, on all 17 command routes, built from what it last read of the engagement
  (some conditional on that version with ``If-Match``, some with an ``Idempotency-Key``);
- invalid ones: unknown keys and engagements, dates before the start, in the future or not on
  the calendar, malformed JSON, unknown fields, wrong types, missing reasons, causes and
  approvers, a stale or malformed ``If-Match``, the wrong role, no or a forged token, an
  oversized body, an ``Idempotency-Key`` reused for another request;
- retries with the same ``Idempotency-Key``, and reads for every role.

Every answer is judged: no 5xx but a 503 problem (back-pressure, counted apart), every 4xx a
problem document, an invalid command refused with a rule it could have broken and nothing
recorded, a valid one recorded, changing nothing or refused by the state it met (409, or 412
when conditional). Reads never go back in time and show the client's own writes; a retry
answers what the first send did. Every half second or so a checker reads every engagement at
its last acknowledged position (the version must be at least the acknowledged one), reconciles
the projections with the store, and verifies a fresh checkpoint. At the end: every acknowledged
command's events are in the store exactly once, at the versions and positions acknowledged,
nothing unacknowledged is, versions have no gaps, and reconcile and verify pass once the
projections have caught up. Exit status 1 on any violation.

Client n draws from ``random.Random(seed + n)``: which command, engagement, dates and mistakes
come next is fixed by the seed and the answers so far, and the answers depend on how the
clients' requests interleave. The same seed gives the same kind of run, not the same requests.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import count
from typing import Any
from uuid import UUID

import httpx
import orjson

from api.http.auth import Role, Tokens
from bench import report as machine
from bench import serving as processes
from bench.stores import postgres_store, postgres_version, sqlite_store
from domain.decide.tasks import ALLOWED
from domain.events import TOPICS
from domain.service import Ledger
from domain.store import read_log
from domain.values import ResponsibleParty, SlipCause, TaskStatus, engagement_id
from projections import positions
from projections.db import ProjectionDB, open_projection_db
from projections.reconcile import Discrepancy, reconcile
from replay.registry import every_projection

START, END = date(2025, 1, 6), date(2025, 12, 19)
"""Every engagement's plan: dates in the past of the real clock, so none is refused as future."""
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "rule"}
TIMEOUT = 30.0
"""A request unanswered this long is a violation: the API must answer, if only with a 503."""
PROJECTIONS = [p.name for p in every_projection()]

# --- The server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """The API under the hammer: its URL and the headers of each principal the clients act as."""

    url: str
    auth: Mapping[str, Mapping[str, str]]


@contextmanager
def serving(store: Mapping[str, str], workers: int) -> Iterator[Site]:
    """``ledger serve`` on ``store`` (on PostgreSQL with ``ledger worker`` beside), stopped at the end."""
    if "SQLITE_DBNAME" in store:  # embedded: one process, the projections in-process
        started = processes.serving(store, workers=1, worker=None)
    else:  # production: a configured signing key shared by every process, the projections apart
        started = processes.serving(store, workers, worker=("worker", "--poll", "0.2"), signing_key=True)
    with started as running:
        yield Site(running.url, _principals(running.tokens))


def _principals(tokens: Tokens) -> dict[str, dict[str, str]]:
    who = {
        "pmo": ("hammer.pmo", Role.PMO, None), "auditor": ("hammer.auditor", Role.AUDITOR, None),
        "acme": ("cfo@acme", Role.CLIENT, "acme"), "globex": ("cto@globex", Role.CLIENT, "globex"),
    }  # fmt: skip
    auth = {name: {"Authorization": f"Bearer {tokens.issue(*claims)}"} for name, claims in who.items()}
    return auth | {"nobody": {}, "forger": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}}


# --- What is sent, and what may come back ------------------------------------------------------

VALID = frozenset({"recorded", "nothing", "409"})
"""A valid command is recorded, changes nothing, or is refused by the state it met (a 409 rule)."""
READ = frozenset({"ok"})
CLOSED = "EngagementIsClosed"
GONE = frozenset({"MilestoneAlreadyAchieved", "MilestoneIsCancelled", "UnknownMilestone", CLOSED})
"""What a command on a milestone read a moment ago may meet: another client moved it on."""


@dataclass(frozen=True)
class Send:
    """One request and the answers it may get: labels (``recorded``, ``nothing``, ``ok``, a rule's
    name, ``replay``) or a status as text (``"409"``: any rule of that status)."""

    kind: str
    path: str
    body: bytes | None = None
    """``None``: a GET."""
    who: str = "pmo"
    expect: frozenset[str] = VALID
    headers: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None
    if_match: int | None = None
    command: bool = True


@dataclass(frozen=True)
class Answer:
    status: int
    label: str
    body: Any = None
    etag: str | None = None


def command(kind: str, code: str, route: str, body: Mapping[str, Any], **more: Any) -> Send:
    path = f"/engagements/{code}/{route}" if route else "/engagements"
    return Send(kind, path, orjson.dumps(body), code=code, **more)


def read(kind: str, path: str, who: str = "pmo", expect: frozenset[str] = READ) -> Send:
    return Send(kind, path, who=who, expect=expect, command=False)


Belief = dict[str, Any]
"""An engagement's status as a client last read it: what its commands are built from."""


@dataclass
class Draw:
    """A client's dice, with the shapes the PMO's data takes."""

    rng: random.Random
    tag: str = ""

    def day(self, low: date = START, high: date = END) -> str:
        return (low + timedelta(days=self.rng.randrange((high - low).days + 1))).isoformat()

    def near(self, iso: Any, low: int, high: int) -> str:
        moved = date.fromisoformat(str(iso)[:10]) + timedelta(days=self.rng.randint(low, high))
        return min(max(moved, START), END).isoformat()

    def pick(self, items: Sequence[Any]) -> Any:
        return self.rng.choice(items) if items else None

    def why(self) -> dict[str, Any]:
        """A reason, and now and then the other annotations a change may carry."""
        found: dict[str, Any] = {"reason": self.rng.choice(REASONS)}
        if self.rng.random() < 0.2:
            found["internal_note"] = f"Escalated in steering committee {self.tag}"
        if self.rng.random() < 0.2:
            found["change_ref"] = f"CR-{self.tag}"
        if self.rng.random() < 0.1:
            found["effective_on"] = self.day()
        return found

    def slip(self) -> dict[str, str]:
        return {
            "cause": self.rng.choice(list(SlipCause)).value,
            "responsible_party": self.rng.choice(list(ResponsibleParty)).value,
        }


REASONS = (
    "Agreed in the weekly review",
    "Vendor confirmed the new date",
    "Client asked for it",
    "Steering committee decision",
    "Test environment delivered late",
)
PEOPLE = ("lena.berg", "priya.nair", "sam.okafor", "J. Ortega")


def _milestones(b: Belief, status: str | None = "planned") -> list[dict[str, Any]]:
    return [m for m in b["milestones"] if status is None or m["status"] == status]


def _tasks(b: Belief, open_only: bool = False) -> list[dict[str, Any]]:
    return [t for t in b["tasks"] if not open_only or t["status"] not in {"done", "cancelled"}]


def _scope(b: Belief) -> list[dict[str, Any]]:
    return [s for s in b["scope"] if not s["removed"]]


Built = tuple[str, dict[str, Any]] | None
"""The route under the engagement and the body, or ``None`` where the engagement offers no subject."""


def plan_milestone(d: Draw, b: Belief) -> Built:
    body = {"title": f"Milestone {d.tag}", "baseline": d.day()}
    return "milestones", body | ({"key": f"m{d.tag}"} if d.rng.random() < 0.7 else {})


def reschedule_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(_milestones(b))
    if m is None:
        return None
    body = {"to_date": d.near(m["forecast"], -20, 30), **d.slip(), **d.why()}
    return f"milestones/{m['key']}/reschedule", body


def rebaseline_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(_milestones(b))
    if m is None:
        return None
    body = {"to_date": d.near(m["baseline"], -10, 40), "approved_by": d.pick(PEOPLE), **d.why()}
    return f"milestones/{m['key']}/rebaseline", body | {"change_ref": f"CR-{d.tag}"}


def achieve_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(_milestones(b))
    if m is None:
        return None
    body = {"actual_on": d.near(m["forecast"], -5, 10), **d.slip(), **d.why()}
    return f"milestones/{m['key']}/achieve", body


def cancel_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(_milestones(b))
    return None if m is None else (f"milestones/{m['key']}/cancel", d.why())


def add_scope_item(d: Draw, b: Belief) -> Built:
    return "scope-items", {"key": f"s{d.tag}", "title": f"Deliverable {d.tag}", **d.why()}


def revise_scope_item(d: Draw, b: Belief) -> Built:
    s = d.pick(_scope(b))
    return None if s is None else (f"scope-items/{s['key']}/revise", {"title": f"Scope {d.tag}", **d.why()})


def remove_scope_item(d: Draw, b: Belief) -> Built:
    s = d.pick(_scope(b))
    return None if s is None else (f"scope-items/{s['key']}/remove", d.why())


def add_task(d: Draw, b: Belief) -> Built:
    body: dict[str, Any] = {"key": f"t{d.tag}", "title": f"Task {d.tag}", "assignee": d.pick(PEOPLE)}
    milestone = d.pick(_milestones(b, status=None))
    if milestone and d.rng.random() < 0.5:
        body |= {"milestone_key": milestone["key"], "due_on": d.day()}
    return "tasks", body


def change_task_status(d: Draw, b: Belief) -> Built:
    """To a status the task may move to from the one it was read in (a reason for every move)."""
    t = d.pick(_tasks(b))
    if t is None:
        return None
    to = d.pick(sorted(ALLOWED[TaskStatus(t["status"])]))
    return f"tasks/{t['key']}/status", {"to_status": str(to), **d.why()}


def assign_task(d: Draw, b: Belief) -> Built:
    t = d.pick(_tasks(b, open_only=True))
    return None if t is None else (f"tasks/{t['key']}/assign", {"assignee": d.pick([*PEOPLE, None])})


def reschedule_task(d: Draw, b: Belief) -> Built:
    t = d.pick(_tasks(b, open_only=True))
    return None if t is None else (f"tasks/{t['key']}/reschedule", {"to_date": d.day(), **d.why()})


def assign_manager(d: Draw, b: Belief) -> Built:
    return "manager", {"manager": d.pick(PEOPLE)} | (d.why() if d.rng.random() < 0.5 else {})


def put_on_hold(d: Draw, b: Belief) -> Built:
    return "hold", d.why()


def resume(d: Draw, b: Belief) -> Built:
    return "resume", d.why()


def close(d: Draw, b: Belief) -> Built:
    return "close", d.why()


COMMANDS: dict[str, tuple[Callable[[Draw, Belief], Built], float]] = {
    "plan-milestone": (plan_milestone, 6), "reschedule-milestone": (reschedule_milestone, 12),
    "rebaseline-milestone": (rebaseline_milestone, 3), "achieve-milestone": (achieve_milestone, 3),
    "cancel-milestone": (cancel_milestone, 2), "add-scope-item": (add_scope_item, 3),
    "revise-scope-item": (revise_scope_item, 3), "remove-scope-item": (remove_scope_item, 2),
    "add-task": (add_task, 6), "change-task-status": (change_task_status, 12),
    "assign-task": (assign_task, 5), "reschedule-task": (reschedule_task, 4),
    "assign-manager": (assign_manager, 2), "put-on-hold": (put_on_hold, 2), "resume": (resume, 2),
}  # fmt: skip
"""Commands on any engagement, with their weights; the client opens and closes its own besides."""
OWN_ONLY = ("open-engagement", "close")


def opening(code: str, client_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": code, "title": f"Rollout {code}", "client_id": client_id, "client_name": client_id.upper(),
        "manager": "Dana Whitfield", "planned_start": START.isoformat(), "planned_end": END.isoformat(),
    } | fields  # fmt: skip


def invalid_commands(d: Draw, code: str, b: Belief, pooled: bool) -> dict[str, Send]:
    """One of each mistake, aimed at engagement ``code``; each names the answers it may get.

    Where the engagement's state decides which rule breaks first (another client may have
    achieved the milestone meanwhile), each of those rules is expected; none records anything.
    """
    m = d.pick(_milestones(b)) or {"key": f"ghost-{d.tag}"}
    t = d.pick(_tasks(b)) or {"key": f"ghost-{d.tag}"}
    task = {"title": f"Task {d.tag}"}

    def on(route: str, body: Mapping[str, Any], *expect: str, **more: Any) -> Send:
        return command("", code, route, body, expect=frozenset(expect), **more)

    ghost, bad = f"GHOST-{d.tag}", f"BAD-{d.tag}"
    mistakes = {
        "unknown milestone": on(f"milestones/ghost-{d.tag}/reschedule",
                                {"to_date": d.day(), **d.slip(), **d.why()}, "UnknownMilestone", CLOSED),
        "unknown task": on(f"tasks/ghost-{d.tag}/status", {"to_status": "done"}, "UnknownTask", CLOSED),
        "unknown engagement": command("", ghost, "tasks", task, expect=frozenset({"EngagementNotFound"})),
        "date before the start": on("milestones", {"title": "Kick-off", "baseline": "2024-12-02"},
                                    "DateBeforeEngagementStart", CLOSED),
        "end before start": command("", bad, "", opening(bad, "acme", planned_end="2024-12-31"),
                                    expect=frozenset({"EndBeforeStart"})),
        "no such day": on(f"milestones/{m['key']}/reschedule", {"to_date": "2025-02-30", **d.why()},
                          "InvalidInput"),
        "achieved in the future": on(f"milestones/{m['key']}/achieve",
                                     {"actual_on": "2099-01-01", **d.slip(), **d.why()},
                                     *GONE, "ActualDateInFuture"),
        "no reason to cancel": on(f"milestones/{m['key']}/cancel", {}, *GONE, "ReasonRequired", "nothing"),
        "no reason to block": on(f"tasks/{t['key']}/status", {"to_status": "blocked"}, "ReasonRequired",
                                 "IllegalTaskTransition", "UnknownTask", CLOSED, "nothing"),
        "no slip cause": on(f"milestones/{m['key']}/reschedule", {"to_date": "2030-01-01", **d.why()},
                            *GONE, "SlipCauseRequired"),
        "no approver": on(f"milestones/{m['key']}/rebaseline",
                          {"to_date": "2030-01-01", "change_ref": f"CR-{d.tag}", **d.why()},
                          *GONE, "ApproverRequired"),
        "malformed JSON": Send("", f"/engagements/{code}/tasks", b'{"title": "Half a', code=code,
                               expect=frozenset({"MalformedJson"})),
        "unknown field": on("tasks", task | {"priority": "high"}, "InvalidInput"),
        "wrong type": on(f"tasks/{t['key']}/status", {"to_status": "finished"}, "InvalidInput"),
        "malformed code": command("", "x", "tasks", task, expect=frozenset({"InvalidInput"})),
        "malformed If-Match": on("tasks", task, "MalformedIfMatch", headers={"If-Match": "yesterday"}),
        "auditor writes": on("tasks", task, "Forbidden", who="auditor"),
        "client writes": on("tasks", task, "Forbidden", who="acme"),
        "no token": on("tasks", task, "Unauthenticated", who="nobody"),
        "forged token": on("tasks", task, "Unauthenticated", who="forger"),
        "oversized body": on("scope-items", {"title": "x" * 70_000, **d.why()}, "BodyTooLarge"),
    }  # fmt: skip
    if pooled:  # the pool's engagements are past version 1 from the start
        mistakes["stale If-Match"] = on(
            "tasks", task, "ExpectedVersionMismatch", headers={"If-Match": '"v1"'}
        )
    return {name: replace(s, kind=f"invalid: {name}") for name, s in mistakes.items()}


READS = ("status", "portfolio", "slips", "change log", "audit", "another client's change log")

# --- What happened: every answer, acknowledged write and check, shared by the threads ----------


@dataclass(frozen=True)
class Ack:
    """An acknowledged write: the engagement, its version after it, the log position, the events."""

    code: str
    version: int
    position: int
    recorded: tuple[str, ...]


def ack_of(body: Mapping[str, Any]) -> Ack:
    return Ack(body["code"], body["version"], body["position"], tuple(body["recorded"]))


ALONGSIDE = ("read-your-writes", "reconcile", "checkpoint + verify")
INLINE = ("own writes seen", "reads never go back", "retry answers the same", "If-Match honoured")
FINAL = (
    "final: projections caught up",
    "final: read-your-writes",
    "final: reconcile",
    "final: checkpoint + verify",
    "final: acknowledged exactly once",
    "final: versions gap-free",
    "final: nothing unacknowledged",
)


class Record:
    """Every answer by kind, status and label; the acknowledged writes; checks and violations."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.operations: Counter[tuple[str, int, str]] = Counter()
        self.backpressure: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.checks: dict[str, Counter[str]] = defaultdict(Counter)
        self.violations: list[str] = []
        self.acks: list[Ack] = []
        self.unanswered = 0

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    def check(self, name: str, passed: bool | None, failure: str = "") -> bool:
        """Count a check run: passed, failed (a violation) or ``None``, skipped for back-pressure."""
        with self.lock:
            self.checks[name]["skipped" if passed is None else "passed" if passed else "failed"] += 1
            if passed is False:
                self.violations.append(f"{name}: {failure}")
        return passed is not False

    def note(self, what: str) -> None:
        """Something worth telling that breaks no invariant."""
        with self.lock:
            self.notes[what] += 1

    def acknowledged(self, ack: Ack) -> None:
        with self.lock:
            self.acks.append(ack)

    def latest(self) -> dict[str, Ack]:
        """Per engagement, its highest acknowledged version."""
        with self.lock:
            found: dict[str, Ack] = {}
            for ack in self.acks:
                if ack.code not in found or ack.version > found[ack.code].version:
                    found[ack.code] = ack
            return found

    def exchange(self, http: httpx.Client, send: Send, auth: Mapping[str, str]) -> Answer:
        """Send, judge the answer against the invariants every answer keeps, and count it."""
        headers = {**auth, **send.headers, **(JSON if send.body is not None else {})}
        try:
            if send.body is None:
                response = http.get(send.path, headers=headers)
            else:
                response = http.post(send.path, content=send.body, headers=headers)
        except httpx.HTTPError as error:
            with self.lock:
                self.unanswered += 1
                self.operations[send.kind, 0, type(error).__name__] += 1
            self.violation(f"{send.kind} {send.path}: no answer within {TIMEOUT:g} s ({error!r})")
            return Answer(0, type(error).__name__)
        answer = self.judge(send, response)
        with self.lock:
            self.operations[send.kind, answer.status, answer.label] += 1
        return answer

    def judge(self, send: Send, response: httpx.Response) -> Answer:
        """The answer's label; a violation for each invariant of every answer it breaks."""
        status, body = response.status_code, _json(response)
        where = f"{send.kind} {send.path}: {status}"
        if status >= 400:
            problem = _is_problem(response, body)
            label = str(body["rule"]) if problem else "not a problem document"
            if not problem:
                self.violation(f"{where} without a problem document: {response.text[:300]!r}")
            elif status == 503:
                with self.lock:
                    self.backpressure[label] += 1
                return Answer(status, label, body)
            elif status >= 500:
                self.violation(f"{where} {label}: {body.get('detail')}")
        elif not send.command:
            label = "ok"
        elif response.headers.get("Idempotent-Replay") == "true":
            label = "replay"
        elif not isinstance(body, dict):
            label = "not JSON"
            self.violation(f"{where}: the answer is not JSON: {response.text[:300]!r}")
        else:
            label = "recorded" if body.get("position") is not None else "nothing"
            if response.headers.get("ETag") != f'"v{body.get("version")}"':
                self.violation(
                    f"{where}: ETag {response.headers.get('ETag')} for version {body.get('version')}"
                )
        if label not in send.expect and str(status) not in send.expect:
            detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
            self.violation(f"{where} {label} is not an answer it may get ({sorted(send.expect)}): {detail}")
        return Answer(status, label, body, response.headers.get("ETag"))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_problem(response: httpx.Response, body: Any) -> bool:
    return (
        response.headers.get("content-type") == PROBLEM
        and isinstance(body, dict)
        and body.keys() >= PROBLEM_FIELDS
        and body["status"] == response.status_code
    )


# --- A client ----------------------------------------------------------------------------------


class Client:
    """One thread: picks an engagement of the pool (or one it opened), reads it when its picture
    is stale, and sends a valid command, a mistake, a retry or a read."""

    def __init__(self, n: int, seed: int, site: Site, record: Record, pool: Mapping[str, str]) -> None:
        self.n, self.site, self.record = n, site, record
        self.rng = random.Random(seed + n)
        self.client_of = dict(pool)
        """Each engagement's client id: its client may read it, the other may not."""
        self.pool, self.own = list(pool), list[str]()
        self.beliefs: dict[str, Belief] = {}
        self.stale: set[str] = set()
        self.mine: dict[str, Ack] = {}
        """Per engagement, the last write this client had acknowledged."""
        self.seen: dict[str, int] = {}
        self.keyed: list[tuple[Send, Answer]] = []
        """Acknowledged sends that carried an Idempotency-Key: to retry, or to reuse the key of."""
        self.numbers = count(1)

    def run(self, until: float) -> None:
        with httpx.Client(base_url=self.site.url, timeout=TIMEOUT) as http:
            try:
                while time.monotonic() < until:
                    self.step(http)
            except Exception as error:  # a client that stops can vouch for nothing after: say so
                self.record.violation(f"client {self.n} stopped: {error!r}")
                raise

    def step(self, http: httpx.Client) -> None:
        draw = Draw(self.rng, f"{self.n}-{next(self.numbers)}")
        code = (
            self.rng.choice(self.own) if self.own and self.rng.random() < 0.2 else self.rng.choice(self.pool)
        )
        if code not in self.beliefs or code in self.stale or self.rng.random() < 0.15:
            self.read_status(http, code)
            return
        roll = self.rng.random()
        if roll < 0.55:
            self.valid(http, draw, code)
        elif roll < 0.62 and self.keyed:
            self.retry(http)
        elif roll < 0.85:
            self.mistake(http, draw, code)
        else:
            self.other_read(http, code)

    def send(self, http: httpx.Client, send: Send) -> Answer:
        answer = self.record.exchange(http, send, self.site.auth[send.who])
        if answer.label == "recorded" and send.code:
            ack = ack_of(answer.body)
            self.record.acknowledged(ack)
            self.mine[ack.code] = ack
            if self.rng.random() < 0.6:  # else the next command meets a state it has not read
                self.stale.add(ack.code)
        if send.if_match is not None and answer.label in {"recorded", "nothing"}:
            moved = send.if_match + len(answer.body["recorded"])
            self.record.check(
                "If-Match honoured",
                answer.body["version"] == moved,
                f"{send.path} sent with If-Match v{send.if_match} answered version {answer.body['version']}",
            )
        return answer

    def valid(self, http: httpx.Client, d: Draw, code: str) -> None:
        belief, roll = self.beliefs[code], self.rng.random()
        if roll < 0.01:
            self.open(http, d)
            return
        if roll < 0.04 and code in self.own:
            kind, built = "close", close(d, belief)
        else:
            names = list(COMMANDS)
            kind = self.rng.choices(names, weights=[COMMANDS[k][1] for k in names])[0]
            built = COMMANDS[kind][0](d, belief)
        if built is None:
            return
        route, body = built
        headers, if_match = {}, None
        if self.rng.random() < 0.2:
            if_match = int(belief["version"])
            headers["If-Match"] = f'"v{if_match}"'
        if self.rng.random() < 0.25:
            headers["Idempotency-Key"] = f"hammer-{d.tag}"
        expect = VALID | ({"ExpectedVersionMismatch"} if if_match is not None else set())
        send = command(kind, code, route, body, headers=headers, if_match=if_match, expect=expect)
        answer = self.send(http, send)
        if "Idempotency-Key" in headers and 200 <= answer.status < 300:
            self.keyed.append((send, answer))

    def open(self, http: httpx.Client, d: Draw) -> None:
        code = f"OWN-{d.tag}"
        body = opening(code, "acme") | (d.why() if self.rng.random() < 0.3 else {})
        answer = self.send(http, command("open-engagement", code, "", body, expect=frozenset({"recorded"})))
        if answer.label == "recorded":
            self.own.append(code)
            self.client_of[code] = "acme"

    def retry(self, http: httpx.Client) -> None:
        """The same request with the same key: the first answer again, and nothing recorded twice."""
        first, answered = self.rng.choice(self.keyed)
        again = replace(first, kind="retry (same Idempotency-Key)", expect=frozenset({"replay"}))
        answer = self.send(http, again)
        if answer.label == "replay":
            same = (answer.status, answer.body, answer.etag) == (
                answered.status,
                answered.body,
                answered.etag,
            )
            self.record.check(
                "retry answers the same",
                same,
                f"{first.path}: first {answered.status} {answered.body}, then {answer.status} {answer.body}",
            )

    def mistake(self, http: httpx.Client, d: Draw, code: str) -> None:
        mistakes = invalid_commands(d, code, self.beliefs[code], pooled=code in self.pool)
        if self.keyed:  # the key of an acknowledged command, on another request
            first, _ = self.rng.choice(self.keyed)
            other = {"title": f"Task {d.tag}"}
            mistakes["Idempotency-Key reused"] = command(
                "invalid: Idempotency-Key reused",
                str(first.code),
                "tasks",
                other,
                headers={"Idempotency-Key": first.headers["Idempotency-Key"]},
                expect=frozenset({"IdempotencyKeyReused"}),
            )
        self.send(http, mistakes[self.rng.choice(sorted(mistakes))])

    def read_status(self, http: httpx.Client, code: str) -> None:
        """Read the engagement at this client's last write: it must show it, and never go back."""
        mine = self.mine.get(code)
        # Another client's acknowledged write is as good a floor: without any, the engagement may not
        # be projected yet (or not exist), and 404 is an honest answer.
        known = mine or self.record.latest().get(code)
        query = f"?min_position={known.position}" if known else ""
        expect = READ if known else READ | {"EngagementNotFound"}
        answer = self.send(http, read("read: status", f"/engagements/{code}{query}", expect=expect))
        if answer.status != 200:
            return
        version = int(answer.body["version"])
        if mine:
            self.record.check(
                "own writes seen",
                version >= mine.version,
                f"{code} read at position {mine.position} shows version {version}, "
                f"but this client's write there was acknowledged at version {mine.version}",
            )
        self.record.check(
            "reads never go back",
            version >= self.seen.get(code, 0),
            f"{code} showed version {self.seen.get(code)}, then {version}",
        )
        self.seen[code] = max(version, self.seen.get(code, 0))
        self.beliefs[code] = answer.body
        self.stale.discard(code)

    def other_read(self, http: httpx.Client, code: str) -> None:
        owner = self.client_of[code]
        stranger = "globex" if owner == "acme" else "acme"
        sends = {
            "status": read("read: status", f"/engagements/{code}"),
            "portfolio": read("read: portfolio", "/engagements", who="auditor"),
            "slips": read("read: slips", f"/engagements/{code}/slips"),
            "change log": read("read: change log (its client)", f"/engagements/{code}/changelog", who=owner),
            "audit": read("read: audit trail", f"/engagements/{code}/audit?limit=20", who="auditor"),
            "another client's change log": read("invalid: another client's change log",
                                                f"/engagements/{code}/changelog", who=stranger,
                                                expect=frozenset({"EngagementNotFound"})),
        }  # fmt: skip
        self.send(http, sends[self.rng.choice(READS)])


# --- The checkers ------------------------------------------------------------------------------


class Checker:
    """Reads, reconciles and verifies: while the clients send, and once they have stopped."""

    def __init__(self, site: Site, record: Record, ledger: Ledger, db: ProjectionDB) -> None:
        self.site, self.record, self.ledger, self.db = site, record, ledger, db

    def alongside(self, stop: threading.Event, every: float = 0.5) -> None:
        """Each check on a thread of its own, every ``every`` seconds, until ``stop``: a slow one
        (verify rehashes the whole log) holds back none of the others."""
        checks: list[Callable[[httpx.Client], object]] = [
            lambda http: self.read_your_writes(http, "read-your-writes"),
            lambda http: self.reconciled("reconcile", wait=1),
            lambda http: self.verified(http, "checkpoint + verify"),
        ]
        threads = [threading.Thread(target=self._repeat, args=(check, stop, every)) for check in checks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _repeat(self, check: Callable[[httpx.Client], object], stop: threading.Event, every: float) -> None:
        with httpx.Client(base_url=self.site.url, timeout=TIMEOUT) as http:
            try:
                while not stop.wait(every):
                    check(http)
            except Exception as error:
                self.record.violation(f"a checker stopped: {error!r}")
                raise

    def read_your_writes(self, http: httpx.Client, name: str) -> None:
        """Every engagement, read at its last acknowledged position, shows at least that version."""
        failures, skipped = [], False
        for code, ack in sorted(self.record.latest().items()):
            path = f"/engagements/{code}?min_position={ack.position}"
            answer = self.record.exchange(
                http, read("check: read at an acknowledged position", path), self.site.auth["pmo"]
            )
            skipped |= answer.status == 503
            if answer.status == 200 and int(answer.body["version"]) < ack.version:
                failures.append(
                    f"{code} at position {ack.position} shows version {answer.body['version']}, "
                    f"acknowledged {ack.version}"
                )
        self.record.check(name, None if skipped and not failures else not failures, "; ".join(failures))

    def reconciled(self, name: str, wait: float) -> None:
        """The projections reconcile with the store, each up to its own position, once they have
        seen the last acknowledged write (or ``wait`` seconds have passed: that is noted)."""
        head = max((ack.position for ack in self.record.latest().values()), default=0)
        if not positions.wait_until(self.db, PROJECTIONS, head, wait):
            self.record.note(f"reconcile began before the projections reached the last write ({wait:g} s)")
        verdicts = [self._reconciled(projection) for projection in PROJECTIONS]
        found = [str(d) for verdict in verdicts if verdict for d in verdict[:3]]
        self.record.check(name, None if None in verdicts else not found, "; ".join(found))

    def _reconciled(self, projection: str, attempts: int = 50) -> list[Discrepancy] | None:
        """``reconcile`` of one projection; ``None`` if it never kept still.

        ``reconcile`` reads a projection's position and what it saw of each engagement in separate
        queries, so a projection that moves between the two shows differences that are not there.
        A verdict counts only if the projection did not move while reconcile ran (positions only grow).
        """
        for _ in range(attempts):
            before = positions.positions(self.db).get(projection)
            found = reconcile(self.ledger, self.db, [projection])
            if positions.positions(self.db).get(projection) == before:
                return found
            self.record.note("reconcile verdicts discarded: a projection moved while reconcile read")
        return None

    def verified(self, http: httpx.Client, name: str) -> None:
        """A fresh checkpoint, then verify against it: every event rehashed matches the signed log."""
        taken = self._post(http, "checkpoints", {}, "pmo")
        if taken.status != 201:
            self.record.check(name, None if taken.status == 503 else False, f"checkpoint: {taken}")
            return
        verdict = self._post(http, "verify", {"against": taken.body["note"]}, "auditor")
        if verdict.status == 503:
            self.record.check(name, None)
            return
        ok = verdict.status == 200 and verdict.body["ok"] is True
        self.record.check(name, ok, f"verify against size {taken.body['size']}: {verdict.body}")

    def _post(self, http: httpx.Client, route: str, body: Mapping[str, Any], who: str) -> Answer:
        path = f"/ledger/{route}"
        send = Send(f"check: POST {path}", path, orjson.dumps(body), who=who, expect=READ, command=False)
        return self.record.exchange(http, send, self.site.auth[who])

    def final(self, http: httpx.Client) -> int:
        """Once the clients have stopped: everything caught up, read, reconciled, verified, and the
        store held against every acknowledgement; the number of events stored."""
        head = self.ledger.recorder.max_notification_id() or 0
        self.record.check(
            "final: projections caught up",
            positions.wait_until(self.db, PROJECTIONS, head, 60),
            f"not at {head} after 60 s: {positions.positions(self.db)}",
        )
        self.read_your_writes(http, "final: read-your-writes")
        self.reconciled("final: reconcile", wait=0)
        self.verified(http, "final: checkpoint + verify")
        stored = stored_events(self.ledger)
        for name, failures in stored_once(stored, self.record.acks, self.record.unanswered).items():
            self.record.check(
                name, None if failures is None else not failures, "; ".join(failures or [])[:2000]
            )
        return len(stored)


Stored = dict[tuple[UUID, int], tuple[int, str]]
"""Every stored event: (engagement id, version) -> (log position, event type)."""


def stored_events(ledger: Ledger) -> Stored:
    stored: Stored = {}
    after = 0
    while page := read_log(ledger.recorder, after, 1000):
        for position, event in page:
            stored[UUID(str(event.originator_id)), event.originator_version] = (
                position,
                TOPICS[event.topic].__name__,
            )
        after = page[-1][0]
    return stored


def stored_once(stored: Stored, acks: Sequence[Ack], unanswered: int) -> dict[str, list[str] | None]:
    """What the store holds against what was acknowledged: per final check, its failures.

    Every acknowledged event is at the version (and the last at the position) its answer gave,
    and no version is claimed twice; versions run from 1 without gaps; and, when every request
    got an answer, nothing is stored that no answer acknowledged (a refused command recorded
    nothing). ``None``: not checkable (some request went unanswered).
    """
    once, claimed = [], set[tuple[UUID, int]]()
    for ack in acks:
        stream = engagement_id(ack.code)
        for back, kind in enumerate(reversed(ack.recorded)):
            at = (stream, ack.version - back)
            found = stored.get(at)
            if at in claimed:
                once.append(f"{ack.code} version {at[1]} acknowledged twice")
            elif found is None or found[1] != kind or (back == 0 and found[0] != ack.position):
                once.append(
                    f"{ack.code} version {at[1]} acknowledged as {kind} at {ack.position}, stored {found}"
                )
            claimed.add(at)
    streams: dict[UUID, list[int]] = defaultdict(list)
    for stream, version in stored:
        streams[stream].append(version)
    code = {engagement_id(ack.code): ack.code for ack in acks}
    gaps = [
        f"{code.get(s, s)}: versions {sorted(v)[:20]}..."
        for s, v in streams.items()
        if sorted(v) != list(range(1, len(v) + 1))
    ]
    extra = [f"{code.get(s, s)} version {v} at {stored[s, v][0]}" for s, v in sorted(stored.keys() - claimed)]
    return {
        "final: acknowledged exactly once": once,
        "final: versions gap-free": gaps,
        "final: nothing unacknowledged": None if unanswered else extra,
    }


# --- The run, and what it prints ---------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What the hammer did and found."""

    title: str
    seconds: float
    operations: Counter[tuple[str, int, str]]
    checks: dict[str, Counter[str]]
    backpressure: Counter[str]
    notes: Counter[str]
    violations: list[str]
    events: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def total(self, kinds: Sequence[str] = ("",), low: int = 0, high: int = 600, label: str = "") -> int:
        """Answers to sends of a kind starting with one of ``kinds``, status in [low, high), ``label``."""
        return sum(
            n
            for (kind, status, found), n in self.operations.items()
            if kind.startswith(tuple(kinds)) and low <= status < high and label in {"", found}
        )

    def lines(self) -> list[str]:
        return [self.title, *self._did(), *self._answers(), *self._checks(), *self._found()]

    def _did(self) -> list[str]:
        valid, n, total = [*COMMANDS, *OWN_ONLY], self.total(), self.total
        return [
            f"did: {n:,} requests answered in {self.seconds:g} s ({n / self.seconds:,.0f}/s); "
            f"{self.events:,} events stored",
            f"  valid commands: {total(valid):,} sent; {total(valid, label='recorded'):,} recorded, "
            f"{total(valid, label='nothing'):,} changed nothing, {total(valid, 400, 500):,} refused by the "
            "state they met (another client got there first)",
            f"  invalid sends: {total(['invalid']):,}; {total(['invalid'], 400, 500):,} refused",
            f"  retries with the same Idempotency-Key: {total(['retry']):,}; reads: "
            f"{total(['read', 'check: read']):,}; back-pressure 503s: {total(low=503, high=504):,}",
        ]

    def _answers(self) -> list[str]:
        lines = [f"  {'kind':<44}answers: status label x count"]
        for kind in sorted({k for k, _, _ in self.operations}):
            answers = sorted((s, found, n) for (k, s, found), n in self.operations.items() if k == kind)
            lines.append(f"  {kind:<44}" + ", ".join(f"{s} {found} x{n}" for s, found, n in answers))
        return lines

    def _checks(self) -> list[str]:
        lines = [f"invariant checks{'':<34}{'run':>6}{'passed':>8}{'failed':>8}{'skipped':>9}"]
        for name in (*ALONGSIDE, *INLINE, *FINAL):
            c = self.checks.get(name, Counter())
            lines.append(f"  {name:<48}{c.total():>6}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}")
        return [*lines, "  (skipped: answered 503 for back-pressure, or projections that never kept still)"]

    def _found(self) -> list[str]:
        pressure = ", ".join(f"{rule} x{n}" for rule, n in self.backpressure.most_common()) or "none"
        lines = [f"back-pressure (503 problem answers): {pressure}"]
        lines += [f"note: {what} (x{n})" for what, n in self.notes.most_common()]
        lines.append(f"violations: {len(self.violations) or 'none'}")
        lines += [f"  {v}" for v in self.violations[:40]]
        return [*lines, "OK: every invariant held" if self.ok else "FAILED: invariants were violated"]


def hammer(
    store: Mapping[str, str],
    seconds: float,
    seed: int,
    clients: int,
    engagements: int = 4,
    workers: int = 2,
    title: str = "",
) -> Report:
    """Serve ``store``, hammer it for ``seconds`` with ``clients`` threads, check it; what happened."""
    record = Record()
    with serving(store, workers) as site, Ledger(dict(store)) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            pool = open_pool(site, record, engagements)
            checker, stop = Checker(site, record, ledger, db), threading.Event()
            alongside = threading.Thread(target=checker.alongside, args=(stop,))
            alongside.start()
            until = time.monotonic() + seconds
            threads = [
                threading.Thread(target=Client(n, seed, site, record, pool).run, args=(until,))
                for n in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            alongside.join()
            with httpx.Client(base_url=site.url, timeout=TIMEOUT) as http:
                events = checker.final(http)
        finally:
            db.close()
    return Report(
        title or f"Randomized hammer: seed {seed}, {clients} clients, {seconds:g} s",
        seconds,
        record.operations,
        dict(record.checks),
        record.backpressure,
        record.notes,
        record.violations,
        events,
    )


def open_pool(site: Site, record: Record, engagements: int) -> dict[str, str]:
    """The engagements the clients share, each with milestones, scope and tasks; their client ids."""
    pool = {f"POOL-{n}": ("acme", "globex")[n % 2] for n in range(1, engagements + 1)}
    with httpx.Client(base_url=site.url, timeout=TIMEOUT) as http:
        for code, client_id in pool.items():
            d, nothing = Draw(random.Random(code)), Belief(milestones=[])
            steps: list[Built] = [("", opening(code, client_id))]
            for n, build in enumerate([plan_milestone, plan_milestone, add_scope_item, add_task, add_task]):
                d.tag = f"{code.lower()}-{n}"
                steps.append(build(d, nothing))
            for built in filter(None, steps):
                send = command("open the pool", code, *built, expect=frozenset({"recorded"}))
                answer = record.exchange(http, send, site.auth["pmo"])
                if answer.label != "recorded":
                    raise RuntimeError(f"could not open the pool: {send.path} answered {answer}")
                record.acknowledged(ack_of(answer.body))
    return pool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hammer",
        description="Concurrent random valid and invalid commands against the API, with invariant checks.",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients send (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="client n draws from random.Random(seed + n)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--engagements", type=int, default=4, help="the shared pool's size (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="API processes on PostgreSQL (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    postgres = args.store == "postgres"
    setup = (
        f"`ledger serve --workers {args.workers}` and `ledger worker` on PostgreSQL"
        if postgres
        else "`ledger serve` on SQLite, projections in-process"
    )
    title = (
        f"Randomized hammer: seed {args.seed}, {args.clients} clients, {args.seconds:g} s, "
        f"{args.engagements} shared engagements; {setup}"
    )
    print("\n".join(machine.machine(postgres_version() if postgres else None)), flush=True)
    with postgres_store() if postgres else sqlite_store() as store:
        found = hammer(
            store.env, args.seconds, args.seed, args.clients, args.engagements, args.workers, title
        )
    print("\n".join(found.lines()))
    print(
        "deterministic given the seed only as far as concurrency allows: each client's choices follow "
        "its random.Random(seed + n) and the answers it got, which depend on how requests interleave"
    )
    print(machine.load_average("at the end"))
    return 0 if found.ok else 1


if __name__ == "__main__":
    sys.exit(main())
