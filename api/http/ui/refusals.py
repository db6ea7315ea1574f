"""Refusals on the pages: a person's browser gets a page saying what went wrong, in words.

The API's own handlers still decide every refusal (status, rule, detail): for a path under
``/ui`` asked for by a browser, their problem document is only shown as a page. Anything else
(a script, a ``curl`` without ``Accept: text/html``) gets the problem+json the API answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from api.http.problems import Problem, problem
from api.http.ui.rendering import page
from api.http.ui.session import PATH, SignInNeeded, close_session
from domain.errors import RuleViolation

Handler = Callable[[Request, Any], Response | Awaitable[Response]]
_REFUSALS = (Problem, HTTPException, RuleViolation, RequestValidationError, ValidationError)


def for_people(request: Request) -> bool:
    return request.url.path.startswith(PATH) and "text/html" in request.headers.get("accept", "")


def _shown_as_page(api_handler: Handler) -> Handler:
    async def handle(request: Request, error: Any) -> Response:
        answer = api_handler(request, error)
        answer = await answer if inspect.isawaitable(answer) else answer
        if not for_people(request):
            return answer
        found = orjson.loads(bytes(answer.body))
        shown = page(request, "refused.html", answer.status_code, problem=found)
        for name in ("WWW-Authenticate", "Retry-After"):
            if name in answer.headers:
                shown.headers[name] = answer.headers[name]
        return shown

    return handle


async def _sign_in(request: Request, error: SignInNeeded) -> Response:
    if not for_people(request):
        return problem(401, "Unauthenticated", "Unauthenticated", "sign in first", request.url.path)
    back = request.url.path if request.method == "GET" else PATH  # a form's own URL answers POST only
    query = {"next": back} | ({"ended": "1"} if error.reason else {})
    response = RedirectResponse(f"{PATH}/sign-in?{urlencode(query)}", status_code=303)
    if error.reason:
        close_session(response)
    return response


def install(app: FastAPI) -> None:
    """Show the API's refusals as pages on ``/ui`` (after ``problems.install``), and send the
    browser without a session to the sign-in page."""
    for kind in _REFUSALS:
        app.add_exception_handler(kind, _shown_as_page(app.exception_handlers[kind]))
    app.add_exception_handler(SignInNeeded, _sign_in)  # type: ignore[arg-type]
