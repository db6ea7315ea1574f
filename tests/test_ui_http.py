"""The pages over plain HTTP (no browser): who may open and post what, the sign-in cookie and its
CSRF guards, form refusals for people (a page) and for programs (problem+json), read-your-writes
after a form, and the chart cache. The forms run on both stores; access is decided before the
store is touched, so the matrix runs on SQLite.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.settings import HttpSettings
from api.http.ui.charts import Charts
from domain import commands as c
from domain.store import sqlite_env
from domain.values import ResponsibleParty, SlipCause
from projections.slips import slip_history
from projections.status import engagement_status
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who
from tests.ui_support import ROLLOUT, SECRET, record_scene

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class Pages:
    app: FastAPI
    http: TestClient

    issued: dict[Who, str] = field(default_factory=dict)

    def token(self, who: Who) -> str:
        """One token per principal, as one browser keeps one session (its CSRF token is bound to it)."""
        if who not in self.issued:
            self.issued[who] = self.app.state.tokens.issue(who.sub, who.role, who.client_id)
        return self.issued[who]

    def sign_in(self, who: Who | None, **cookies: str) -> None:
        """Send what a signed-in browser of ``who`` sends (no session for ``None``), and ``cookies``."""
        self.http.cookies.clear()
        if who is not None:
            cookies["ledger_session"] = self.token(who)
        for name, value in cookies.items():
            self.http.cookies.set(name, value)

    def csrf(self, who: Who) -> str:
        return str(self.app.state.ui.csrf.token_for(self.token(who)))

    def get(self, path: str, who: Who | None, headers: dict[str, str] = HTML, /) -> httpx.Response:
        self.sign_in(who)
        response: httpx.Response = self.http.get(path, headers=headers)
        return response

    def post(
        self, path: str, who: Who | None, headers: dict[str, str] = HTML, /, **form: Any
    ) -> httpx.Response:
        self.sign_in(who)
        response: httpx.Response = self.http.post(path, data=form, headers=headers)
        return response

    def version(self, code: str) -> int:
        """The engagement's version in the event store (not a read model that may lag)."""
        return int(self.app.state.ledger.engagement(code).version)


@contextmanager
def _pages(store: dict[str, str], data: Path, base_url: str = "http://testserver") -> Iterator[Pages]:
    record_scene(store)
    settings = HttpSettings(data_dir=data, jwt_secret=SECRET, embedded_projections=True)
    app = create_app(settings, store=store)
    with TestClient(app, base_url=base_url, follow_redirects=False) as http:
        app.state.runner.catch_up()
        yield Pages(app, http)


@pytest.fixture
def pages(store: dict[str, str], tmp_path: Path) -> Iterator[Pages]:
    with _pages(store, tmp_path / "http") as running:
        yield running


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    folder = tmp_path_factory.mktemp("matrix")
    with _pages(sqlite_env(folder / "store"), folder / "http") as running:
        yield running


# Who may open and post what

CODE = "ACME-WMS"
E = f"/ui/engagements/{CODE}"
# fmt: off
MATRIX: dict[str, tuple[int, int, int, int, int]] = {
    #                                              pmo  auditor own  other none
    "GET /":                                       (200, 200,   200, 200,  200),
    "GET /ui":                                     (200, 200,   200, 200,  303),
    "GET /ui/":                                    (307, 307,   307, 307,  307),
    "GET /ui/sign-in":                             (200, 200,   200, 200,  200),
    "GET /ui/engagements/{code}":                  (200, 200,   200, 404,  303),
    "GET /ui/engagements/{code}/slips":            (200, 200,   200, 404,  303),
    "GET /ui/engagements/{code}/slips/{chart}.{kind}": (200, 200, 200, 404, 303),
    "GET /ui/engagements/{code}/changelog":        (200, 200,   200, 404,  303),
    "GET /ui/engagements/{code}/changelog.csv":    (200, 200,   200, 404,  303),
    "GET /ui/engagements/{code}/bundle":           (200, 200,   200, 404,  303),
    "GET /ui/engagements/{code}/audit":            (200, 200,   403, 403,  303),
    "GET /ui/engagements/{code}/audit.csv":        (200, 200,   403, 403,  303),
    "POST /ui/engagements/{code}/audit/verify":    (200, 200,   403, 403,  403),
    "GET /ui/engagements/{code}/record":           (200, 403,   403, 403,  303),
    "POST /ui/engagements/{code}/record/reschedule":  (303, 403, 403, 403, 403),
    "POST /ui/engagements/{code}/record/task-status": (303, 403, 403, 403, 403),
    "POST /ui/engagements/{code}/record/scope-item":  (303, 403, 403, 403, 403),
    "POST /ui/sign-out":                           (303, 303,   303, 303,  403),
}
# fmt: on
"""As the API: pages of an engagement for staff and its own client (another client's: 404, as if it
did not exist), the auditor's view for staff, the forms for PMO staff. Without a session a page
sends the browser to sign in (303); a POST without this session's CSRF token is refused (403)."""
FORMS = {
    "reschedule": {"milestone": "all-sites", "to_date": "2027-04-26", "reason": "Racking arrived early"},
    "task-status": {"task": "site-survey", "to_status": "in_progress"},
    "scope-item": {"title": "Yard management", "reason": "Client request", "change_ref": "CR-030"},
}
WHO = {"pmo": PMO, "auditor": AUDITOR, "own": ACME, "other": GLOBEX}


def _concrete(template: str) -> str:
    return template.replace("{code}", CODE).replace("{chart}.{kind}", "mta.png")


def test_the_matrix_names_every_page_of_the_app(scene: Pages) -> None:
    pages = {
        f"{method} {route.path}"
        for route in iter_route_contexts(scene.app.routes)
        if route.path in ("/", "/ui") or (route.path or "").startswith("/ui/")
        for method in route.methods or ()
    }
    assert pages - {"POST /ui/sign-in"} == MATRIX.keys()


@pytest.mark.parametrize("route", MATRIX, ids=str)
def test_each_role_gets_what_the_matrix_says(scene: Pages, route: str) -> None:
    method, template = route.split(" ", 1)
    path = _concrete(template)
    for (name, who), expected in zip([*WHO.items(), ("none", None)], MATRIX[route], strict=True):
        if method == "GET":
            response = scene.get(path, who)
        else:
            form = FORMS.get(path.rsplit("/", 1)[-1], {})
            response = scene.post(path, who, csrf=scene.csrf(who) if who else "", **form)
        assert response.status_code == expected, f"{route} as {name}: {response.text[:300]}"


# The session cookie and sign-in


def _nonce_and_csrf(http: TestClient) -> tuple[str, str]:
    page = http.get("/ui/sign-in", headers=HTML)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return page.cookies["ledger_sign_in"], csrf.group(1)


def test_sign_in_keeps_the_token_in_a_strict_http_only_cookie_and_leads_only_to_our_pages(
    scene: Pages,
) -> None:
    scene.http.cookies.clear()
    nonce, csrf = _nonce_and_csrf(scene.http)
    landings = [("/ui/engagements/ACME-ERP", "/ui/engagements/ACME-ERP"), ("//evil.example", "/ui"),
                ("https://evil.example/", "/ui"), ("/ui/../docs", "/ui")]  # fmt: skip
    for asked, landing in landings:
        scene.sign_in(None, ledger_sign_in=nonce)
        response = scene.http.post(
            "/ui/sign-in", data={"token": scene.token(PMO), "csrf": csrf, "next": asked}, headers=HTML
        )
        assert (response.status_code, response.headers["location"]) == (303, landing)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ledger_session="))
    assert {"HttpOnly", "Path=/ui", "SameSite=strict"} <= set(cookie.split("; "))
    assert "Secure" not in cookie


def test_over_https_the_session_cookie_is_secure(tmp_path: Path) -> None:
    with _pages(sqlite_env(tmp_path / "store"), tmp_path / "http", base_url="https://testserver") as pages:
        nonce, csrf = _nonce_and_csrf(pages.http)
        pages.sign_in(None, ledger_sign_in=nonce)
        response = pages.http.post(
            "/ui/sign-in", data={"token": pages.token(PMO), "csrf": csrf}, headers=HTML
        )
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ledger_session="))
    assert "Secure" in cookie.split("; ")


def test_a_sign_in_without_its_nonce_is_refused(scene: Pages) -> None:
    scene.http.cookies.clear()
    _, csrf = _nonce_and_csrf(scene.http)
    scene.http.cookies.clear()
    response = scene.http.post("/ui/sign-in", data={"token": scene.token(PMO), "csrf": csrf}, headers=JSON)
    assert (response.status_code, response.json()["rule"]) == (403, "CsrfTokenInvalid")
    assert "ledger_session" not in response.headers.get("set-cookie", "")


def test_a_refused_session_cookie_is_cleared_and_the_browser_sent_to_sign_in(scene: Pages) -> None:
    scene.sign_in(None, ledger_session=scene.token(ACME).replace(".", ".x", 1))
    response = scene.http.get("/ui/engagements/ACME-ERP", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in?next=%2Fui%2Fengagements%2FACME-ERP&ended=1"
    assert response.headers["set-cookie"].startswith('ledger_session=""')


def test_a_form_posted_after_the_session_expired_records_nothing_and_leads_to_sign_in(scene: Pages) -> None:
    expired = scene.app.state.tokens.issue(PMO.sub, PMO.role, ttl=-60)
    version = scene.version(CODE)
    scene.sign_in(None, ledger_session=expired)
    csrf = scene.app.state.ui.csrf.token_for(expired)
    response = scene.http.post(
        f"{E}/record/scope-item", data={"csrf": csrf, **FORMS["scope-item"]}, headers=HTML
    )
    assert (response.status_code, response.headers["location"]) == (303, "/ui/sign-in?next=%2Fui&ended=1")
    assert scene.version(CODE) == version


def test_a_program_gets_problem_json_where_a_person_gets_a_page(scene: Pages) -> None:
    unsigned = scene.get("/ui/engagements/ACME-ERP", None, JSON)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    hidden = scene.get(f"/ui/engagements/{CODE}", GLOBEX, JSON)
    assert (hidden.status_code, hidden.json()["rule"]) == (404, "EngagementNotFound")
    page = scene.get(f"/ui/engagements/{CODE}", GLOBEX)
    assert page.headers["content-type"].startswith("text/html")
    assert f"no engagement {CODE} that you may see" in page.text


@pytest.mark.parametrize(
    ("query", "rule"),
    [("since=yesterday", "InvalidInput"), ("category=gossip", "InvalidInput"),
     ("since=2026-05-02&until=2026-05-01", "InvalidTimeRange"), ("after=-1", "InvalidInput")],
)  # fmt: skip
def test_a_filter_that_cannot_be_one_is_a_422(scene: Pages, query: str, rule: str) -> None:
    for tail in ("changelog", "changelog.csv") if "after" not in query else ("changelog",):
        response = scene.get(f"/ui/engagements/ACME-ERP/{tail}?{query}", ACME, JSON)
        assert (response.status_code, response.json()["rule"]) == (422, rule), tail
    assert scene.get(f"/ui/engagements/ACME-ERP/changelog?{query}", ACME).status_code == 422


# Forms, on both stores


def test_a_form_records_and_sends_the_browser_to_wait_for_its_own_write(pages: Pages) -> None:
    version = pages.version(CODE)
    response = pages.post(f"{E}/record/scope-item", PMO, csrf=pages.csrf(PMO), **FORMS["scope-item"])
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(rf"{E}/record\?recorded={version + 1}&min_position=\d+", location)
    shown = pages.get(location, PMO)
    assert f"Recorded: the engagement is now at version {version + 1}." in shown.text
    assert "Scope item &#39;Yard management&#39; added" in shown.text
    again = pages.post(
        f"{E}/record/task-status", PMO, csrf=pages.csrf(PMO), task="rf-scanners", to_status="done"
    )
    assert again.headers["location"] == f"{E}/record?recorded={version + 1}&unchanged=1"


def test_a_form_with_a_missing_field_is_refused_for_people_and_programs_alike(pages: Pages) -> None:
    version = pages.version(CODE)
    form = {"milestone": "all-sites", "reason": "No date given", "csrf": pages.csrf(PMO)}
    page = pages.post(f"{E}/record/reschedule", PMO, **form)
    assert page.status_code == 422
    assert "New forecast date: Field required" in page.text
    assert 'id="reschedule-error"' in page.text
    assert "No date given</textarea>" in page.text
    problem = pages.post(f"{E}/record/reschedule", PMO, JSON, **form)
    assert problem.status_code == 422
    assert (problem.headers["content-type"], problem.json()["rule"]) == (
        "application/problem+json",
        "InvalidInput",
    )
    assert pages.version(CODE) == version


def test_a_form_drawn_before_another_change_records_nothing(pages: Pages) -> None:
    stale = pages.version(CODE)
    assert pages.post(f"{E}/record/task-status", PMO, csrf=pages.csrf(PMO), version=str(stale),
                      **FORMS["task-status"]).status_code == 303  # fmt: skip
    refused = pages.post(f"{E}/record/scope-item", PMO, csrf=pages.csrf(PMO), version=str(stale),
                         **FORMS["scope-item"])  # fmt: skip
    assert refused.status_code == 412
    assert "Someone recorded a change since this page was drawn" in refused.text
    assert pages.version(CODE) == stale + 1


# The chart cache


def test_a_chart_is_drawn_once_per_slip_history(pages: Pages) -> None:
    db, charts = pages.app.state.db, Charts()
    e = engagement_status(db, ROLLOUT)
    assert e is not None
    history = slip_history(db, e.engagement["engagement_id"])
    first = charts.mta(e.engagement["engagement_id"], history, None, "png")
    assert charts.mta(e.engagement["engagement_id"], list(history), None, "png") is first
    moved = charts.mta(e.engagement["engagement_id"], history[:-1], None, "png")
    assert moved is not first
    assert moved != first
    assert charts.attribution(e.engagement["engagement_id"], history, "svg").startswith(b"<svg ")
    later = datetime(2027, 1, 4, tzinfo=UTC)
    assert charts.mta(e.engagement["engagement_id"], history, later, "png") != first, "open lines run on"
    done = engagement_status(db, "ACME-ERP")
    assert done is not None
    finished = slip_history(db, done.engagement["engagement_id"])
    drawn = charts.mta(done.engagement["engagement_id"], finished, later, "png")
    assert charts.mta(done.engagement["engagement_id"], finished, None, "png") is drawn, "no line is open"


def test_a_watched_engagements_charts_are_redrawn_in_the_background_after_a_change(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first view after a change is served from memory: the app redraws the charts of the
    engagements people look at as soon as the projections move."""
    from api.http.ui import drawing

    drawn: list[str] = []
    real = drawing.rendered

    def counted(draw: Any, kind: Any, label: str) -> bytes:
        drawn.append(label)
        return real(draw, kind, label)

    monkeypatch.setattr(drawing, "rendered", counted)
    assert pages.get(f"/ui/engagements/{ROLLOUT}/slips", PMO).status_code == 200
    before = _settled(drawn)
    assert before >= 4, "two charts, each for a laptop and a phone"
    ledger = pages.app.state.ledger
    ledger.execute(
        c.RescheduleMilestone(code=ROLLOUT, key="all-sites", to_date=date(2027, 5, 24), reason="Vendor slip",
                              cause=SlipCause.VENDOR_DELAY, responsible_party=ResponsibleParty.VENDOR),
        PMO.sub,
    )  # fmt: skip
    pages.app.state.runner.catch_up()
    assert _settled(drawn) == before + 4, "redrawn for the new slip history without anyone asking"
    assert pages.get(f"/ui/engagements/{ROLLOUT}/slips", PMO).status_code == 200
    assert len(drawn) == before + 4, "the view after the change drew nothing"


def _settled(drawn: list[str], quiet: float = 1.5, limit: float = 30) -> int:
    """How many charts were drawn once no more have been for ``quiet`` seconds (the warmer idles)."""
    deadline, count, since = time.monotonic() + limit, len(drawn), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.05)
        if len(drawn) != count:
            count, since = len(drawn), time.monotonic()
    return count
