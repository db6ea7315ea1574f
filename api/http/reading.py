"""What every query depends on: read-your-writes (``min_position``) and the fence around a client.

An engagement a client may not see answers 404 exactly like one that does not exist, so a
client's token learns nothing about other clients' codes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from api.http.commands import Code
from api.http.deps import LedgerDep, Reader, ReadModels, Settings
from api.http.problems import Problem
from projections import positions
from projections.registry import all_projections
from projections.status import engagement_status


def _seen(
    db: ReadModels,
    ledger: LedgerDep,
    settings: Settings,
    min_position: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="wait (bounded) until the projections saw this position"),
    ] = None,
) -> None:
    """Read-your-writes: wait until the projections have seen ``min_position``.

    A position no event has been recorded at is refused at once: no wait could reach it.
    """
    if not min_position:
        return
    if min_position > (ledger.recorder.max_notification_id() or 0):
        raise Problem(422, "PositionNotRecorded", f"no event has been recorded at position {min_position}")
    names = [p.name for p in all_projections()]
    if not positions.wait_until(db, names, min_position, settings.read_wait_seconds):
        raise Problem(503, "ProjectionBehind", f"the projections have not reached {min_position} yet",
                      headers={"Retry-After": "1"})  # fmt: skip


Seen = Annotated[None, Depends(_seen)]


def visible_status(db: ReadModels, code: Code, principal: Reader, _: Seen) -> Any:
    """The engagement's status, if it exists and ``principal`` may see it (else 404, saying nothing more).

    Who asks is checked first, then the wait for ``min_position``, then the read: an engagement
    opened by a write of one's own is found once the projections have seen it.
    """
    status = engagement_status(db, code)
    if status is None or not principal.may_see(status.engagement["client_id"]):
        raise Problem(404, "EngagementNotFound", f"no engagement {code.upper()} that you may see")
    return status


Visible = Annotated[Any, Depends(visible_status)]
