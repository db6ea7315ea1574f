"""Signing in to the pages: the bearer token kept in a cookie, and a CSRF token derived from it.

The cookie holds the very token the API takes as ``Authorization: Bearer``, and it is checked
by the same ``Tokens.check``: a page sees exactly what the API would show that token. It is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and, over
https, Secure.

Every form that posts carries a CSRF token: an HMAC of the cookie under the server's secret.
Only a page of ours, rendered for this cookie, can know it; a POST without it is refused (403).
The sign-in form has no session yet, so it is bound the same way to a random nonce kept in a
short-lived cookie of its own (a forged sign-in cannot swap in someone else's session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request, Response

from api.http.auth import InvalidToken, Principal, Role
from api.http.problems import Problem
from api.http.settings import HttpSettings

SESSION_COOKIE = "ledger_session"
NONCE_COOKIE = "ledger_sign_in"
NONCE_SECONDS = 3600
PATH = "/ui"


class SignInNeeded(Exception):
    """No session cookie, or one whose token was refused: the browser is sent to sign in."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfKey:
    """The HMAC key of CSRF tokens: derived from the server's secret, read once when first needed."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._key: bytes | None = None

    def token_for(self, session: str) -> str:
        if self._key is None:
            secret = self._settings.secret().get_secret_value().encode()
            self._key = hmac.new(secret, b"ledger-ui-csrf", hashlib.sha256).digest()
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def matches(self, session: str, offered: str) -> bool:
        return bool(session) and hmac.compare_digest(self.token_for(session), offered)


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page, and the CSRF token their forms carry."""

    principal: Principal
    csrf: str

    @property
    def is_pmo(self) -> bool:
        return self.principal.role is Role.PMO

    @property
    def is_staff(self) -> bool:
        return self.principal.role is not Role.CLIENT


def csrf_key(request: Request) -> CsrfKey:
    key: CsrfKey = request.app.state.ui.csrf
    return key


async def _viewer(request: Request) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded()
    try:
        principal: Principal = request.app.state.tokens.check(token)
    except InvalidToken as error:
        raise SignInNeeded(f"Your sign-in was refused: {error}. Sign in again.") from None
    return Viewer(principal, csrf_key(request).token_for(token))


async def _staff(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
    if not viewer.is_staff:
        raise Problem(403, "Forbidden", "this page is for PMO staff and auditors")
    return viewer


async def _pmo(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
    if not viewer.is_pmo:
        raise Problem(403, "Forbidden", "only PMO staff record changes")
    return viewer


async def _csrf_checked(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> None:
    """Refuse a POST whose form does not carry the CSRF token of this session (checked first)."""
    if not csrf_key(request).matches(request.cookies.get(SESSION_COOKIE, ""), csrf):
        raise Problem(403, "CsrfTokenInvalid", "the form is not one this session was given; reload the page")


Signed = Annotated[Viewer, Depends(_viewer)]
StaffViewer = Annotated[Viewer, Depends(_staff)]
PmoViewer = Annotated[Viewer, Depends(_pmo)]
CsrfChecked = Annotated[None, Depends(_csrf_checked)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def open_session(request: Request, response: Response, token: str, expires_at: float) -> None:
    """Keep ``token`` in the session cookie until it expires; forget the sign-in nonce."""
    max_age = max(0, int(expires_at - time.time()))
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path=PATH, httponly=True, samesite="strict",
        secure=_secure(request),
    )  # fmt: skip
    response.delete_cookie(NONCE_COOKIE, path=PATH, httponly=True, samesite="strict")


def close_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PATH, httponly=True, samesite="strict")


def sign_in_nonce(request: Request) -> tuple[str, bool]:
    """The nonce the sign-in form is bound to, and whether it is new (to be set as a cookie)."""
    nonce = request.cookies.get(NONCE_COOKIE)
    if nonce and len(nonce) == 43:
        return nonce, False
    return secrets.token_urlsafe(32), True


def keep_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        NONCE_COOKIE, nonce, max_age=NONCE_SECONDS, path=PATH, httponly=True, samesite="strict",
        secure=_secure(request),
    )  # fmt: skip


def check_sign_in_csrf(request: Request, offered: str) -> None:
    if not csrf_key(request).matches(request.cookies.get(NONCE_COOKIE, ""), offered):
        raise Problem(403, "CsrfTokenInvalid", "the sign-in form has expired or is not ours; reload it")
