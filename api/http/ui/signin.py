"""Signing in and out: paste a token (``make run`` prints one per role); sign-out forgets it."""

from __future__ import annotations

import re
from typing import Annotated

import jwt
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.http.auth import InvalidToken, Tokens
from api.http.ui import session
from api.http.ui.rendering import page

router = APIRouter()

_OURS = re.compile(r"^/ui(/[A-Za-z0-9._~/-]*)?$")
"""Where a sign-in may lead: a page of ours, never another site (``//evil.example``)."""

Next = Annotated[str, Query(max_length=300)]


def _landing(next_: str) -> str:
    steps = next_.split("/")
    ours = _OURS.fullmatch(next_) and "//" not in next_ and "." not in steps and ".." not in steps
    return next_ if ours else "/ui"


def _form(
    request: Request, next_: str, status: int = 200, refused: str = "", ended: bool = False
) -> Response:
    nonce, new = session.sign_in_nonce(request)
    csrf = session.csrf_key(request).token_for(nonce)
    shown = page(
        request, "sign_in.html", status, csrf=csrf, next=_landing(next_), refused=refused, ended=ended
    )
    if new:
        session.keep_nonce(request, shown, nonce)
    return shown


@router.get("/ui/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: Next = "/ui", ended: bool = False) -> Response:
    return _form(request, next, ended=ended)


@router.post("/ui/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=8000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=300)] = "/ui",
) -> Response:
    """Check the token as the API checks a bearer token; keep it in the session cookie."""
    session.check_sign_in_csrf(request, csrf)
    tokens: Tokens = request.app.state.tokens
    try:
        tokens.check(token.strip())
    except InvalidToken as error:
        return _form(request, next, 401, refused=str(error) or "not a token")
    expires = jwt.decode(token.strip(), options={"verify_signature": False})["exp"]
    landing = RedirectResponse(_landing(next), status_code=303)
    session.open_session(request, landing, token.strip(), float(expires))
    return landing


@router.post("/ui/sign-out")
def sign_out(_: session.CsrfChecked) -> Response:
    gone = RedirectResponse("/ui/sign-in", status_code=303)
    session.close_session(gone)
    return gone
