"""What the pages ask of the read models beyond the API's queries: filters typed in a form, and the
newest changes first.

A form sends a field it leaves blank as an empty string; here blank means "no filter". Dates
are read exactly as the API reads them (``exports.Instant``); an ``until`` that is a date alone
takes in that whole day, as a person picking "to 31 March" means.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, get_args

from fastapi import Depends, Query
from pydantic import TypeAdapter

from api.http.exports import Instant
from api.http.problems import Problem
from api.http.schemas import Category
from projections.audit import AuditFilter, for_a_client
from projections.db import ProjectionDB, Row

CATEGORIES = get_args(Category)
_INSTANT: TypeAdapter[Instant] = TypeAdapter(Instant)
_CATEGORY: TypeAdapter[Category] = TypeAdapter(Category)

Field = Annotated[str, Query(max_length=200)]


def _changes(since: Field = "", until: Field = "", category: Field = "") -> AuditFilter:
    start = _INSTANT.validate_python(since.strip()) if since.strip() else None
    end = _INSTANT.validate_python(until.strip()) if until.strip() else None
    if end is not None and len(until.strip()) == len("2026-03-31"):
        end += timedelta(days=1)
    if start is not None and end is not None and start >= end:
        raise Problem(422, "InvalidTimeRange", "the first day must not come after the last")
    kind = _CATEGORY.validate_python(category) if category else None
    return AuditFilter(since=start, until=end, category=kind)


def _trail(
    changes: Annotated[AuditFilter, Depends(_changes)], actor: Field = "", subject: Field = ""
) -> AuditFilter:
    return AuditFilter(
        since=changes.since, until=changes.until, category=changes.category,
        actor=actor.strip() or None, subject=subject.strip() or None,
    )  # fmt: skip


ChangeFilter = Annotated[AuditFilter, Depends(_changes)]
TrailFilter = Annotated[AuditFilter, Depends(_trail)]
After = Annotated[int, Query(ge=0, le=2**62)]


def latest_changes(db: ProjectionDB, where: AuditFilter, limit: int) -> list[Row]:
    """The newest ``limit`` rows of the trail matching ``where``, newest first.

    The trail's own query (``audit_page``) pages forward from a position; a page's "recent
    changes" box wants the end, so the same filter is read backwards.
    """
    clauses, params = where.where()
    rows = db.query(
        f"SELECT * FROM audit_trail WHERE {clauses} ORDER BY position DESC LIMIT %s", [0, *params, limit]
    )
    if where.client_view:
        for r in rows:
            for_a_client(r)
    return rows
