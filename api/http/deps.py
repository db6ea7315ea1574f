"""What routes depend on, named with ``Annotated``: the ledger, the read models, who asks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param

from api.http.auth import InvalidToken, Principal, Role
from api.http.settings import HttpSettings
from domain.service import Ledger
from projections.db import ProjectionDB

_CHALLENGE = {"WWW-Authenticate": "Bearer"}

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


class _Bearer(SecurityBase):
    """Who asks, from the bearer token, if their role is one of ``roles``; documented as the one
    security scheme ``HTTPBearer``. One dependency, not three (the header, the token, the role):
    FastAPI's work for each dependency of a request is a fair share of a small read's cost."""

    def __init__(
        self, roles: frozenset[Role] = frozenset(Role), refusal: str = "", required: bool = True
    ) -> None:
        self.model = HTTPBearerModel(description="A token from `ledger token` or the identity provider")
        self.scheme_name = "HTTPBearer"
        self.roles, self.refusal, self.required = roles, refusal, required

    async def __call__(self, request: Request) -> Principal | None:
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not token:
            if self.required:
                raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
            return None  # no token needed; but a token given must be ours, as on every other route
        try:
            principal: Principal = request.app.state.tokens.check(token)
        except InvalidToken as error:
            raise HTTPException(401, f"the token was refused: {error}", headers=_CHALLENGE) from None
        if principal.role not in self.roles:
            raise HTTPException(403, self.refusal)
        return principal


_STAFF = frozenset({Role.PMO, Role.AUDITOR})

LedgerDep = Annotated[Ledger, Depends(_ledger)]
ReadModels = Annotated[ProjectionDB, Depends(_db)]
Settings = Annotated[HttpSettings, Depends(_settings)]
Reader = Annotated[Principal, Depends(_Bearer())]
Anyone = Annotated[Principal | None, Depends(_Bearer(required=False))]
Staff = Annotated[Principal, Depends(_Bearer(_STAFF, "PMO staff and auditors only"))]
Pmo = Annotated[Principal, Depends(_Bearer(frozenset({Role.PMO}), "only PMO staff record changes"))]
