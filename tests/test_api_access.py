"""Who may call what: every route of the app against every principal, in one table.

The table must name every route the app has (but its docs): a new route fails
``test_the_matrix_names_every_route_of_the_app`` until someone decides who may call it. Access is
decided before the store is touched, so the matrix runs on the embedded store only.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.http.app import create_app
from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from domain.store import sqlite_env
from replay import checkpoints
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who

SECRET = SecretStr("test-secret-" + "a" * 32)
CODE, OTHER = "ACME-ERP", "GLOBEX-CRM"
DOCS = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


@dataclass(frozen=True)
class Row:
    """The status each principal gets: PMO staff, an auditor, a client of the engagement's client
    (own), a client of another client (other), and a request without a token (none). A token
    that is not ours (tampered, expired, alg none, another key) gets 401 on every route."""

    pmo: int
    auditor: int
    own_client: int
    other_client: int
    no_token: int


# fmt: off
MATRIX: dict[str, Row] = {
    #                                                           pmo   auditor   own   other   none
    "POST /engagements":                                    Row(201,  403,      403,  403,    401),
    "POST /engagements/{code}/manager":                     Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/hold":                        Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/resume":                      Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/close":                       Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/scope-items":                 Row(201,  403,      403,  403,    401),
    "POST /engagements/{code}/scope-items/{key}/revise":    Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/scope-items/{key}/remove":    Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/milestones":                  Row(201,  403,      403,  403,    401),
    "POST /engagements/{code}/milestones/{key}/reschedule": Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/milestones/{key}/rebaseline": Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/milestones/{key}/achieve":    Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/milestones/{key}/cancel":     Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/tasks":                       Row(201,  403,      403,  403,    401),
    "POST /engagements/{code}/tasks/{key}/status":          Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/tasks/{key}/assign":          Row(200,  403,      403,  403,    401),
    "POST /engagements/{code}/tasks/{key}/reschedule":      Row(200,  403,      403,  403,    401),
    "GET /engagements":                                     Row(200,  200,      200,  200,    401),
    "GET /engagements/{code}":                              Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/milestones":                   Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/slips":                        Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/changelog":                    Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/audit":                        Row(200,  200,      200,  404,    401),
    "GET /audit":                                           Row(200,  200,      403,  403,    401),
    "GET /ledger/public-key":                               Row(200,  200,      200,  200,    200),
    "POST /ledger/checkpoints":                             Row(201,  201,      403,  403,    401),
    "GET /ledger/checkpoints":                              Row(200,  200,      403,  403,    401),
    "GET /ledger/checkpoints/latest":                       Row(200,  200,      200,  200,    401),
    "GET /ledger/proofs/inclusion/{code}/{version}":        Row(200,  200,      200,  404,    401),
    "GET /ledger/proofs/consistency":                       Row(200,  200,      200,  200,    401),
    "POST /ledger/verify":                                  Row(200,  200,      403,  403,    401),
    "GET /engagements/{code}/changelog/bundle":             Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/as-of":                        Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/as-of/slips":                  Row(200,  200,      200,  404,    401),
    "GET /engagements/{code}/as-of/changelog":              Row(200,  200,      200,  404,    401),
}
"""Commands are pmo-only; the portfolio is everyone's (each sees their own); an engagement's
reads are for staff and its own client (another client's answers 404, as if it did not exist);
the ledger-wide audit trail is for staff. The public key needs no token (a token given must
still be ours); checkpoints and verify are for staff; proofs and bundles follow the engagement's
fence. A client's change log and audit trail are the client
view (no internal notes): ``tests/test_api_queries.py`` checks what each role sees in them."""
# fmt: on

KEYS = {"milestones": "uat", "tasks": "scripts", "scope-items": "wms"}
"""The item of the scene each keyed route acts on."""

BODIES: dict[str, dict[str, Any]] = {
    "/engagements": {"code": "NEW-ERP", "title": "New", "client_id": "acme", "client_name": "ACME",
                     "manager": "Dana Whitfield", "planned_start": "2025-01-06", "planned_end": "2025-12-19"},
    "/engagements/{code}/manager": {"manager": "Sam Okafor"},
    "/engagements/{code}/hold": {"reason": "Year-end freeze"},
    "/engagements/{code}/resume": {"reason": "Freeze lifted"},
    "/engagements/{code}/close": {"reason": "Hypercare complete"},
    "/engagements/{code}/scope-items": {"title": "EDI", "reason": "Client request"},
    "/engagements/{code}/scope-items/{key}/revise": {"title": "WMS with RF scanners", "reason": "Confirmed"},
    "/engagements/{code}/scope-items/{key}/remove": {"reason": "Deferred to phase 2"},
    "/engagements/{code}/milestones": {"title": "Go-live", "baseline": "2025-09-01"},
    "/engagements/{code}/milestones/{key}/reschedule": {"to_date": "2025-06-06", "reason": "Ahead of plan"},
    "/engagements/{code}/milestones/{key}/rebaseline": {"to_date": "2025-06-20", "change_ref": "CR-011",
                                                        "approved_by": "J. Ortega", "reason": "Re-plan"},
    "/engagements/{code}/milestones/{key}/achieve": {"actual_on": "2025-06-13"},
    "/engagements/{code}/milestones/{key}/cancel": {"reason": "Deferred to phase 2"},
    "/engagements/{code}/tasks": {"title": "Train key users"},
    "/engagements/{code}/tasks/{key}/status": {"to_status": "in_progress"},
    "/engagements/{code}/tasks/{key}/assign": {"assignee": "lena.berg"},
    "/engagements/{code}/tasks/{key}/reschedule": {"to_date": "2025-06-20", "reason": "New UAT window"},
    "/ledger/checkpoints": {},
    "/ledger/verify": {},
}  # fmt: skip
"""For each command, a body the pmo's call records on the scene."""

QUERIES = {
    "/ledger/proofs/consistency": "?first=1",
    "/engagements/{code}/as-of": "?version=1",
    "/engagements/{code}/as-of/slips": "?version=1",
    "/engagements/{code}/as-of/changelog": "?version=1",
}
"""What a route needs in its query string to be answered."""


PRINCIPALS = {"pmo": PMO, "auditor": AUDITOR, "own_client": ACME, "other_client": GLOBEX}


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


def tokens_that_are_not_ours(tokens: Tokens) -> dict[str, str]:
    """Tokens an attacker might try; each must be refused (401) on every route."""
    now = int(time.time())
    claims = {"sub": "mallory", "role": "pmo", "iat": now, "exp": now + 3600}
    header, payload, signature = tokens.issue("cfo@acme", Role.CLIENT, "acme").split(".")
    client_claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {
        "a client's token made pmo": ".".join([header, _segment(client_claims | {"role": "pmo"}), signature]),
        "an expired token": jwt.encode(claims | {"exp": now - 60}, SECRET.get_secret_value(), "HS256"),
        "a token with alg none": ".".join([_segment({"alg": "none", "typ": "JWT"}), _segment(claims), ""]),
        "a token of another key": jwt.encode(claims, "another-secret-" + "b" * 32, "HS256"),
    }


@dataclass(frozen=True)
class Scene:
    app: FastAPI
    http: TestClient
    tokens: Tokens

    def call(self, method: str, template: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        path, body = concrete(template) + QUERIES.get(template, ""), BODIES.get(template)
        response: httpx.Response = self.http.request(method, path, json=body, headers=headers)
        return response

    def token(self, who: Who) -> str:
        return self.tokens.issue(who.sub, who.role, who.client_id)

    def head(self) -> int:
        ledger: Ledger = self.app.state.ledger
        return ledger.recorder.max_notification_id() or 0


def concrete(template: str) -> str:
    """The route's path for the scene: ``{code}`` is ACME's engagement, ``{key}`` the item it names."""
    parts = template.replace("{code}", CODE).replace("{version}", "1").split("/")
    return "/".join(KEYS.get(parts[i - 1], "") if part == "{key}" else part for i, part in enumerate(parts))


def _record_the_scene(store: dict[str, str]) -> None:
    """ACME's engagement with a milestone, a task and a scope item; Globex's engagement beside it."""
    start, end = date(2025, 1, 6), date(2025, 12, 19)
    common: dict[str, Any] = {"title": "ERP rollout", "manager": "Dana Whitfield",
                              "planned_start": start, "planned_end": end}  # fmt: skip
    with Ledger(store) as ledger:
        for command in (
            c.OpenEngagement(code=CODE, client_id="acme", client_name="ACME Manufacturing", **common),
            c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=date(2025, 6, 13)),
            c.AddTask(code=CODE, key="scripts", title="Write UAT scripts"),
            c.AddScopeItem(code=CODE, key="wms", title="Warehouse management", reason="Client request"),
            c.OpenEngagement(code=OTHER, client_id="globex", client_name="Globex Corp", **common),
        ):
            ledger.execute(command, actor="dana.whitfield")


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    store = sqlite_env(tmp_path / "store")
    _record_the_scene(store)
    settings = HttpSettings(data_dir=tmp_path / "http", jwt_secret=SECRET, embedded_projections=False)
    app = create_app(settings, store=store)
    with TestClient(app) as http:
        app.state.runner.catch_up()
        checkpoints.take(app.state.db, app.state.signer, lambda: datetime.now(UTC))
        yield Scene(app, http, Tokens(settings))


def routes_of(app: FastAPI) -> set[str]:
    """Every API route of the app as ``METHOD /path``: its docs and its pages (``/``, ``/ui``, which
    have a matrix of their own in ``tests/test_ui_http.py``) left out."""
    return {
        f"{method} {route.path}"
        for route in iter_route_contexts(app.routes)
        if route.path and route.path not in DOCS and not _page(route.path)
        for method in route.methods or ()
    }


def _page(path: str) -> bool:
    return path == "/" or path == "/ui" or path.startswith("/ui/")


def test_the_matrix_names_every_route_of_the_app(tmp_path: Path) -> None:
    app = create_app(HttpSettings(data_dir=tmp_path, jwt_secret=SECRET))
    assert routes_of(app) - MATRIX.keys() == set(), "classify the new route in MATRIX"
    assert MATRIX.keys() - routes_of(app) == set(), "MATRIX names a route the app does not have"
    assert {route.removeprefix("POST ") for route in MATRIX if route.startswith("POST ")} == BODIES.keys()


@pytest.mark.parametrize("route", MATRIX)
def test_every_principal_gets_the_status_the_matrix_gives_it(scene: Scene, route: str) -> None:
    method, template = route.split(" ")
    tokens = {name: scene.token(who) for name, who in PRINCIPALS.items()} | {"no_token": None}
    head = scene.head()
    answers = {name: scene.call(method, template, tokens[name]) for name in tokens if name != "pmo"}
    assert scene.head() == head, "a refused call recorded something"
    answers["pmo"] = scene.call(method, template, tokens["pmo"])  # last: a command of its changes the scene
    expected = dict(zip([f.name for f in fields(Row)], astuple(MATRIX[route]), strict=True))
    assert {name: answers[name].status_code for name in expected} == expected
    for name, response in answers.items():
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", name
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("route", MATRIX)
def test_a_token_that_is_not_ours_is_refused_on_every_route(scene: Scene, route: str) -> None:
    method, template = route.split(" ")
    head = scene.head()
    for name, token in tokens_that_are_not_ours(scene.tokens).items():
        response = scene.call(method, template, token)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["rule"] == "Unauthenticated"
    assert scene.head() == head


def test_a_clients_portfolio_holds_only_its_own_clients_engagements(scene: Scene) -> None:
    def codes(who: str) -> list[str]:
        response = scene.call("GET", "/engagements", scene.token(PRINCIPALS[who]))
        return [e["code"] for e in response.json()]

    assert sorted(codes("pmo")) == sorted(codes("auditor")) == [CODE, OTHER]
    assert codes("own_client") == [CODE]
    assert codes("other_client") == [OTHER]


def test_the_tokens_that_are_not_ours_are_well_formed_apart_from_their_flaw(scene: Scene) -> None:
    """Each bad token fails for its flaw alone: with that fixed, the same claims would pass."""
    flawed = tokens_that_are_not_ours(scene.tokens)
    unverified = {name: jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
                  for name, token in flawed.items()}  # fmt: skip
    assert all(claims["role"] == "pmo" for claims in unverified.values())
    assert jwt.get_unverified_header(flawed["a token with alg none"])["alg"] == "none"
    assert unverified["an expired token"]["exp"] < time.time()
