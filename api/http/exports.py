"""Change-log and audit-trail routes: what a client may see, and everything for staff, as JSON or CSV.

Filters are bound parameters of one SQL statement written in ``projections.audit``; a value that
cannot be a filter (a bad date, an unknown category, a limit out of range) is a 422 problem.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import PlainValidator, WithJsonSchema

from api.http import examples, problems
from api.http.auth import Role
from api.http.deps import Reader, ReadModels, Staff
from api.http.problems import Problem
from api.http.reading import Seen, Visible
from api.http.recording import etag
from api.http.schemas import Category
from api.http.tabular import PagingDep
from domain.values import engagement_id
from projections import audit

router = APIRouter(tags=["queries"], responses=problems.ANY_ROUTE)

CHANGELOG_COLUMNS = (
    "position", "recorded_at", "effective_on", "type", "category", "subject", "summary", "before",
    "after", "reason", "change_ref", "actor",
)  # fmt: skip
AUDIT_COLUMNS = audit.COLUMNS
CLIENT_AUDIT_COLUMNS = tuple(c for c in AUDIT_COLUMNS if c != "internal_note")


ISO_INSTANT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)


def _instant(text: Any) -> datetime:
    """An ISO-8601 date or time, in UTC (no zone given means UTC): the trail stores UTC text."""
    if not isinstance(text, str) or not re.fullmatch(ISO_INSTANT, text):
        raise ValueError("expected an ISO 8601 date or time, such as 2026-03-16 or 2026-03-16T10:30:00Z")
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None


# Only ISO text, never a number of seconds: what the schema says is what is accepted.
Instant = Annotated[
    datetime, PlainValidator(_instant), WithJsonSchema({"type": "string", "pattern": ISO_INSTANT})
]
Since = Annotated[Instant | None, Query(description="recorded at or after (ISO 8601; UTC if no zone)")]
Until = Annotated[Instant | None, Query(description="recorded before (ISO 8601; UTC if no zone)")]


def _changes(
    since: Since = None,
    until: Until = None,
    category: Annotated[Category | None, Query(description="only this kind of change")] = None,
) -> audit.AuditFilter:
    if since is not None and until is not None and since > until:
        raise Problem(422, "InvalidTimeRange", "since must not come after until")
    return audit.AuditFilter(since=since, until=until, category=category)


ChangeFilter = Annotated[audit.AuditFilter, Depends(_changes)]


Actor = Annotated[
    str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="who recorded it")
]
Subject = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
        description="a scope item, milestone or task key, or the code",
    ),
]


def _trail(asked: ChangeFilter, actor: Actor = None, subject: Subject = None) -> audit.AuditFilter:
    return replace(asked, actor=actor, subject=subject)


TrailFilter = Annotated[audit.AuditFilter, Depends(_trail)]
EngagementCode = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$", description="only this engagement")
]


@router.get(
    "/engagements/{code}/changelog",
    summary="The client-visible change log, as a JSON page or a CSV download",
    description="What the client sees, for every role: no internal notes, no staffing changes.",
    response_model=None,
    responses=examples.CHANGELOG,
)
def changelog(status: Visible, asked: ChangeFilter, paging: PagingDep, db: ReadModels) -> Response:
    e = status.engagement
    where = replace(asked, engagement_id=e["engagement_id"], client_view=True)
    return paging.answer(db, where, CHANGELOG_COLUMNS, f"{e['code']}-changelog.csv", ETag=etag(e["version"]))


@router.get(
    "/engagements/{code}/audit",
    summary="An engagement's audit trail, as a JSON page or a CSV download",
    description=examples.ENGAGEMENT_AUDIT_ACCESS,
    response_model=None,
    responses=examples.AUDIT,
)
def engagement_audit(
    status: Visible, principal: Reader, asked: TrailFilter, paging: PagingDep, db: ReadModels
) -> Response:
    e, client = status.engagement, principal.role is Role.CLIENT
    where = replace(asked, engagement_id=e["engagement_id"], client_view=client)
    columns = CLIENT_AUDIT_COLUMNS if client else AUDIT_COLUMNS
    return paging.answer(db, where, columns, f"{e['code']}-audit.csv", ETag=etag(e["version"]))


@router.get(
    "/audit",
    summary="The ledger-wide audit trail (pmo and auditors), as a JSON page or a CSV download",
    description="Every event of every engagement in log order, internal notes included; `code` narrows it"
    " to one engagement. Staff only: a client's token is refused (403) and reads its own engagements'"
    " trails under `/engagements/{code}/audit`.",
    response_model=None,
    responses=examples.AUDIT,
)
def ledger_audit(
    staff: Staff, _: Seen, asked: TrailFilter, paging: PagingDep, db: ReadModels, code: EngagementCode = None
) -> Response:
    where = replace(asked, engagement_id=code and str(engagement_id(code)))
    return paging.answer(db, where, AUDIT_COLUMNS, "audit.csv")
