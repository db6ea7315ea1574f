"""The pages everyone signed in may read: portfolio, engagement status, slip timeline, change log.

Each reads through the functions the API's query routes use (``portfolio``,
``visible_status``, ``slip_history``, ``audit_page``, the CSV writer of ``tabular``): a page
shows a principal exactly what the API would answer their token, laid out for people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.http import integrity
from api.http.commands import Code
from api.http.deps import LedgerDep, ReadModels, Settings
from api.http.exports import CHANGELOG_COLUMNS
from api.http.queries import AfterCode
from api.http.reading import Seen, visible_status
from api.http.tabular import Paging
from api.http.ui.charts import Charts
from api.http.ui.reads import CATEGORIES, After, ChangeFilter, latest_changes
from api.http.ui.rendering import PRIVATE, page
from api.http.ui.session import Signed, Viewer
from projections.audit import AuditFilter, audit_page
from projections.slips import attributed, slip_history
from projections.status import EngagementStatus, portfolio

router = APIRouter()

PAGE_ROWS = 200
RECENT = 8


@dataclass(frozen=True)
class Shown:
    """An engagement the viewer may see, as the status projection has it."""

    viewer: Viewer
    status: EngagementStatus

    @property
    def engagement(self) -> dict[str, Any]:
        return self.status.engagement

    @property
    def client_view(self) -> AuditFilter:
        """What the client may read of this engagement's trail (the change log)."""
        return AuditFilter(engagement_id=self.engagement["engagement_id"], client_view=True)

    def context(self, tab: str) -> dict[str, Any]:
        return {"viewer": self.viewer, "e": self.engagement, "tab": tab}


def _shown(viewer: Signed, db: ReadModels, code: Code, _: Seen) -> Shown:
    """The engagement, if the viewer may see it (else 404, as the API answers), once the
    projections have seen ``min_position`` (a form's own write)."""
    return Shown(viewer, visible_status(db, code, viewer.principal))


ShownDep = Annotated[Shown, Depends(_shown)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The root links the pages for people and the API's documentation for programs."""
    return page(request, "home.html")


@router.get("/ui", response_class=HTMLResponse)
def portfolio_page(
    request: Request, viewer: Signed, db: ReadModels, _: Seen, after: AfterCode = None
) -> Response:
    rows = portfolio(db, viewer.principal.client_id, after, PAGE_ROWS + 1)
    more = rows[PAGE_ROWS - 1]["code"] if len(rows) > PAGE_ROWS else None
    return page(request, "portfolio.html", viewer=viewer, engagements=rows[:PAGE_ROWS], after=after,
                next_after=more)  # fmt: skip


@router.get("/ui/engagements/{code}", response_class=HTMLResponse)
def engagement_page(request: Request, shown: ShownDep, db: ReadModels) -> Response:
    where = shown.client_view if not shown.viewer.is_staff else replace(shown.client_view, client_view=False)
    recent = latest_changes(db, where, RECENT)
    return page(request, "engagement.html", **shown.context("status"), s=shown.status, recent=recent)


def _line_end(shown: Shown) -> datetime:
    """Open milestones' lines run to the engagement's last recorded change (never to the clock)."""
    return datetime.fromisoformat(shown.engagement["last_changed_at"])


@router.get("/ui/engagements/{code}/slips", response_class=HTMLResponse)
def slips_page(request: Request, shown: ShownDep, db: ReadModels) -> Response:
    e, charts = shown.engagement, _charts(request)
    history = slip_history(db, e["engagement_id"])
    charts.watch(e["engagement_id"])
    # each drawn for a laptop's column and for a phone; the stylesheet shows one
    drawn = charts.draw_all(e["engagement_id"], history, _line_end(shown))
    return page(request, "slips.html", **shown.context("slips"), history=history,
                charts={name: chart.decode() for name, chart in drawn.items()},
                attribution=attributed(history))  # fmt: skip


@router.get("/ui/engagements/{code}/slips/{chart}.{kind}")
def chart_download(
    request: Request, shown: ShownDep, db: ReadModels, chart: Literal["mta", "attribution"],
    kind: Literal["svg", "png"],
) -> Response:  # fmt: skip
    e, charts = shown.engagement, _charts(request)
    history = slip_history(db, e["engagement_id"])
    if chart == "mta":
        body = charts.mta(e["engagement_id"], history, _line_end(shown), kind)
    else:
        body = charts.attribution(e["engagement_id"], history, kind)
    media = "image/png" if kind == "png" else "image/svg+xml"
    disposition = f'attachment; filename="{e["code"]}-{chart}.{kind}"'
    return Response(body, media_type=media, headers={**PRIVATE, "Content-Disposition": disposition})


@router.get("/ui/engagements/{code}/changelog", response_class=HTMLResponse)
def changelog_page(
    request: Request, shown: ShownDep, db: ReadModels, asked: ChangeFilter, after: After = 0
) -> Response:
    where = replace(asked, engagement_id=shown.engagement["engagement_id"], client_view=True)
    rows = audit_page(db, where, after, PAGE_ROWS + 1)
    more = rows[PAGE_ROWS - 1]["position"] if len(rows) > PAGE_ROWS else None
    return page(request, "changelog.html", **shown.context("changelog"), rows=rows[:PAGE_ROWS],
                asked=asked, next_after=more, categories=CATEGORIES)  # fmt: skip


@router.get("/ui/engagements/{code}/changelog.csv")
def changelog_csv(shown: ShownDep, db: ReadModels, asked: ChangeFilter) -> Response:
    """The change log as the API's CSV download, with the page's filters."""
    e = shown.engagement
    where = replace(asked, engagement_id=e["engagement_id"], client_view=True)
    return Paging("csv", 0, None).answer(db, where, CHANGELOG_COLUMNS, f"{e['code']}-changelog.csv")


@router.get("/ui/engagements/{code}/bundle")
def bundle_download(
    request: Request, shown: ShownDep, ledger: LedgerDep, db: ReadModels, settings: Settings
) -> Response:
    """The verifiable change-log bundle, as the API's bundle route makes it (a fresh checkpoint,
    an inclusion proof per event), for anyone who may read the change log."""
    code = shown.engagement["code"]
    return integrity.changelog_bundle(request, shown.status, code, ledger, db, settings)


@router.get("/ui/")
def _slash() -> Response:
    return RedirectResponse("/ui", status_code=307)


def _charts(request: Request) -> Charts:
    charts: Charts = request.app.state.ui.charts
    return charts
