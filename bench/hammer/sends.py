"""What is sent, and what may come back: requests, their expected answers, and a client's dice."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson

from domain.values import ResponsibleParty, SlipCause

START, END = date(2025, 1, 6), date(2025, 12, 19)
"""Every engagement's plan: dates in the past of the real clock, so none is refused as future."""
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "rule"}
TIMEOUT = 30.0
"""A request unanswered this long is a violation: the API must answer, if only with a 503."""

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

READS = ("status", "portfolio", "slips", "change log", "audit", "another client's change log")


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
