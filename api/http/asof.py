"""As-of routes: an engagement, its slip timeline and its change log as the ledger knew them then.

Each answers what its live route (``/engagements/{code}``, ``.../slips``, ``.../changelog``)
answered when the engagement stood at that version, rebuilt from the events by
``replay.asof``, never read from today's read models. The point is ``version=N`` or ``at=TIME``
(the latest version recorded at or before it), never both; the version answered is the
``ETag``, as on the live routes. Access is as live: staff see any engagement, a client its
own (another's answers 404 like one that does not exist), and the change log is the client
view for everyone: no internal notes, no staffing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.http import examples, problems
from api.http.auth import Role
from api.http.commands import Code
from api.http.deps import LedgerDep, Reader
from api.http.exports import CHANGELOG_COLUMNS, Instant
from api.http.reading import fence
from api.http.recording import etag
from api.http.schemas import Change, Page, Slips
from api.http.tabular import DEFAULT_LIMIT, After, item
from projections.slips import attributed, series_of
from replay.asof import History

router = APIRouter(tags=["as-of"], responses=problems.ANY_ROUTE)

Version = Annotated[
    int | None, Query(ge=1, le=2**62, description="the engagement as it stood at this version")
]
At = Annotated[
    Instant | None,
    Query(description="the engagement as it stood at this recorded time (ISO 8601; UTC if no zone)"),
]
CHANGELOG_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": examples.CHANGELOG[200]["content"]["application/json"]}}
}
"""The live change log's JSON example: an as-of page has its shape (and no CSV form)."""
PageSize = Annotated[int, Query(ge=1, le=1000, description=f"rows per page (default {DEFAULT_LIMIT})")]


@dataclass(frozen=True)
class Then:
    """An engagement's history, the version asked for, and whether a client asks."""

    history: History
    version: int
    client: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"ETag": etag(self.version)}


def _then(code: Code, ledger: LedgerDep, principal: Reader, version: Version = None, at: At = None) -> Then:
    """The history, if ``principal`` may see it (else 404, saying nothing more), and the version named."""
    history = History.find(ledger, code)
    fence(None if history is None else history.client_id, code, principal)
    assert history is not None  # the fence let it through
    return Then(history, history.point(version, at), principal.role is Role.CLIENT)


AsOf = Annotated[Then, Depends(_then)]


def status_body(history: History, version: int, client: bool = False) -> dict[str, Any]:
    """What ``GET /engagements/{code}`` answers (``client``: to a client), as of ``version``."""
    status = history.status(version)
    status = status.for_a_client() if client else status
    return {
        **status.engagement,
        "milestones": status.milestones,
        "scope": status.scope,
        "tasks": status.tasks,
    }


def slips_body(history: History, version: int) -> Slips:
    """What ``GET /engagements/{code}/slips`` answers, as of ``version``."""
    rows = history.slips(version)
    return Slips.model_validate({"history": rows, "mta": series_of(rows), "attribution": attributed(rows)})


def changelog_body(history: History, version: int, after: int, limit: int) -> dict[str, Any]:
    """A page of what ``GET /engagements/{code}/changelog`` answers, as of ``version``."""
    page = history.changelog(version, after, limit)
    return {"items": [item(r, CHANGELOG_COLUMNS) for r in page.rows], "next_after": page.next_after}


def document(history: History, version: int) -> dict[str, Any]:
    """All three as of ``version``, the change log whole: what ``ledger as-of --json`` prints."""
    changes: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = changelog_body(history, version, after, 1000)
        changes += page["items"]
        after = page["next_after"]
    return {
        "engagement": status_body(history, version),
        "slips": slips_body(history, version).model_dump(mode="json"),
        "changelog": changes,
    }


@router.get(
    "/engagements/{code}/as-of",
    summary="An engagement's status as it stood at a version or a recorded time",
    description="The body `GET /engagements/{code}` answered then; its `version`, `last_position`"
    " and `last_changed_at` say which event it stands at.",
)
def engagement_as_of(then: AsOf) -> Response:
    return JSONResponse(status_body(then.history, then.version, then.client), headers=then.headers)


@router.get(
    "/engagements/{code}/as-of/slips",
    summary="The slip timeline (moves, MTA lines, attribution) as it stood at a version or a time",
    responses=examples.SLIPS,
)
def slips_as_of(then: AsOf, response: Response) -> Slips:
    response.headers.update(then.headers)
    return slips_body(then.history, then.version)


@router.get(
    "/engagements/{code}/as-of/changelog",
    summary="A page of the client-visible change log as it stood at a version or a time",
    description="Paged by log position like the live change log (`after`, `limit`, `next_after`);"
    " a page reads only its own stretch of the engagement's events.",
    response_model=Page[Change],
    responses=CHANGELOG_PAGE,
)
def changelog_as_of(then: AsOf, after: After = 0, limit: PageSize = DEFAULT_LIMIT) -> Response:
    body = changelog_body(then.history, then.version, after, limit)
    return Response(orjson.dumps(body), media_type="application/json", headers=then.headers)
