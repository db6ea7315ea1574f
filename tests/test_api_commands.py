"""Commands over HTTP: the whole story of an engagement, every refusal in the error table, retries.

Every test runs on both stores. Dates lie in 2025, so that no achieved or effective date is
ever in the future of the real clock the app reads.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.http import idempotency
from api.http.app import create_app
from api.http.auth import Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain import errors
from domain.service import Ledger
from domain.store import sqlite_env
from domain.values import TaskStatus
from projections.db import open_projection_db
from tests.principals import ACME, AUDITOR, PMO, SAM, Who
from tests.support import postgres_schema

SECRET = SecretStr("test-secret-" + "c" * 32)
CODE = "ACME-ERP"
E = f"/engagements/{CODE}"
START = date(2025, 1, 6)
PROBLEM_FIELDS = {"type", "title", "status", "detail", "rule"}


def opening(code: str = CODE, **fields: Any) -> dict[str, Any]:
    """The body that opens an engagement, January to October 2025."""
    body = {
        "code": code,
        "title": "ERP rollout",
        "client_id": "acme",
        "client_name": "ACME Manufacturing",
        "manager": "Dana Whitfield",
        "planned_start": START.isoformat(),
        "planned_end": "2025-10-31",
    }
    return body | fields


@dataclass(frozen=True)
class Api:
    """The app under test, its HTTP client, and what the store holds underneath."""

    app: FastAPI
    http: TestClient
    tokens: Tokens

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.app.state.ledger
        return ledger

    def auth(self, who: Who | None = PMO) -> dict[str, str]:
        if who is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.issue(who.sub, who.role, who.client_id)}"}

    def post(
        self, path: str, body: Any = None, who: Who | None = PMO, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.send("POST", path, body, headers=self.auth(who) | (headers or {}))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request: ``body`` as JSON, or ``raw`` bytes as they are, or no body at all."""
        headers = dict(headers or {})
        if raw is not None:
            headers["Content-Type"] = "application/json"
        json = None if raw is not None else body
        response: httpx.Response = self.http.request(method, path, json=json, content=raw, headers=headers)
        return response

    def record(self, *commands: c.Command) -> None:
        """Set the scene directly on the ledger (the HTTP path is what the test is about)."""
        for command in commands:
            self.ledger.execute(command, actor=PMO.sub)

    def version(self, code: str = CODE) -> int:
        state = self.ledger.engagement_or_none(code)
        return state.version if state else 0

    def head(self) -> int:
        """The last position in the log: it moves if anything at all was recorded."""
        return self.ledger.recorder.max_notification_id() or 0

    def types(self, code: str = CODE) -> list[str]:
        return [type(e).__name__ for e in self.ledger.history(code)]

    def status(self, code: str = CODE) -> httpx.Response:
        """The engagement's status query, once the projections have caught up."""
        self.app.state.runner.catch_up()
        return self.send("GET", f"/engagements/{code}", headers=self.auth())


@contextmanager
def serve(store: dict[str, str], data: Path, **settings: Any) -> Iterator[Api]:
    http_settings = HttpSettings(data_dir=data, jwt_secret=SECRET, **settings)
    app = create_app(http_settings, store=store)
    with TestClient(app) as client:
        yield Api(app, client, Tokens(http_settings))


@pytest.fixture
def api(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """An empty ledger served over HTTP; the test brings the projections up to date itself."""
    with serve(store, tmp_path / "http", embedded_projections=False, read_wait_seconds=0.2) as api:
        yield api


@pytest.fixture
def live(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """An empty ledger whose projections follow in the API process, as in the embedded set-up."""
    with serve(store, tmp_path / "http", embedded_projections=True) as api:
        yield api


def assert_problem(response: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    """An RFC 9457 problem naming ``rule``; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert (body["status"], body["rule"], body["type"]) == (status, rule, f"/problems/{rule}")
    assert body["title"]
    assert body["detail"]
    return body


# The story: every command route once, most of them more than once -------------------------


@dataclass(frozen=True)
class Step:
    path: str
    body: dict[str, Any]
    recorded: tuple[str, ...]
    status: int = 200
    key: str | None = None


M, T, S = f"{E}/milestones", f"{E}/tasks", f"{E}/scope-items"
UAT, SCRIPTS = f"{M}/uat-signoff", f"{T}/uat-scripts"

STORY = [
    Step("/engagements", opening(), ("EngagementOpened",), 201),
    Step(M, {"key": "uat-signoff", "title": "UAT sign-off", "baseline": "2025-06-13"},
         ("MilestonePlanned",), 201, "uat-signoff"),
    Step(M, {"title": "Go-live", "baseline": "2025-09-01"}, ("MilestonePlanned",), 201, "go-live"),
    Step(M, {"key": "portal", "title": "Customer portal", "baseline": "2025-08-01"},
         ("MilestonePlanned",), 201, "portal"),
    Step(f"{UAT}/reschedule",
         {"to_date": "2025-06-27", "cause": "vendor_delay", "responsible_party": "vendor",
          "reason": "Test environment delivered late", "internal_note": "Vendor penalty clause 7.2"},
         ("MilestoneRescheduled",)),
    Step(f"{UAT}/reschedule",
         {"to_date": "2025-07-11", "cause": "client_dependency", "responsible_party": "client",
          "reason": "Key users on leave"},
         ("MilestoneRescheduled",)),
    Step(f"{UAT}/rebaseline",
         {"to_date": "2025-07-04", "change_ref": "CR-011", "approved_by": "J. Ortega",
          "reason": "Re-plan approved after the scope change"},
         ("MilestoneRebaselined",)),
    Step(f"{UAT}/achieve",
         {"actual_on": "2025-07-18", "cause": "technical_issue", "responsible_party": "pmo",
          "reason": "Defects found in the last test cycle"},
         ("MilestoneAchieved",)),
    Step(f"{M}/portal/cancel", {"reason": "Portal deferred to phase 2", "change_ref": "CR-010"},
         ("MilestoneCancelled",)),
    Step(T, {"key": "uat-scripts", "title": "Write UAT scripts", "milestone_key": "uat-signoff",
             "assignee": "priya.nair", "due_on": "2025-06-06"},
         ("TaskAdded",), 201, "uat-scripts"),
    Step(T, {"title": "Train key users"}, ("TaskAdded",), 201, "train-key-users"),
    Step(f"{SCRIPTS}/status", {"to_status": "in_progress"}, ("TaskStatusChanged",)),
    Step(f"{SCRIPTS}/status", {"to_status": "blocked", "reason": "Waiting for test data"},
         ("TaskStatusChanged",)),
    Step(f"{SCRIPTS}/status", {"to_status": "in_progress"}, ("TaskStatusChanged",)),
    Step(f"{SCRIPTS}/status", {"to_status": "done"}, ("TaskStatusChanged",)),
    Step(f"{SCRIPTS}/status", {"to_status": "in_progress", "reason": "The returns process has no script"},
         ("TaskStatusChanged",)),
    Step(f"{SCRIPTS}/assign", {"assignee": "lena.berg"}, ("TaskAssigned",)),
    Step(f"{SCRIPTS}/reschedule", {"to_date": "2025-06-20", "reason": "Follows the new UAT window"},
         ("TaskRescheduled",)),
    Step(S, {"key": "wms", "title": "Warehouse management", "reason": "Client request",
             "change_ref": "CR-007"},
         ("ScopeItemAdded",), 201, "wms"),
    Step(S, {"title": "EDI with carriers", "reason": "Carriers asked for it"},
         ("ScopeItemAdded",), 201, "edi-with-carriers"),
    Step(f"{S}/wms/revise",
         {"title": "Warehouse management with RF scanners", "reason": "Scanners confirmed",
          "change_ref": "CR-008"},
         ("ScopeItemRevised",)),
    Step(f"{S}/edi-with-carriers/remove", {"reason": "Deferred to phase 2", "change_ref": "CR-010"},
         ("ScopeItemRemoved",)),
    Step(f"{E}/hold", {"reason": "Client's year-end freeze", "effective_on": "2025-07-21"},
         ("EngagementPutOnHold",)),
    Step(f"{E}/resume", {"reason": "Freeze lifted"}, ("EngagementResumed",)),
    Step(f"{E}/manager", {"manager": "Sam Okafor", "reason": "Hypercare is run by service transition"},
         ("ManagerAssigned",)),
    Step(f"{E}/close", {"reason": "Hypercare complete; final invoice accepted"}, ("EngagementClosed",)),
]  # fmt: skip

AFTER_CLOSING = {
    f"{E}/manager": {"manager": "Someone Else"},
    f"{E}/hold": {"reason": "Too late"},
    f"{E}/resume": {"reason": "Too late"},
    f"{E}/close": {"reason": "Twice"},
    S: {"title": "Late idea", "reason": "Too late"},
    f"{S}/wms/revise": {"title": "Other", "reason": "Too late"},
    f"{S}/wms/remove": {"reason": "Too late"},
    M: {"title": "Late milestone", "baseline": "2025-10-01"},
    f"{M}/go-live/reschedule": {"to_date": "2025-08-01", "reason": "Too late"},
    f"{M}/go-live/rebaseline": {"to_date": "2025-08-01", "change_ref": "CR-99", "approved_by": "J",
                                "reason": "Too late"},
    f"{M}/go-live/achieve": {"actual_on": "2025-08-01"},
    f"{M}/go-live/cancel": {"reason": "Too late"},
    T: {"title": "Late task"},
    f"{T}/train-key-users/status": {"to_status": "in_progress"},
    f"{T}/train-key-users/assign": {"assignee": "lena.berg"},
    f"{T}/train-key-users/reschedule": {"to_date": "2025-08-01", "reason": "Too late"},
}  # fmt: skip
"""A body for every command on an engagement, each acceptable had it not been closed."""


def tell_the_story(api: Api) -> list[httpx.Response]:
    return [api.post(step.path, step.body) for step in STORY]


def command_templates(app: FastAPI) -> set[str]:
    """The path of every command route the app has (the POSTs under ``/engagements``: the others
    sign checkpoints, verify or serve pages, and record nothing)."""
    return {
        str(r.path)
        for r in iter_route_contexts(app.routes)
        if r.methods and "POST" in r.methods and str(r.path).startswith("/engagements")
    }


def template_of(path: str) -> str:
    """A path as its route names it: ``.../tasks/t1/status`` is ``/engagements/{code}/tasks/{key}/status``."""
    parts = path.split("/")
    for at, name in ((2, "{code}"), (4, "{key}")):
        if len(parts) > at:
            parts[at] = name
    return "/".join(parts)


def test_the_full_story_of_an_engagement_is_recorded_step_by_step(api: Api) -> None:
    version, position = 0, 0
    for step, response in zip(STORY, tell_the_story(api), strict=True):
        assert response.status_code == step.status, (step.path, response.text)
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        assert answer["position"] > position
        version, position = version + len(step.recorded), answer["position"]
        assert answer == {"code": CODE, "version": version, "position": position, "key": step.key,
                          "recorded": list(step.recorded)}  # fmt: skip
        assert response.headers["ETag"] == f'"v{version}"'
    events = list(api.ledger.history(CODE))
    assert [type(e).__name__ for e in events] == [t for step in STORY for t in step.recorded]
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert {e.actor for e in events} == {PMO.sub}


def test_the_story_shows_in_the_engagements_status_with_its_version_as_etag(api: Api) -> None:
    tell_the_story(api)
    response = api.status()
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"v{len(STORY)}"'
    status = response.json()
    assert (status["state"], status["manager"], status["version"]) == ("closed", "Sam Okafor", len(STORY))
    uat = next(m for m in status["milestones"] if m["key"] == "uat-signoff")
    assert (uat["original_baseline"], uat["baseline"], uat["actual"]) == (
        "2025-06-13",
        "2025-07-04",
        "2025-07-18",
    )
    assert (uat["slip_days"], uat["slip_vs_original_days"]) == (14, 35)
    task = next(t for t in status["tasks"] if t["key"] == "uat-scripts")
    assert (task["status"], task["assignee"], task["due_on"]) == ("in_progress", "lena.berg", "2025-06-20")
    scope = {s["key"]: (s["title"], bool(s["removed"])) for s in status["scope"]}
    assert scope == {"wms": ("Warehouse management with RF scanners", False),
                     "edi-with-carriers": ("EDI with carriers", True)}  # fmt: skip


def test_the_client_reads_the_story_in_its_change_log_as_csv(api: Api) -> None:
    tell_the_story(api)
    api.app.state.runner.catch_up()
    response = api.send("GET", f"{E}/changelog?format=csv", headers=api.auth(ACME))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    shown = [t for step in STORY for t in step.recorded if t != "TaskAssigned"]  # staffing stays internal
    assert [row["type"] for row in rows] == shown
    slips = [row for row in rows if row["type"] == "MilestoneRescheduled"]
    assert [row["reason"] for row in slips] == ["Test environment delivered late", "Key users on leave"]
    assert "Vendor penalty clause" not in response.text, "an internal note reached the client"


def test_the_story_uses_every_command_route(api: Api) -> None:
    assert {template_of(step.path) for step in STORY} == command_templates(api.app)


def test_a_closed_engagement_refuses_every_command_and_records_nothing(api: Api) -> None:
    tell_the_story(api)
    version = api.version()
    templates = {"/engagements"} | {template_of(path) for path in AFTER_CLOSING}
    assert templates == command_templates(api.app), "a command route is missing here"
    for path, body in AFTER_CLOSING.items():
        assert_problem(api.post(path, body), 409, "EngagementIsClosed")
    assert_problem(api.post("/engagements", opening()), 409, "EngagementAlreadyExists")
    assert api.version() == version
    assert api.status().headers["ETag"] == f'"v{version}"'


# Created items, no-ops, If-Match, the actor, read-your-writes -------------------------------


@pytest.mark.parametrize(
    ("path", "body", "keys"),
    [
        (M, {"title": "UAT sign-off", "baseline": "2025-06-13"}, ["uat-sign-off", "uat-sign-off-2"]),
        (T, {"title": "Write UAT scripts"}, ["write-uat-scripts", "write-uat-scripts-2"]),
        (S, {"title": "WMS", "reason": "Client request"}, ["wms", "wms-2"]),
    ],
)  # fmt: skip
def test_an_item_created_without_a_key_gets_one_from_the_server(
    api: Api, path: str, body: dict[str, Any], keys: list[str]
) -> None:
    api.post("/engagements", opening())
    for key in keys:
        response = api.post(path, body)
        assert response.status_code == 201, response.text
        assert response.json()["key"] == key


NO_OPS = {
    "the same manager": (f"{E}/manager", {"manager": "Dana Whitfield"}),
    "resuming an active engagement": (f"{E}/resume", {"reason": "Nothing was on hold"}),
    "the same forecast": (f"{E}/milestones/uat/reschedule", {"to_date": "2025-06-13", "reason": "Same"}),
    "the same baseline": (f"{E}/milestones/uat/rebaseline", {"to_date": "2025-06-13"}),
    "cancelling a cancelled milestone": (f"{E}/milestones/dropped/cancel", {"reason": "Again"}),
    "the same task status": (f"{E}/tasks/scripts/status", {"to_status": "todo"}),
    "the same assignee": (f"{E}/tasks/scripts/assign", {"assignee": None}),
    "removing a removed scope item": (f"{E}/scope-items/gone/remove", {"reason": "Again"}),
    "a revision to the same title": (f"{E}/scope-items/wms/revise", {"title": "WMS", "reason": "Same"}),
}


def _scene_for_no_ops(api: Api) -> None:
    api.record(
        c.OpenEngagement(**opening()),
        c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2025, 6, 13)),
        c.PlanMilestone(code=CODE, key="dropped", title="Portal", baseline=date(2025, 8, 1)),
        c.CancelMilestone(code=CODE, key="dropped", reason="Deferred"),
        c.AddTask(code=CODE, key="scripts", title="Write UAT scripts"),
        c.AddScopeItem(code=CODE, key="wms", title="WMS", reason="Client request"),
        c.AddScopeItem(code=CODE, key="gone", title="EDI", reason="Client request"),
        c.RemoveScopeItem(code=CODE, key="gone", reason="Deferred"),
    )


@pytest.mark.parametrize(("path", "body"), NO_OPS.values(), ids=NO_OPS.keys())
def test_a_command_that_changes_nothing_answers_200_with_no_position_and_records_nothing(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    _scene_for_no_ops(api)
    version, head = api.version(), api.head()
    response = api.post(path, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "code": CODE,
        "version": version,
        "position": None,
        "key": None,
        "recorded": [],
    }
    assert response.headers["ETag"] == f'"v{version}"'
    assert (api.version(), api.head()) == (version, head)


@pytest.mark.parametrize("if_match", ['"v1"', 'W/"v1"', "v1", "*"])
def test_a_command_that_names_the_current_version_in_if_match_is_recorded(api: Api, if_match: str) -> None:
    api.post("/engagements", opening())
    response = api.post(f"{E}/hold", {"reason": "Freeze"}, headers={"If-Match": if_match})
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"v2"'


def test_the_etag_of_a_read_makes_the_next_command_conditional(api: Api) -> None:
    api.post("/engagements", opening())
    etag = api.status().headers["ETag"]
    assert api.post(f"{E}/hold", {"reason": "Freeze"}, headers={"If-Match": etag}).status_code == 200
    stale = api.post(f"{E}/resume", {"reason": "Thaw"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "ExpectedVersionMismatch")
    assert api.types() == ["EngagementOpened", "EngagementPutOnHold"]


def test_the_actor_of_every_event_is_the_subject_of_the_token(api: Api) -> None:
    api.post("/engagements", opening(), who=PMO)
    api.post(f"{E}/hold", {"reason": "Freeze"}, who=SAM)
    assert [e.actor for e in api.ledger.history(CODE)] == [PMO.sub, SAM.sub]


def test_an_actor_in_the_body_is_refused_as_an_unknown_field(api: Api) -> None:
    api.post("/engagements", opening())
    head = api.head()
    response = api.post(f"{E}/hold", {"reason": "Freeze", "actor": "mallory"})
    problem = assert_problem(response, 422, "InvalidInput")
    assert {"type": "extra_forbidden", "loc": ["body", "actor"]}.items() <= problem["errors"][0].items()
    opening_as_mallory = api.post("/engagements", opening(code="EVIL-ERP", actor="mallory"))
    assert_problem(opening_as_mallory, 422, "InvalidInput")
    assert api.head() == head


def test_a_query_asking_for_a_commands_position_sees_that_write(live: Api) -> None:
    live.post("/engagements", opening())
    planned = live.post(f"{E}/milestones", {"title": "UAT", "baseline": "2025-06-13"}).json()
    response = live.send("GET", f"{E}?min_position={planned['position']}", headers=live.auth())
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"v{planned["version"]}"'
    assert [m["key"] for m in response.json()["milestones"]] == ["uat"]


# The error table: every rule, every HTTP refusal, and nothing recorded after any of them -----


def _scene_for_refusals(api: Api) -> None:
    """An engagement with an item in each state a refusal needs, and a closed engagement."""
    api.record(
        c.OpenEngagement(**opening()),
        c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2025, 6, 13)),
        c.PlanMilestone(code=CODE, key="done", title="Design", baseline=date(2025, 2, 3)),
        c.AchieveMilestone(code=CODE, key="done", actual_on=date(2025, 2, 3)),
        c.PlanMilestone(code=CODE, key="dropped", title="Portal", baseline=date(2025, 8, 1)),
        c.CancelMilestone(code=CODE, key="dropped", reason="Deferred"),
        c.AddTask(code=CODE, key="blocked-task", title="Load data"),
        c.ChangeTaskStatus(code=CODE, key="blocked-task", to_status=TaskStatus.BLOCKED, reason="No access"),
        c.AddTask(code=CODE, key="done-task", title="Kick-off"),
        c.ChangeTaskStatus(code=CODE, key="done-task", to_status=TaskStatus.DONE),
        c.AddScopeItem(code=CODE, key="wms", title="WMS", reason="Client request"),
        c.AddScopeItem(code=CODE, key="gone", title="EDI", reason="Client request"),
        c.RemoveScopeItem(code=CODE, key="gone", reason="Deferred"),
        c.OpenEngagement(**opening(code="OLD-ERP")),
        c.CloseEngagement(code="OLD-ERP", reason="Done"),
    )


@dataclass(frozen=True)
class Refusal:
    status: int
    rule: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    raw: bytes | None = None
    who: Who | None = PMO


WHY = {"reason": "Why"}
RULES = [
    Refusal(404, "EngagementNotFound", "/engagements/NOPE-ERP/hold", {"reason": "Freeze"}),
    Refusal(404, "UnknownScopeItem", f"{S}/nope/revise", {"title": "X", "reason": "Why"}),
    Refusal(404, "UnknownMilestone", f"{M}/nope/reschedule", {"to_date": "2025-06-01", "reason": "Why"}),
    Refusal(404, "UnknownTask", f"{T}/nope/status", {"to_status": "done"}),
    Refusal(409, "EngagementAlreadyExists", "/engagements", opening()),
    Refusal(409, "ScopeItemAlreadyExists", S, {"key": "wms", "title": "WMS", "reason": "Why"}),
    Refusal(409, "MilestoneAlreadyExists", M, {"key": "uat", "title": "UAT", "baseline": "2025-06-13"}),
    Refusal(409, "TaskAlreadyExists", T, {"key": "done-task", "title": "Again"}),
    Refusal(409, "EngagementIsClosed", "/engagements/OLD-ERP/hold", {"reason": "Freeze"}),
    Refusal(409, "ScopeItemAlreadyRemoved", f"{S}/gone/revise", {"title": "Back", "reason": "Why"}),
    Refusal(409, "MilestoneAlreadyAchieved", f"{M}/done/reschedule", {"to_date": "2025-03-03", **WHY}),
    Refusal(409, "MilestoneIsCancelled", f"{M}/dropped/reschedule", {"to_date": "2025-07-01", **WHY}),
    Refusal(409, "IllegalTaskTransition", f"{T}/blocked-task/status", {"to_status": "done"}),
    Refusal(409, "TaskIsClosed", f"{T}/done-task/assign", {"assignee": "lena.berg"}),
    Refusal(412, "ExpectedVersionMismatch", f"{E}/hold", {"reason": "Freeze"}, {"If-Match": '"v1"'}),
    Refusal(422, "EndBeforeStart", "/engagements", opening(code="NEW-ERP", planned_end="2024-12-31")),
    Refusal(422, "DateBeforeEngagementStart", M, {"title": "Early", "baseline": "2024-12-02"}),
    Refusal(422, "ReasonRequired", f"{E}/hold", {}),
    Refusal(422, "EffectiveDateInFuture", f"{E}/hold", {"reason": "Freeze", "effective_on": "2099-01-01"}),
    Refusal(422, "SlipCauseRequired", f"{M}/uat/reschedule", {"to_date": "2025-07-01", "reason": "Later"}),
    Refusal(422, "ChangeRefRequired", f"{M}/uat/rebaseline",
            {"to_date": "2025-07-01", "approved_by": "J. Ortega", "reason": "Re-plan"}),
    Refusal(422, "ApproverRequired", f"{M}/uat/rebaseline",
            {"to_date": "2025-07-01", "change_ref": "CR-011", "reason": "Re-plan"}),
    Refusal(422, "ActualDateInFuture", f"{M}/uat/achieve", {"actual_on": "2099-01-01"}),
]  # fmt: skip
"""Each domain rule broken once (``TooManyConcurrentWriters`` has a test of its own)."""

FREEZE = {"reason": "Freeze"}
HTTP_REFUSALS = {
    "malformed JSON": Refusal(400, "MalformedJson", f"{E}/hold", raw=b'{"reason": '),
    "an If-Match that is no ETag":
        Refusal(400, "MalformedIfMatch", f"{E}/hold", FREEZE, {"If-Match": "yesterday"}),
    "no token": Refusal(401, "Unauthenticated", f"{E}/hold", FREEZE, who=None),
    "a token that is no JWT":
        Refusal(401, "Unauthenticated", f"{E}/hold", FREEZE, {"Authorization": "Bearer not-a-jwt"}, who=None),
    "an auditor's command": Refusal(403, "Forbidden", f"{E}/hold", FREEZE, who=AUDITOR),
    "a client's command": Refusal(403, "Forbidden", f"{E}/hold", FREEZE, who=ACME),
    "an unknown command": Refusal(404, "NotFound", f"{E}/teleport", FREEZE),
    "an unknown route": Refusal(404, "NotFound", "/nowhere", method="GET"),
    "an unknown engagement's status": Refusal(404, "EngagementNotFound", "/engagements/NOPE", method="GET"),
    "a method the route lacks": Refusal(405, "MethodNotAllowed", E, method="DELETE"),
    "a body over the limit": Refusal(413, "BodyTooLarge", f"{E}/hold", {"reason": "x" * 70_000}),
    "a wrong type": Refusal(422, "InvalidInput", f"{E}/manager", {"manager": 42}),
    "an unknown field": Refusal(422, "InvalidInput", f"{E}/manager", {"manager": "Sam", "colour": "red"}),
    "a missing field": Refusal(422, "InvalidInput", f"{E}/manager", {}),
    "no body": Refusal(422, "InvalidInput", f"{E}/manager"),
    "a body that is no object": Refusal(422, "InvalidInput", f"{E}/manager", ["Sam"]),
    "a date that does not exist":
        Refusal(422, "InvalidInput", f"{M}/uat/reschedule", {"to_date": "2025-02-30", "reason": "Why"}),
    "a date that is no date": Refusal(422, "InvalidInput", M, {"title": "UAT", "baseline": "soon"}),
    "a slip cause not on the list":
        Refusal(422, "InvalidInput", f"{M}/uat/reschedule",
                {"to_date": "2025-07-01", "cause": "bad_luck", "responsible_party": "vendor", **WHY}),
    "a task status not on the list":
        Refusal(422, "InvalidInput", f"{T}/done-task/status", {"to_status": "finished"}),
    "a code of the wrong shape": Refusal(422, "InvalidInput", "/engagements/x/hold", FREEZE),
    "a key of the wrong shape": Refusal(422, "InvalidInput", f"{M}/UAT!/cancel", {"reason": "Why"}),
    "a key of the wrong shape in the body":
        Refusal(422, "InvalidInput", T, {"key": "Not A Slug", "title": "X"}),
    "an empty title": Refusal(422, "InvalidInput", T, {"title": "   "}),
    "an over-long Idempotency-Key":
        Refusal(422, "InvalidInput", f"{E}/hold", FREEZE, {"Idempotency-Key": "k" * 201}),
}  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def refusing(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The refusals' scene on each store, shared: a refusal records nothing (each test checks)."""
    data = tmp_path_factory.mktemp("refusals")
    with ExitStack() as stack:
        postgres = request.param == "postgres"
        store = stack.enter_context(postgres_schema()) if postgres else sqlite_env(data / "store")
        api = stack.enter_context(serve(store, data / "http", embedded_projections=False))
        _scene_for_refusals(api)
        yield api


def _refused_and_nothing_recorded(api: Api, refusal: Refusal) -> dict[str, Any]:
    version, head = api.version(), api.head()
    headers = api.auth(refusal.who) | refusal.headers
    response = api.send(refusal.method, refusal.path, refusal.body, refusal.raw, headers)
    problem = assert_problem(response, refusal.status, refusal.rule)
    assert (api.version(), api.head()) == (version, head), "a refusal recorded something"
    assert api.status().headers["ETag"] == f'"v{version}"'
    return problem


@pytest.mark.parametrize("refusal", RULES, ids=[r.rule for r in RULES])
def test_a_broken_rule_is_a_problem_named_after_it(refusing: Api, refusal: Refusal) -> None:
    problem = _refused_and_nothing_recorded(refusing, refusal)
    assert problem["title"] == getattr(errors, refusal.rule).__doc__


@pytest.mark.parametrize("refusal", HTTP_REFUSALS.values(), ids=HTTP_REFUSALS.keys())
def test_a_request_the_edge_refuses_is_a_problem(refusing: Api, refusal: Refusal) -> None:
    _refused_and_nothing_recorded(refusing, refusal)


def test_the_error_table_tests_every_rule_of_the_domain() -> None:
    # the domain's own rules (as-of's refusals live in replay and have tests of their own)
    domain = [cls for cls in _subclasses(errors.RuleViolation) if cls.__module__ == errors.__name__]
    every_rule = {cls.__name__ for cls in domain}
    assert {r.rule for r in RULES} | {"TooManyConcurrentWriters"} == every_rule


def _subclasses(cls: type[errors.RuleViolation]) -> set[type[errors.RuleViolation]]:
    return {sub for direct in cls.__subclasses__() for sub in {direct} | _subclasses(direct)}


def test_a_chunked_body_over_the_limit_is_413_too(api: Api) -> None:
    _scene_for_refusals(api)
    head = api.head()

    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(70):
            yield b"x" * 1000
        yield b'"}'

    headers = api.auth() | {"Content-Type": "application/json"}
    response: httpx.Response = api.http.post(f"{E}/hold", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "BodyTooLarge")
    assert api.head() == head


def test_writers_that_keep_racing_a_command_get_503_and_nothing_is_recorded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scene_for_refusals(api)
    version, head = api.version(), api.head()

    def another_writer_saved_first(*_: Any, **__: Any) -> Any:
        raise IntegrityError("another writer took this version")

    monkeypatch.setattr(api.ledger, "save", another_writer_saved_first)
    monkeypatch.setattr(api.ledger, "max_attempts", 2)
    assert_problem(api.post(f"{E}/hold", {"reason": "Freeze"}), 503, "TooManyConcurrentWriters")
    monkeypatch.undo()
    assert (api.version(), api.head()) == (version, head)


def test_a_query_for_a_position_the_projections_have_not_reached_is_503_with_retry_after(api: Api) -> None:
    _scene_for_refusals(api)
    api.app.state.runner.catch_up()
    api.post(f"{E}/manager", {"manager": "Sam Okafor"})  # recorded; no runner projects it here
    response = api.send("GET", f"{E}?min_position={api.head()}", headers=api.auth())
    assert_problem(response, 503, "ProjectionBehind")
    assert response.headers["Retry-After"] == "1"


def test_a_query_for_a_position_never_recorded_is_refused_without_waiting(
    store: dict[str, str], tmp_path: Path
) -> None:
    patient = 60.0  # a wait this long would show at once; the answer must not come after it
    with serve(store, tmp_path / "http", embedded_projections=False, read_wait_seconds=patient) as api:
        _scene_for_refusals(api)
        started = time.monotonic()
        response = api.send("GET", f"{E}?min_position={api.head() + 1}", headers=api.auth())
        assert_problem(response, 422, "PositionNotRecorded")
        assert time.monotonic() - started < patient / 2, "no wait for a position no one wrote"


# Idempotency-Key ----------------------------------------------------------------------------


def _with_key(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_retried_command_answers_the_first_answer_and_records_nothing_twice(api: Api) -> None:
    api.post("/engagements", opening())
    body = {"title": "Write UAT scripts"}
    first = api.post(f"{E}/tasks", body, headers=_with_key("add-scripts-1"))
    head = api.head()
    retry = api.post(f"{E}/tasks", body, headers=_with_key("add-scripts-1"))
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    assert retry.headers["ETag"] == first.headers["ETag"] == '"v2"'
    assert retry.headers["Idempotent-Replay"] == "true"
    assert "Idempotent-Replay" not in first.headers
    assert api.head() == head
    assert api.types() == ["EngagementOpened", "TaskAdded"]


def test_the_same_idempotency_key_with_another_body_is_refused(api: Api) -> None:
    api.post("/engagements", opening())
    api.post(f"{E}/tasks", {"title": "Write UAT scripts"}, headers=_with_key("k-1"))
    head = api.head()
    reused = api.post(f"{E}/tasks", {"title": "Train key users"}, headers=_with_key("k-1"))
    assert_problem(reused, 422, "IdempotencyKeyReused")
    elsewhere = api.post(f"{E}/hold", {"reason": "Freeze"}, headers=_with_key("k-1"))
    assert_problem(elsewhere, 422, "IdempotencyKeyReused")
    other_version = api.post(f"{E}/tasks", {"title": "Write UAT scripts"},
                             headers=_with_key("k-1") | {"If-Match": '"v7"'})  # fmt: skip
    assert_problem(other_version, 422, "IdempotencyKeyReused")
    assert api.head() == head


def test_idempotency_keys_belong_to_the_principal_that_sent_them(api: Api) -> None:
    api.post("/engagements", opening())
    body = {"title": "Write UAT scripts"}
    dana = api.post(f"{E}/tasks", body, who=PMO, headers=_with_key("same-key"))
    sam = api.post(f"{E}/tasks", body, who=SAM, headers=_with_key("same-key"))
    assert (dana.json()["key"], sam.json()["key"]) == ("write-uat-scripts", "write-uat-scripts-2")
    assert "Idempotent-Replay" not in sam.headers
    assert [e.actor for e in api.ledger.history(CODE)][1:] == [PMO.sub, SAM.sub]


def test_a_refused_command_leaves_its_idempotency_key_free(api: Api) -> None:
    api.post("/engagements", opening())
    refused = api.post(f"{E}/hold", {}, headers=_with_key("hold-1"))
    assert_problem(refused, 422, "ReasonRequired")
    assert_problem(api.post(f"{E}/hold", {}, headers=_with_key("hold-1")), 422, "ReasonRequired")
    accepted = api.post(f"{E}/hold", {"reason": "Freeze"}, headers=_with_key("hold-1"))
    assert accepted.status_code == 200, accepted.text
    assert api.types() == ["EngagementOpened", "EngagementPutOnHold"]


def test_a_retry_while_the_first_request_is_still_running_is_told_so(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.post("/engagements", opening())
    running, finish = threading.Event(), threading.Event()
    execute: Callable[..., Any] = api.ledger.execute

    def slow_execute(*args: Any, **kwargs: Any) -> Any:
        running.set()
        assert finish.wait(10)
        return execute(*args, **kwargs)

    monkeypatch.setattr(api.ledger, "execute", slow_execute)
    body, headers = {"reason": "Freeze"}, _with_key("hold-2")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.post, f"{E}/hold", body, PMO, headers)
        assert running.wait(10)
        busy = api.post(f"{E}/hold", body, headers=headers)
        finish.set()
        assert first.result(timeout=10).status_code == 200
    assert_problem(busy, 409, "IdempotencyKeyBusy")
    replay = api.post(f"{E}/hold", body, headers=headers)
    assert replay.headers["Idempotent-Replay"] == "true"
    assert api.types() == ["EngagementOpened", "EngagementPutOnHold"]


# A try that failed or vanished after taking its key: the retry looks whether it was recorded.

ADD_SCRIPTS, SCRIPTS_KEY = {"title": "Write UAT scripts"}, _with_key("add-scripts-1")
CUT = psycopg.OperationalError("server closed the connection unexpectedly")


@contextmanager
def _cut_off(api: Api, monkeypatch: pytest.MonkeyPatch, after_recording: bool) -> Iterator[None]:
    """Commands fail as if the connection were cut: before anything is recorded, or once it is."""
    execute: Callable[..., Any] = api.ledger.execute

    def cut(*args: Any, **kwargs: Any) -> Any:
        if after_recording:
            execute(*args, **kwargs)
        raise CUT

    with monkeypatch.context() as patch:
        patch.setattr(api.ledger, "execute", cut)
        yield


def _one_task_recorded(api: Api, answer: httpx.Response) -> None:
    assert answer.status_code == 201, answer.text
    assert (answer.json()["version"], answer.json()["key"]) == (2, "write-uat-scripts")
    assert answer.json()["position"] == api.head()
    assert api.types() == ["EngagementOpened", "TaskAdded"]


@pytest.mark.parametrize("after_recording", [True, False], ids=["after recording", "before recording"])
def test_a_retry_after_a_try_was_cut_off_records_the_command_exactly_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, after_recording: bool
) -> None:
    api.post("/engagements", opening())
    with _cut_off(api, monkeypatch, after_recording):
        cut = api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)
    assert_problem(cut, 503, "DatabaseUnavailable")

    retry = api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)

    _one_task_recorded(api, retry)
    assert ("Idempotent-Replay" in retry.headers) is after_recording
    again = api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)
    assert (again.content, again.headers["Idempotent-Replay"]) == (retry.content, "true")


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_key_whose_try_vanished_after_recording_is_taken_over_once_its_lease_runs_out(
    store: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(store, tmp_path / "http", embedded_projections=False, idempotency_lease_seconds=0.5) as api:
        api.post("/engagements", opening())
        # A killed process neither answers nor lets go of its key.
        monkeypatch.setattr(api.app.state.idempotency, "_let_go", lambda *_, **__: None)
        lease_ends = time.monotonic() + 0.5  # at the earliest: the key is taken after this
        with _cut_off(api, monkeypatch, after_recording=True):
            api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)

        busy = api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)
        assert_problem(busy, 409, "IdempotencyKeyBusy")
        assert busy.headers["Retry-After"] == "1"
        while (retry := api.post(f"{E}/tasks", ADD_SCRIPTS, headers=SCRIPTS_KEY)).status_code == 409:
            assert time.monotonic() < lease_ends + 5, "the key was never taken over"
            time.sleep(0.05)

        assert time.monotonic() >= lease_ends
        _one_task_recorded(api, retry)
        assert retry.headers["Idempotent-Replay"] == "true"


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_key_left_without_an_answer_before_keys_had_leases_is_taken_over_at_once(
    store: dict[str, str],
) -> None:
    with Ledger(store) as ledger:
        db = open_projection_db(ledger.settings)
    try:
        with db.transaction() as tx:
            tx.execute(idempotency.SCHEMA)  # the table as it was made before
            tx.execute("INSERT INTO idempotency_keys (principal, key, fingerprint) VALUES ('dana', 'k', 'f')")
        idempotency.IdempotencyKeys(db)
        keys = idempotency.IdempotencyKeys(db)  # made twice, as each API worker does
        told: list[bool] = []

        def run(retried: bool) -> idempotency.Answer:
            told.append(retried)
            return idempotency.Answer(200, b"{}", {})

        assert keys.once("dana", "k", "f", run).status == 200
        assert told == [True]
        assert keys.once("dana", "k", "f", run).headers == {"Idempotent-Replay": "true"}
        assert told == [True]
    finally:
        db.close()
