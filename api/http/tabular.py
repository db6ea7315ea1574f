"""Audit-trail rows out as a JSON page or a CSV download: keyset paging and spreadsheet-safe cells.

Paging is by log position: ``after`` (default 0) and ``limit``. A JSON page holds at most
``limit`` rows (default 100) and ``next_after``, the last position of the page when more rows
follow (else null). A CSV download is streamed, read from the trail a thousand rows at a time:
every matching row after ``after``, or at most ``limit`` if it is given.

A CSV text cell a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading single quote (the OWASP advice for
CSV injection). Numbers are written as numbers: only text is ever quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, Query, Response
from fastapi.responses import StreamingResponse

from projections.audit import AuditFilter, audit_page
from projections.db import ProjectionDB, Row

DEFAULT_LIMIT = 100
CSV_BATCH = 1000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_JSON_COLUMNS = frozenset({"before", "after"})


def cell(value: Any) -> Any:
    """``value`` as a spreadsheet should see it: text that would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def item(row: Row, columns: Sequence[str]) -> dict[str, Any]:
    """A JSON item of ``row``: its ``columns``, before and after as objects, visibility as a boolean."""
    found = {c: row[c] for c in columns}
    for name in _JSON_COLUMNS.intersection(found):
        found[name] = found[name] and orjson.loads(found[name])
    if "client_visible" in found:
        found["client_visible"] = bool(found["client_visible"])
    return found


def json_page(db: ProjectionDB, where: AuditFilter, after: int, limit: int, columns: Sequence[str]) -> bytes:
    rows = audit_page(db, where, after, limit + 1)  # one more says whether another page follows
    page = rows[:limit]
    next_after = page[-1]["position"] if len(rows) > limit else None
    return orjson.dumps({"items": [item(r, columns) for r in page], "next_after": next_after})


def csv_lines(
    db: ProjectionDB, where: AuditFilter, after: int, limit: int | None, columns: Sequence[str]
) -> Iterator[str]:
    """The header line, then the rows, a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    left = limit if limit is not None else 2**62
    while left > 0:
        wanted = min(CSV_BATCH, left)
        rows = audit_page(db, where, after, wanted)
        writer.writerows([cell(r[c]) for c in columns] for r in rows)
        yield _drained(buffer)
        if len(rows) < wanted:
            return
        after, left = rows[-1]["position"], left - len(rows)


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


@dataclass(frozen=True)
class Paging:
    """How the rows are asked for: which format, from which position, how many."""

    format: Literal["json", "csv"]
    after: int
    limit: int | None

    def answer(
        self, db: ProjectionDB, where: AuditFilter, columns: Sequence[str], filename: str, **headers: str
    ) -> Response:
        if self.format == "json":
            body = json_page(db, where, self.after, self.limit or DEFAULT_LIMIT, columns)
            return Response(body, media_type="application/json", headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        lines = csv_lines(db, where, self.after, self.limit, columns)
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


Format = Annotated[Literal["json", "csv"], Query(description="`json` (a page) or `csv` (a download)")]
After = Annotated[int, Query(ge=0, le=2**62, description="only rows after this log position")]
Limit = Annotated[
    int | None,
    Query(ge=1, le=1000, description=f"rows per JSON page (default {DEFAULT_LIMIT}); CSV: all unless given"),
]


def _paging(format: Format = "json", after: After = 0, limit: Limit = None) -> Paging:
    return Paging(format, after, limit)


PagingDep = Annotated[Paging, Depends(_paging)]
