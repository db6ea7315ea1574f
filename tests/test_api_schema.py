"""The API against its own OpenAPI document: generated requests (schemathesis), no 5xx, no answer
the document does not describe; and the document itself names and exemplifies every route.

Generated requests run as PMO on a fresh embedded store holding the engagement, milestone, task
and scope item the document's examples name (``ACME-ERP``, ``uat-signoff``), so that examples
reach the rules, not only the 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from schemathesis import checks
from schemathesis.python.asgi import shutdown_lifespans
from starlette.types import Receive, Scope, Send

from api.http.app import create_app
from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from domain.store import sqlite_env

SECRET = SecretStr("test-secret-" + "s" * 32)
CODE, KEY = "ACME-ERP", "uat-signoff"
CONFIG = schemathesis.Config.from_dict({
    "generation": {"max-examples": 5, "database": "none", "deterministic": True},
})  # fmt: skip
"""Few examples per route, the same ones each run: the whole file stays well under a minute."""


class AppOfTheRun:
    """The ASGI app schemathesis calls: it forwards to the app the fixture builds.

    The schema must exist when pytest collects the tests, the app only once a fixture has given it
    a fresh data folder (schemathesis' fixture-based loader does not work with this pytest).
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the `app` fixture builds the app"
        await self.app(scope, receive, send)


RUN = AppOfTheRun()
DOCUMENT = create_app(HttpSettings(data_dir=Path("unused"), jwt_secret=SECRET)).openapi()
"""The app's OpenAPI document (building the app opens nothing: that waits for its lifespan)."""
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = RUN


def _record_the_examples_subjects(store: dict[str, str]) -> None:
    with Ledger(store) as ledger:
        for command in (
            c.OpenEngagement(code=CODE, title="ERP rollout", client_id="acme", client_name="ACME",
                             manager="Dana Whitfield", planned_start=date(2025, 1, 6),
                             planned_end=date(2026, 10, 30)),
            c.PlanMilestone(code=CODE, key=KEY, title="UAT sign-off", baseline=date(2025, 7, 17)),
            c.AddTask(code=CODE, key=KEY, title="Sign-off meeting"),
            c.AddScopeItem(code=CODE, key=KEY, title="UAT", reason="Client request"),
        ):  # fmt: skip
            ledger.execute(command, actor="dana.whitfield")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("schema")
    store = sqlite_env(data / "store")
    _record_the_examples_subjects(store)
    RUN.app = create_app(HttpSettings(data_dir=data, jwt_secret=SECRET, read_wait_seconds=5), store=store)
    yield RUN.app
    shutdown_lifespans()  # schemathesis started the app's lifespan on the first call
    RUN.app = None


@pytest.fixture(scope="module")
def pmo() -> dict[str, str]:
    token = Tokens(HttpSettings(jwt_secret=SECRET)).issue("dana.whitfield", Role.PMO)
    return {"Authorization": f"Bearer {token}"}


def no_server_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """No 5xx at all: the embedded projections keep up, and a ``min_position`` never recorded
    is a 422 (``PositionNotRecorded``), not a wait that ends in 503."""
    assert response.status_code < 500, response.text
    return None


CHECKS = [
    no_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]
"""Not ``positive_data_acceptance``: a request the schema allows may still break a rule (409, 422)."""


@schema.parametrize()
def test_every_answer_to_a_generated_request_is_one_the_document_describes(
    case: schemathesis.Case[Any], app: FastAPI, pmo: dict[str, str]
) -> None:
    case.call_and_validate(headers=pmo, checks=CHECKS)


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_route_in_the_document_has_a_summary() -> None:
    assert [route for route, operation in _operations() if not operation.get("summary")] == []


def test_every_request_body_in_the_document_has_an_example() -> None:
    bodies = {route: op["requestBody"] for route, op in _operations() if "requestBody" in op}
    assert bodies, "the commands have bodies"
    without = [
        route
        for route, body in bodies.items()
        for media in body["content"].values()
        if not (media.get("examples") or media.get("example"))
    ]
    assert without == []


def test_every_refusal_in_the_document_is_a_problem() -> None:
    for route, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (route, status)
