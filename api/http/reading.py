"""What every query depends on: read-your-writes (``min_position``) and the fence around a client.

An engagement a client may not see answers 404 exactly like one that does not exist, so a
client's token learns nothing about other clients' codes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.http.auth import Principal, Role
from api.http.commands import Code
from api.http.deps import Reader
from api.http.problems import Problem
from api.http.settings import HttpSettings
from domain.service import Ledger
from projections import positions
from projections.db import ProjectionDB
from projections.registry import all_projections
from projections.status import EngagementStatus, engagement_status, engagement_status_async

MinPosition = Annotated[
    int | None, Query(ge=0, le=2**62, description="wait (bounded) until the projections saw this position")
]


async def _seen(request: Request, min_position: MinPosition = None) -> None:
    """Read-your-writes: wait until the projections have seen ``min_position``.

    ``async``: a read that names no position takes no turn in the thread pool for it.
    """
    if min_position:
        state = request.app.state
        await run_in_threadpool(_wait_to_see, state.ledger, state.db, state.settings, min_position)


def _wait_to_see(ledger: Ledger, db: ProjectionDB, settings: HttpSettings, position: int) -> None:
    """A position no event has been recorded at is refused at once: no wait could reach it."""
    if position > (ledger.recorder.max_notification_id() or 0):
        raise Problem(422, "PositionNotRecorded", f"no event has been recorded at position {position}")
    names = [p.name for p in all_projections()]
    if not positions.wait_until(db, names, position, settings.read_wait_seconds):
        raise Problem(503, "ProjectionBehind", f"the projections have not reached {position} yet",
                      headers={"Retry-After": "1"})  # fmt: skip


Seen = Annotated[None, Depends(_seen)]


def visible_status(db: ProjectionDB, code: str, principal: Principal) -> EngagementStatus:
    """The engagement's status, if it exists and ``principal`` may see it (else 404, saying nothing more)."""
    return _fenced(engagement_status(db, code), code, principal)


async def _visible(
    request: Request, code: Code, principal: Reader, min_position: MinPosition = None
) -> EngagementStatus:
    """``visible_status`` as a route's dependency: on PostgreSQL read in the event loop, no thread.

    Who asks is checked first, then the wait for ``min_position``, then the read: an engagement
    opened by a write of one's own is found once the projections have seen it.
    """
    await _seen(request, min_position)  # called, not a dependency: FastAPI pays for each of those
    return _fenced(await engagement_status_async(request.app.state.db, code), code, principal)


def _fenced(status: EngagementStatus | None, code: str, principal: Principal) -> EngagementStatus:
    fence(None if status is None else status.engagement["client_id"], code, principal)
    assert status is not None  # the fence let it through
    return status.for_a_client() if principal.role is Role.CLIENT else status


def fence(client_id: str | None, code: str, principal: Principal) -> None:
    """404 unless engagement ``code`` exists (its client is ``client_id``) and ``principal`` may see it."""
    if client_id is None or not principal.may_see(client_id):
        raise Problem(404, "EngagementNotFound", f"no engagement {code.upper()} that you may see")


Visible = Annotated[EngagementStatus, Depends(_visible)]
