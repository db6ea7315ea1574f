"""Small value types of the PMO's vocabulary: states, statuses, slip causes, keys and codes."""

from __future__ import annotations

import functools
import re
import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

ENGAGEMENT_NAMESPACE = uuid.UUID("6f1c2f43-57a5-4d9a-9a57-1b8e0f6c2d10")

EngagementCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$"),
]
"""A short code unique in the ledger, such as ``ACME-ERP``: 2 to 32 letters, digits or hyphens."""

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
"""A key unique within an engagement (a slug such as ``uat-signoff``)."""

PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Text without control characters but tab and line breaks: a NUL cannot be stored in a PostgreSQL
text column (one would stop every projection), and an escape sequence would run in a terminal."""

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=PRINTABLE)
]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000, pattern=PRINTABLE)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]


@functools.lru_cache(maxsize=4096)
def engagement_id(code: str) -> uuid.UUID:
    """The stream id of an engagement: derived from its code, so a code names one stream
    (remembered for the codes most asked for: every command and read derives it)."""
    return uuid.uuid5(ENGAGEMENT_NAMESPACE, code.strip().upper())


def slugify(title: str) -> str:
    """A key made from a title: lower case, hyphens, at most 48 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].strip("-")
    return slug or "item"


def unique_key(title: str, taken: set[str] | frozenset[str]) -> str:
    """A slug of ``title`` not in ``taken``: ``uat``, then ``uat-2``, ``uat-3`` ..."""
    base = slugify(title)
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


class EngagementState(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    CLOSED = "closed"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    ACHIEVED = "achieved"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


class SlipCause(StrEnum):
    CLIENT_DEPENDENCY = "client_dependency"
    VENDOR_DELAY = "vendor_delay"
    SCOPE_CHANGE = "scope_change"
    RESOURCE_CONSTRAINT = "resource_constraint"
    TECHNICAL_ISSUE = "technical_issue"
    THIRD_PARTY = "third_party"
    ESTIMATION = "estimation"
    EXTERNAL_EVENT = "external_event"
    OTHER = "other"


class ResponsibleParty(StrEnum):
    CLIENT = "client"
    VENDOR = "vendor"
    PMO = "pmo"
    THIRD_PARTY = "third_party"
