"""What happened: every answer, acknowledged write and check, shared by the threads."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bench.hammer.sends import JSON, PROBLEM, PROBLEM_FIELDS, TIMEOUT, Answer, Send


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
