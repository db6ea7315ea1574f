"""Bearer tokens (JWT): who is asking and in which role; the actor of every event is the subject."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from api.http.settings import HttpSettings


class Role(StrEnum):
    PMO = "pmo"
    AUDITOR = "auditor"
    CLIENT = "client"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    client_id: str | None = None

    def may_see(self, client_id: str) -> bool:
        """Staff see every client's engagements; a client only its own."""
        return self.role is not Role.CLIENT or self.client_id == client_id


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired, or not signed by our key."""


class Tokens:
    """Issues (HS256) and checks tokens. With a public key, only RS256 tokens are accepted."""

    checked_capacity = 10_000
    """Tokens remembered as verified (a client sends the same token with every request)."""

    def __init__(self, settings: HttpSettings) -> None:
        self._checked: dict[str, tuple[Principal, float]] = {}
        if settings.jwt_public_key:
            self._key: str = settings.jwt_public_key
            self._algorithm = "RS256"
        else:
            self._key = settings.secret().get_secret_value()
            self._algorithm = "HS256"

    def issue(self, sub: str, role: Role, client_id: str | None = None, ttl: int = 8 * 3600) -> str:
        if self._algorithm != "HS256":
            raise InvalidToken("tokens are issued by the identity provider in this set-up")
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "role": role.value, "iat": now, "nbf": now, "exp": now + ttl}
        if client_id is not None:
            claims["client_id"] = client_id
        return jwt.encode(claims, self._key, algorithm=self._algorithm)

    def check(self, token: str) -> Principal:
        """Who the token names. A token verified before is trusted again until it expires: its
        signature check costs more than the rest of a small read."""
        known = self._checked.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = self._verify(token)
        if len(self._checked) >= self.checked_capacity:
            self._checked.clear()
        self._checked[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[self._algorithm], options={"require": ["sub", "role", "exp"]}
            )
            role = Role(claims["role"])
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidToken(str(error)) from None
        client_id = claims.get("client_id")
        if role is Role.CLIENT and not isinstance(client_id, str):
            raise InvalidToken("a client token needs a client_id claim")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidToken("the subject must be a name")
        client = client_id if role is Role.CLIENT else None
        return Principal(sub=claims["sub"], role=role, client_id=client), float(claims["exp"])
