"""Errors as ``application/problem+json`` (RFC 9457): one table from rule to status, at the edge."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from api.http.security import add_headers
from domain import errors
from domain.store import out_of_reach

STATUS: dict[type[errors.RuleViolation], int] = {
    errors.EngagementNotFound: 404,
    errors.UnknownScopeItem: 404,
    errors.UnknownMilestone: 404,
    errors.UnknownTask: 404,
    errors.EngagementAlreadyExists: 409,
    errors.ScopeItemAlreadyExists: 409,
    errors.MilestoneAlreadyExists: 409,
    errors.TaskAlreadyExists: 409,
    errors.EngagementIsClosed: 409,
    errors.ScopeItemAlreadyRemoved: 409,
    errors.MilestoneAlreadyAchieved: 409,
    errors.MilestoneIsCancelled: 409,
    errors.IllegalTaskTransition: 409,
    errors.TaskIsClosed: 409,
    errors.ExpectedVersionMismatch: 412,
    errors.TooManyConcurrentWriters: 503,
}
"""Refusals not listed (a reason, cause, approver or date the rules require) are 422."""


class ProblemDetails(BaseModel):
    """A refusal as RFC 9457 has it; ``rule`` names the rule the request broke."""

    type: str = Field(examples=["/problems/EngagementIsClosed"])
    title: str
    status: int
    detail: str
    rule: str = Field(examples=["EngagementIsClosed"])
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        None, description="what is wrong with the input, field by field"
    )


_MEANING = {
    400: "Malformed JSON, or an If-Match that is not an ETag",
    401: "No bearer token, or one that was refused",
    403: "The token's role may not do this",
    404: "No such route, engagement or item (or not one this token may see)",
    409: "The engagement's state refuses the command (closed, achieved, illegal transition, ...), or"
    " the first request with this Idempotency-Key still runs (send it again after Retry-After seconds)",
    412: "If-Match named a version the engagement has moved past",
    413: "The body is over the size limit",
    422: "The input breaks a rule or a schema (missing reason, wrong type, unknown field, ...)",
    503: "Try again (after Retry-After seconds): writers kept racing, the projections are behind"
    " min_position, or the database is out of reach for a moment",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for refusals with these statuses, each a problem document."""
    schema = ProblemDetails.model_json_schema()
    return {
        status: {"description": _MEANING[status], "content": {"application/problem+json": {"schema": schema}}}
        for status in statuses
    }


ANY_ROUTE = documented(401, 403, 404, 422, 503)
"""What any route may answer besides its own success: every API router documents it (their routes
are the app's own, so an app-wide default would reach none of them)."""
COMMAND_ONLY = documented(400, 409, 412, 413)
"""What only a command (a body, a version to match, rules to break) may answer besides."""


RETRY_AFTER = "1"
"""Seconds a 503 asks the client to wait before sending again."""


class Problem(Exception):
    """An HTTP-level refusal with a name, like the domain's rules have."""

    def __init__(self, status: int, rule: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.headers = status, rule, detail, headers or {}


def problem(status: int, rule: str, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{rule}", "title": title, "status": status, "detail": detail, "rule": rule}
    body |= {"instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install(app: FastAPI) -> None:
    """Translate every refusal the app can meet into a problem response."""
    _install_database_errors(app)

    @app.exception_handler(errors.RuleViolation)
    async def rule_broken(request: Request, error: errors.RuleViolation) -> JSONResponse:
        title = (type(error).__doc__ or error.rule).strip()
        status = STATUS.get(type(error), 422)
        response = problem(status, error.rule, title, error.detail, request.url.path)
        if status == 503:
            response.headers["Retry-After"] = RETRY_AFTER
        return response

    @app.exception_handler(Problem)
    async def refused(request: Request, error: Problem) -> JSONResponse:
        response = problem(error.status, error.rule, error.rule, error.detail, request.url.path)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(ValidationError)
    async def invalid_command(request: Request, error: ValidationError) -> JSONResponse:
        found = [_plain(e) for e in error.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found)
        return problem(422, "InvalidInput", "The request does not say what the ledger needs", detail,
                       request.url.path, errors=found)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        found = [_plain(e) for e in error.errors()]
        malformed = any(e["type"] in {"json_invalid", "json_type"} for e in found)
        status, rule = (400, "MalformedJson") if malformed else (422, "InvalidInput")
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found)
        return problem(status, rule, "The request does not say what the ledger needs", detail,
                       request.url.path, errors=found)  # fmt: skip

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # FastAPI's only 400 is a body it could not parse (malformed, nested too deep, a number too long)
        rule = {400: "MalformedJson", 401: "Unauthenticated", 403: "Forbidden", 404: "NotFound",
                405: "MethodNotAllowed"}.get(error.status_code, "HttpError")  # fmt: skip
        response = problem(error.status_code, rule, rule, str(error.detail), request.url.path)
        response.headers.update(error.headers or {})
        return response


def _install_database_errors(app: FastAPI) -> None:
    """A database out of reach is a 503 to retry; any other failure a 500 that says nothing of it."""

    @app.exception_handler(psycopg.Error)
    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(PersistenceError)
    async def database_error(request: Request, error: Exception) -> JSONResponse:
        if not out_of_reach(error):
            raise error  # a bug, not an outage: the 500 below
        response = problem(503, "DatabaseUnavailable", "The ledger's database is out of reach for a moment",
                           "send the request again (with the same Idempotency-Key) after Retry-After seconds",
                           request.url.path)  # fmt: skip
        response.headers["Retry-After"] = RETRY_AFTER
        return response

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        # The error's text stays in the server's log: it may name hosts, tables or values.
        response = problem(500, "InternalError", "The ledger failed to answer", "the failure is logged",
                           request.url.path)  # fmt: skip
        add_headers(response.headers, request.url.path)  # sent past the middleware
        return response


def _plain(error: Any) -> dict[str, Any]:
    """A validation error that JSON can carry (no exception objects, no echoed input)."""
    return {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
