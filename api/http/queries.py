"""Query routes: read the projections, for every role, showing each only what is theirs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.http.commands import Code
from api.http.deps import Reader, ReadModels, Settings
from api.http.problems import Problem
from api.http.recording import etag
from projections import positions
from projections.registry import all_projections
from projections.status import engagement_status, portfolio

router = APIRouter(tags=["queries"])


def _seen(
    db: ReadModels,
    settings: Settings,
    min_position: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="wait (bounded) until the projections saw this position"),
    ] = None,
) -> None:
    """Read-your-writes: wait until the projections have seen ``min_position``."""
    names = [p.name for p in all_projections()]
    if min_position and not positions.wait_until(db, names, min_position, settings.read_wait_seconds):
        raise Problem(503, "ProjectionBehind", f"the projections have not reached {min_position} yet",
                      headers={"Retry-After": "1"})  # fmt: skip


Seen = Annotated[None, Depends(_seen)]


def visible_status(db: ReadModels, code: Code, principal: Reader) -> Any:
    """The engagement's status, if it exists and ``principal`` may see it (else 404, saying nothing more)."""
    status = engagement_status(db, code)
    if status is None or not principal.may_see(status.engagement["client_id"]):
        raise Problem(404, "EngagementNotFound", f"no engagement {code.upper()} that you may see")
    return status


Visible = Annotated[Any, Depends(visible_status)]


@router.get("/engagements", summary="The portfolio: every engagement you may see, with its health")
def list_engagements(db: ReadModels, principal: Reader, _: Seen) -> list[dict[str, Any]]:
    return portfolio(db, principal.client_id)


@router.get("/engagements/{code}", summary="An engagement's current status (its version is the ETag)")
def get_engagement(status: Visible, _: Seen) -> Response:
    body = {
        **status.engagement,
        "milestones": status.milestones,
        "scope": status.scope,
        "tasks": status.tasks,
    }
    return JSONResponse(body, headers={"ETag": etag(status.engagement["version"])})
