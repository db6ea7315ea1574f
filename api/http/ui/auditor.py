"""The auditor's view of an engagement (PMO staff and auditors), on one page:

- **as of**: the engagement as the ledger knew it at a time or a version, stepped through
  version by version (``api.http.ui.then``);
- **ledger integrity**: the latest signed checkpoints and a "verify now" button, which runs the
  API's own verify (every stored event rehashed against the Merkle log and the checkpoints);
- **the audit trail**, filtered and paged as the API pages it, internal notes included, and as
  a CSV download.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.http import integrity
from api.http.commands import Code
from api.http.deps import LedgerDep, ReadModels
from api.http.exports import AUDIT_COLUMNS
from api.http.reading import Seen, visible_status
from api.http.tabular import Paging, item
from api.http.ui.forms import Refusal
from api.http.ui.reads import CATEGORIES, After, TrailFilter
from api.http.ui.rendering import page
from api.http.ui.session import CsrfChecked, StaffViewer, Viewer
from api.http.ui.then import Asked, AskedDep, as_of
from domain.service import Ledger
from projections.audit import AuditFilter, audit_page
from projections.db import ProjectionDB

router = APIRouter()

PAGE_ROWS = 100
CHECKPOINTS_SHOWN = 8


def _audit_page(
    request: Request, viewer: Viewer, db: ProjectionDB, ledger: Ledger, code: str, asked: AuditFilter,
    after: int, point: Asked, **context: Any,
) -> Response:  # fmt: skip
    e = visible_status(db, code, viewer.principal).engagement
    rows = audit_page(db, replace(asked, engagement_id=e["engagement_id"]), after, PAGE_ROWS + 1)
    more = rows[PAGE_ROWS - 1]["position"] if len(rows) > PAGE_ROWS else None
    found = as_of(ledger, code, point) if point.given else None
    refused = found if isinstance(found, Refusal) else None
    taken = integrity.list_checkpoints(viewer.principal, db)
    return page(
        request, "audit.html", refused.status if refused else 200, viewer=viewer, e=e, tab="audit",
        trail=[item(r, AUDIT_COLUMNS) for r in rows[:PAGE_ROWS]], asked=asked, next_after=more,
        categories=CATEGORIES, point=point, then=None if refused else found, refused=refused,
        checkpoints=taken[::-1][:CHECKPOINTS_SHOWN], checkpoints_total=len(taken), **context,
    )  # fmt: skip


@router.get("/ui/engagements/{code}/audit", response_class=HTMLResponse)
def audit_view(
    request: Request, viewer: StaffViewer, db: ReadModels, ledger: LedgerDep, code: Code, asked: TrailFilter,
    point: AskedDep, _: Seen, after: After = 0,
) -> Response:  # fmt: skip
    return _audit_page(request, viewer, db, ledger, code, asked, after, point)


@router.post("/ui/engagements/{code}/audit/verify", response_class=HTMLResponse)
def verify_now(
    request: Request, _: CsrfChecked, viewer: StaffViewer, db: ReadModels, ledger: LedgerDep, code: Code
) -> Response:
    """Run the API's verify and show its verdict on the page (nothing is recorded)."""
    verdict = integrity.verify_now(request, viewer.principal, ledger, db, integrity.VerifyRequest())
    return _audit_page(request, viewer, db, ledger, code, AuditFilter(), 0, Asked(), verdict=verdict)


@router.get("/ui/engagements/{code}/audit.csv")
def audit_csv(viewer: StaffViewer, db: ReadModels, code: Code, asked: TrailFilter) -> Response:
    e = visible_status(db, code, viewer.principal).engagement
    where = replace(asked, engagement_id=e["engagement_id"])
    return Paging("csv", 0, None).answer(db, where, AUDIT_COLUMNS, f"{e['code']}-audit.csv")
