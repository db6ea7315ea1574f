"""Recording a command over HTTP: the actor from the token, ``If-Match``, ``Idempotency-Key``."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.http.auth import Principal
from api.http.deps import Pmo
from api.http.idempotency import Answer, IdempotencyKeys, fingerprint, request_id
from api.http.problems import Problem
from domain import commands as cmd
from domain.service import Ledger, Outcome

_ETAG = re.compile(r'^(?:W/)?"?v?(\d{1,12})"?$')


class Recorded(BaseModel):
    """What a command recorded: the engagement's version after it and the log position."""

    code: str
    version: int = Field(description="the engagement's version after the command (its ETag)")
    position: int | None = Field(description="log position of the last event; null if nothing changed")
    key: str | None = Field(None, description="the key of the item the command created, if any")
    recorded: list[str] = Field(description="the types of the events recorded, in order")


def etag(version: int) -> str:
    return f'"v{version}"'


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise Problem(400, "MalformedIfMatch", 'If-Match takes an ETag such as "v12"')
    return int(found.group(1))


def body_of(command: type[cmd.Command], *path_fields: str) -> type[BaseModel]:
    """The HTTP body of ``command``: its fields less those the path carries."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in command.model_fields.items()
        if name not in path_fields
    }
    return create_model(f"{command.__name__}Body", __config__=ConfigDict(extra="forbid"), **fields)


class Desk:
    """Per request: records one command on behalf of the authenticated PMO member."""

    def __init__(
        self,
        request: Request,
        ledger: Ledger,
        principal: Principal,
        expected: int | None,
        idempotency_key: str | None,
    ) -> None:
        self.request, self.ledger, self.principal = request, ledger, principal
        self.expected = expected
        self.idempotency_key = idempotency_key

    def record(self, command: cmd.Command, created: bool = False) -> Response:
        if self.idempotency_key is None:
            answer = _answer(self.ledger, command, self.principal, self.expected, created)
        else:
            keys: IdempotencyKeys = self.request.app.state.idempotency
            print_ = fingerprint("POST", self.request.url.path, command.model_dump_json().encode())
            print_ += str(self.expected)
            request = request_id(self.principal.sub, self.idempotency_key, print_)

            def run(retried: bool) -> Answer:
                return _answer(self.ledger, command, self.principal, self.expected, created, request, retried)

            answer = keys.once(self.principal.sub, self.idempotency_key, print_, run)
        return Response(answer.body, answer.status, answer.headers, media_type="application/json")


def _answer(
    ledger: Ledger,
    command: cmd.Command,
    principal: Principal,
    expected: int | None,
    created: bool,
    request: str | None = None,
    retried: bool = False,
) -> Answer:
    """``command`` recorded (``request``: the id its events carry; ``retried``: an earlier try of it
    may have been recorded already) and the answer to send."""
    outcome: Outcome = ledger.execute(
        command, actor=principal.sub, expected_version=expected, request_id=request, retried=retried
    )
    first = outcome.events[0] if outcome.events else None
    body = Recorded(
        code=command.code,
        version=outcome.version,
        position=outcome.position,
        key=getattr(first, "key", None) if created else None,
        recorded=[type(e).__name__ for e in outcome.events],
    )
    status = 201 if created and outcome.events else 200
    headers = {"ETag": etag(outcome.version)} | ({"Idempotent-Replay": "true"} if outcome.earlier else {})
    return Answer(status, orjson.dumps(body.model_dump()), headers)


async def _desk(
    request: Request,
    principal: Pmo,
    if_match: Annotated[str | None, Header(description='only on this version, e.g. "v12"')] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with this key records nothing twice")
    ] = None,
) -> Desk:
    # async: it only reads headers, so it takes no turn in the thread pool (the route does)
    ledger: Ledger = request.app.state.ledger
    return Desk(request, ledger, principal, expected_version(if_match), idempotency_key)


DeskDep = Annotated[Desk, Depends(_desk)]
