"""What routes depend on, named with ``Annotated``: the ledger, the read models, who asks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http.auth import InvalidToken, Principal, Role
from api.http.settings import HttpSettings
from domain.service import Ledger
from projections.db import ProjectionDB

_bearer = HTTPBearer(auto_error=False, description="A token from `ledger token` or the identity provider")

# The dependencies below are ``async``: they read the app's state and check a token, never
# block, and so take no turn in the thread pool (a hop there costs more than all they do).


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def _db(request: Request) -> ProjectionDB:
    db: ProjectionDB = request.app.state.db
    return db


async def _settings(request: Request) -> HttpSettings:
    settings: HttpSettings = request.app.state.settings
    return settings


async def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers=challenge)
    try:
        principal: Principal = request.app.state.tokens.check(credentials.credentials)
    except InvalidToken as error:
        raise HTTPException(401, f"the token was refused: {error}", headers=challenge) from None
    return principal


async def _anyone(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """No token needed; but a token given must be ours, as on every other route."""
    return None if credentials is None else await _principal(request, credentials)


async def _pmo(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if principal.role is not Role.PMO:
        raise HTTPException(403, "only PMO staff record changes")
    return principal


async def _staff(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if principal.role is Role.CLIENT:
        raise HTTPException(403, "PMO staff and auditors only")
    return principal


LedgerDep = Annotated[Ledger, Depends(_ledger)]
ReadModels = Annotated[ProjectionDB, Depends(_db)]
Settings = Annotated[HttpSettings, Depends(_settings)]
Reader = Annotated[Principal, Depends(_principal)]
Anyone = Annotated[Principal | None, Depends(_anyone)]
Staff = Annotated[Principal, Depends(_staff)]
Pmo = Annotated[Principal, Depends(_pmo)]
