"""The auditor's as-of view: an engagement as the ledger knew it at a recorded time or a version.

Rebuilt from the stored events by ``replay.asof.History``, as the API's as-of routes rebuild
it, never read from today's read models. A point the history does not have (a version past the
last, a time before the engagement was opened, both or neither named) is said in words beside
the form, with the status the API would answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import TypeAdapter, ValidationError

from api.http.exports import Instant
from api.http.ui.forms import Refusal, refusal_of
from domain.errors import RuleViolation
from domain.service import Ledger
from projections.status import EngagementStatus
from replay.asof import History

_INSTANT: TypeAdapter[Instant] = TypeAdapter(Instant)


@dataclass(frozen=True)
class Asked:
    """The point typed into the as-of form: a time (``2026-03-16T10:30``, UTC) or a version."""

    at: str = ""
    version: str = ""

    @property
    def given(self) -> bool:
        return bool(self.at or self.version)


def _asked(
    at: Annotated[str, Query(max_length=40)] = "", version: Annotated[str, Query(max_length=20)] = ""
) -> Asked:
    return Asked(at.strip(), version.strip())


AskedDep = Annotated[Asked, Depends(_asked)]


@dataclass(frozen=True)
class Then:
    """The engagement at one version of its history, and where that version lies in it."""

    version: int
    current: int
    status: EngagementStatus


def as_of(ledger: Ledger, code: str, asked: Asked) -> Then | Refusal:
    """The engagement at the point ``asked`` names, or why there is no such point."""
    if not asked.version.isdigit() and asked.version:
        return Refusal("asof", 422, "A version is a whole number.", f"{asked.version!r} is not one.",
                       "InvalidInput")  # fmt: skip
    try:
        at = _INSTANT.validate_python(asked.at) if asked.at else None
    except ValidationError:
        return Refusal("asof", 422, "That is not a date and time.",
                       "Give one such as 2026-03-16T10:30 (UTC).", "InvalidInput")  # fmt: skip
    history = History.of(ledger, code)
    try:
        version = history.point(int(asked.version) if asked.version else None, at)
    except RuleViolation as error:
        return refusal_of("asof", error)
    return Then(version, history.current, history.status(version))
