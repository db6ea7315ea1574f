"""Query routes: read the projections, for every role, showing each only what is theirs."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.http import examples, problems
from api.http.deps import Reader, ReadModels
from api.http.reading import Seen, Visible, visible_status
from api.http.recording import etag
from api.http.schemas import Milestone, Slips
from projections.slips import attributed, series_of, slip_history
from projections.status import portfolio_async

__all__ = ["Seen", "Visible", "router", "visible_status"]

router = APIRouter(tags=["queries"], responses=problems.ANY_ROUTE)


PORTFOLIO_PAGE = 500
"""Engagements per page of the portfolio, unless ``limit`` says otherwise (at most 5,000)."""
AfterCode = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$", description="the last code of the page before"),
]
Limit = Annotated[int, Query(ge=1, le=5000, description="engagements per page")]


@router.get(
    "/engagements",
    summary="The portfolio: every engagement you may see, with its health",
    description="By code, a page at a time: while more follow, the `Link` header names the next"
    ' page (`rel="next"`), whose `after` is the last code of this one.',
    response_model=list[dict[str, Any]],
)
async def list_engagements(
    request: Request, principal: Reader, _: Seen, after: AfterCode = None, limit: Limit = PORTFOLIO_PAGE
) -> Response:
    found = await portfolio_async(request.app.state.db, principal.client_id, after, limit + 1)
    if len(found) <= limit:
        return _json(found)
    following = f'</engagements?after={found[limit - 1]["code"]}&limit={limit}>; rel="next"'
    return _json(found[:limit], headers={"Link": following})


@router.get("/engagements/{code}", summary="An engagement's current status (its version is the ETag)")
async def get_engagement(status: Visible) -> Response:
    body = {
        **status.engagement,
        "milestones": status.milestones,
        "scope": status.scope,
        "tasks": status.tasks,
    }
    return _json(body, headers={"ETag": etag(status.engagement["version"])})


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON, by orjson: rows of the read models, already of JSON's types."""
    return Response(orjson.dumps(body), headers=headers, media_type="application/json")


@router.get(
    "/engagements/{code}/milestones",
    summary="Milestones with baseline, forecast, actual, and slip against the current and original baseline",
    responses=examples.MILESTONES,
)
def list_milestones(status: Visible, response: Response) -> list[Milestone]:
    response.headers["ETag"] = etag(status.engagement["version"])
    return [Milestone.model_validate(m) for m in status.milestones]


@router.get(
    "/engagements/{code}/slips",
    summary="The slip timeline: every dated move, the MTA chart's lines, and whose fault each slip was",
    responses=examples.SLIPS,
)
def slips(status: Visible, db: ReadModels, response: Response) -> Slips:
    history = slip_history(db, status.engagement["engagement_id"])  # one read for all three views
    response.headers["ETag"] = etag(status.engagement["version"])
    views = {"history": history, "mta": series_of(history), "attribution": attributed(history)}
    return Slips.model_validate(views)
