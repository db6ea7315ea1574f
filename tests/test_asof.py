"""As-of over HTTP and the command line: the past answers exactly what the live routes showed then.

The story records the demo and dozens more changes (two clients, internal notes, staffing,
a hold, a close, past the first snapshot at version 100), and after each one keeps what the
live status, slips and change-log routes answered. Only once everything is recorded are the
as-of answers asked for, by version and by time, and compared with what was kept.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.cli import main
from api.demo import CODE, demo_steps, seed_demo
from api.http import schemas
from api.http.app import create_app
from api.http.auth import Tokens
from api.http.settings import HttpSettings
from bench import synthetic
from domain import events as ev
from domain.service import Ledger
from domain.state import Engagement, evolve
from domain.store import read_log, sqlite_env
from projections import audit
from projections.base import Change
from replay.asof import History
from replay.asof_rows import status_of
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who
from tests.support import StepClock, postgres_schema

SECRET = SecretStr("test-secret-" + "a" * 32)
OTHER = "GLOBEX-CRM"
NOTES = ("Margin on hypercare is 12%", "Vendor owes us delay credits", "globex only: churn risk")
PAGES: tuple[dict[str, int], ...] = (
    {"limit": 1000},
    {"limit": 7},
    {"after": 12, "limit": 7},
    {"after": 52, "limit": 5},  # a position of the other engagement's: found by the slower path
)
AFTER_DEMO = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Api:
    http: TestClient
    tokens: Tokens
    app: FastAPI

    def get(self, url: str, who: Who | None = PMO, /, **params: Any) -> httpx.Response:
        headers = {}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens.issue(who.sub, who.role, who.client_id)}"
        response: httpx.Response = self.http.get(url, params=params, headers=headers)
        return response

    def json(self, url: str, who: Who | None = PMO, /, **params: Any) -> Any:
        response = self.get(url, who, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, url: str, body: dict[str, Any]) -> None:
        token = self.tokens.issue(PMO.sub, PMO.role, PMO.client_id)
        response = self.http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), response.text

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.app.state.ledger
        return ledger

    def catch_up(self) -> None:
        self.app.state.runner.catch_up()


@dataclass
class Seen:
    """What the live routes answered while an engagement stood at one version."""

    status: dict[str, Any]
    slips: dict[str, Any]
    pages: list[dict[str, Any]]

    @property
    def recorded_at(self) -> datetime:
        return datetime.fromisoformat(self.status["last_changed_at"])


@dataclass
class Story:
    api: Api
    seen: dict[str, dict[int, Seen]] = field(default_factory=dict)

    def record(self, code: str) -> None:
        """Keep what the live routes answer now, once the projections have caught up."""
        self.api.catch_up()
        status = self.api.json(f"/engagements/{code}")
        pages = [self.api.json(f"/engagements/{code}/changelog", **p) for p in PAGES]
        slips = self.api.json(f"/engagements/{code}/slips")
        self.seen.setdefault(code, {})[status["version"]] = Seen(status, slips, pages)

    def version_by(self, code: str, at: datetime) -> int:
        """The latest version of ``code`` recorded at or before ``at``, from what was kept."""
        versions = sorted(self.seen[code])
        times = [self.seen[code][v].recorded_at for v in versions]
        return versions[bisect.bisect_right(times, at) - 1]


def _more_changes() -> Iterator[tuple[str, dict[str, Any]]]:
    """Another client's engagement, then dozens of changes to the demo's, ending with its close."""
    a, g = f"/engagements/{CODE}", f"/engagements/{OTHER}"
    yield "/engagements", {
        "code": OTHER, "title": "CRM", "client_id": "globex", "client_name": "Globex Corp",
        "manager": "Eve Adams", "planned_start": "2026-11-01", "planned_end": "2027-03-31",
    }  # fmt: skip
    yield f"{g}/milestones", {"key": "kickoff", "title": "Kick-off", "baseline": "2026-11-09"}
    yield f"{g}/milestones/kickoff/reschedule", {
        "to_date": "2026-11-23", "reason": "Client away", "cause": "client_dependency",
        "responsible_party": "client", "internal_note": NOTES[2],
    }  # fmt: skip
    yield f"{g}/tasks", {"key": "crm-setup", "title": "CRM set-up", "milestone_key": "kickoff"}
    yield f"{g}/tasks/crm-setup/assign", {"assignee": "eve"}
    yield f"{a}/scope-items", {
        "key": "hypercare", "title": "Hypercare", "reason": "Client asked for support",
        "change_ref": "CR-21", "internal_note": NOTES[0],
    }  # fmt: skip
    yield f"{a}/milestones", {"key": "hypercare-exit", "title": "Hypercare exit", "baseline": "2026-12-18"}
    for n in range(4):
        yield f"{a}/tasks", {"key": f"fix-{n}", "title": f"Fix batch {n}", "milestone_key": "hypercare-exit"}
    forecast = date(2026, 12, 18)
    for k in range(12):
        later = k % 2 == 0
        forecast += timedelta(days=3 if later else -1)
        why = (
            {"cause": "vendor_delay", "responsible_party": "vendor", "internal_note": NOTES[1]}
            if later
            else {}
        )
        yield f"{a}/milestones/hypercare-exit/reschedule", {
            "to_date": forecast.isoformat(), "reason": f"Patch wave {k}", **why,
        }  # fmt: skip
        yield f"{a}/tasks/fix-{k % 4}/assign", {"assignee": f"person-{k}"}
        status = ("in_progress", "blocked", "in_progress")[k // 4]
        yield f"{a}/tasks/fix-{k % 4}/status", {"to_status": status, "reason": "Waiting on the vendor patch"}
        yield f"{a}/scope-items/hypercare/revise", {"title": f"Hypercare, wave {k}", "reason": "Next wave"}
    yield f"{a}/milestones/hypercare-exit/rebaseline", {
        "to_date": forecast.isoformat(), "change_ref": "CR-30", "approved_by": "J. Ortega",
        "reason": "Steering committee accepted the vendor plan",
    }  # fmt: skip
    yield f"{a}/hold", {"reason": "Year-end freeze", "effective_on": "2026-11-01"}
    yield f"{a}/resume", {"reason": "Freeze lifted"}
    yield f"{a}/close", {"reason": "Hypercare handed over"}


def _stopped(moment: datetime) -> Callable[[], datetime]:
    """A clock that always reads ``moment``: the demo's scripted timeline."""
    return lambda: moment


def _tell(story: Story) -> None:
    ledger = story.api.ledger
    for step in demo_steps():
        ledger.clock = _stopped(step.at)
        ledger.execute(step.command, actor=step.actor)
        story.record(CODE)
    ledger.clock = StepClock(AFTER_DEMO)
    for url, body in _more_changes():
        story.api.post(url, body)
        story.record(OTHER if OTHER in url or body.get("code") == OTHER else CODE)


@contextmanager
def serving(store: dict[str, str], data: Path) -> Iterator[Api]:
    """The API over ``store``, its projections brought up to date only when asked."""
    settings = HttpSettings(data_dir=data, jwt_secret=SECRET, embedded_projections=False)
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        yield Api(client, Tokens(settings), app)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def story(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The whole story told once per store, with what the live routes showed after each change."""
    folder = tmp_path_factory.mktemp("asof")
    with _store(request.param, folder) as store, serving(store, folder / "http") as api:
        told = Story(api)
        _tell(told)
        yield told


@contextmanager
def _store(kind: str, folder: Path) -> Iterator[dict[str, str]]:
    """The ``store`` fixture's two stores, for a fixture that lives as long as the module."""
    if kind == "sqlite":
        yield sqlite_env(folder / "data")
        return
    with postgres_schema() as env:
        yield env


# The story, by version and by time


def test_the_story_passes_the_first_snapshot_and_ends_closed(story: Story) -> None:
    versions = sorted(story.seen[CODE])
    assert versions == list(range(1, versions[-1] + 1))
    assert versions[-1] > story.api.ledger.snapshot_interval
    assert story.seen[CODE][versions[-1]].status["state"] == "closed"
    assert sorted(story.seen[OTHER]) == [1, 2, 3, 4, 5]


def test_as_of_each_version_answers_what_the_live_routes_showed_then(story: Story) -> None:
    for code, seen in story.seen.items():
        for version, then in seen.items():
            point = {"version": version}
            status = story.api.get(f"/engagements/{code}/as-of", **point)
            assert status.json() == then.status, (code, version)
            assert status.headers["ETag"] == f'"v{version}"'
            assert story.api.json(f"/engagements/{code}/as-of/slips", **point) == then.slips, (code, version)
            for params, page in zip(PAGES, then.pages, strict=True):
                asked = story.api.json(f"/engagements/{code}/as-of/changelog", **point, **params)
                assert asked == page, (code, version, params)


def test_as_of_a_recorded_time_answers_the_latest_version_recorded_by_then(story: Story) -> None:
    for code, seen in story.seen.items():
        for then in seen.values():
            at = then.recorded_at.isoformat()
            expected = seen[story.version_by(code, then.recorded_at)]
            assert story.api.json(f"/engagements/{code}/as-of", at=at) == expected.status, (code, at)
            assert story.api.json(f"/engagements/{code}/as-of/slips", at=at) == expected.slips, (code, at)
            changelog = story.api.json(f"/engagements/{code}/as-of/changelog", at=at, **PAGES[0])
            assert changelog == expected.pages[0], (code, at)


def test_several_events_recorded_at_one_time_are_all_in_the_answer_for_that_time(story: Story) -> None:
    scope_added = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # five scope items in one minute
    same_time = [v for v, then in story.seen[CODE].items() if then.recorded_at == scope_added]
    assert same_time == [2, 3, 4, 5, 6]
    answer = story.api.json(f"/engagements/{CODE}/as-of", at="2026-01-05T09:30:00Z")
    assert answer["version"] == 6
    assert len(answer["scope"]) == 5


def test_a_time_between_two_events_answers_the_earlier_one(story: Story) -> None:
    seen = story.seen[CODE]
    for version in sorted(seen)[:-1]:
        now, after = seen[version].recorded_at, seen[version + 1].recorded_at
        if after > now:
            between = (now + (after - now) / 2).isoformat()
            assert story.api.json(f"/engagements/{CODE}/as-of", at=between) == seen[version].status
    last = seen[max(seen)]
    forever = story.api.json(f"/engagements/{CODE}/as-of", at="2999-01-01")
    assert forever == last.status
    in_another_zone = (last.recorded_at + timedelta(hours=2)).astimezone().isoformat()
    assert story.api.json(f"/engagements/{CODE}/as-of", at=in_another_zone) == last.status


# Who sees what


def _as_a_client_sees_it(status: dict[str, Any]) -> dict[str, Any]:
    """A status as the PMO read it, less what clients never see: who works on which task."""
    return {**status, "tasks": [{k: v for k, v in t.items() if k != "assignee"} for t in status["tasks"]]}


@pytest.mark.parametrize("who", [AUDITOR, ACME], ids=lambda w: w.role.value)
def test_auditors_and_the_client_see_the_same_past_as_the_pmo_the_client_less_assignees(
    story: Story, who: Who
) -> None:
    for version in (1, 27, 50, 100, max(story.seen[CODE])):
        then = story.seen[CODE][version]
        expected = _as_a_client_sees_it(then.status) if who is ACME else then.status
        assert story.api.json(f"/engagements/{CODE}/as-of", who, version=version) == expected
        assert story.api.json(f"/engagements/{CODE}/as-of/slips", who, version=version) == then.slips
        changelog = story.api.json(f"/engagements/{CODE}/as-of/changelog", who, version=version, limit=1000)
        assert changelog == then.pages[0]


def test_another_clients_engagement_is_not_found_as_if_it_did_not_exist(story: Story) -> None:
    assert story.api.json(f"/engagements/{OTHER}/as-of", GLOBEX, version=3)["version"] == 3
    for route in ("", "/slips", "/changelog"):
        for who, code in [(GLOBEX, CODE), (ACME, OTHER), (PMO, "NO-SUCH"), (GLOBEX, "NO-SUCH")]:
            response = story.api.get(f"/engagements/{code}/as-of{route}", who, version=1)
            assert response.status_code == 404, (route, who, code)
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert (body["rule"], body["detail"]) == (
                "EngagementNotFound", f"no engagement {code} that you may see"
            )  # fmt: skip
        assert story.api.get(f"/engagements/{CODE}/as-of{route}", GLOBEX, version=99999).status_code == 404
        assert story.api.get(f"/engagements/{CODE}/as-of{route}", None, version=1).status_code == 401


@pytest.mark.parametrize("who", [PMO, AUDITOR, ACME, GLOBEX], ids=lambda w: f"{w.role.value}-{w.sub}")
def test_internal_notes_and_staffing_never_reach_the_as_of_change_log(story: Story, who: Who) -> None:
    code = OTHER if who is GLOBEX else CODE
    for version in sorted(story.seen[code])[-3:]:
        response = story.api.get(f"/engagements/{code}/as-of/changelog", who, version=version, limit=1000)
        assert response.status_code == 200
        assert not any(note in response.text for note in NOTES)
        assert "internal_note" not in response.text
        assert "TaskAssigned" not in {i["type"] for i in response.json()["items"]}
    trail = story.api.json(f"/engagements/{code}/audit", PMO, limit=1000)["items"]
    assert any(r["internal_note"] in NOTES for r in trail), "the notes are there for staff"


# Refusals


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"version": 0}, "InvalidInput"),
        ({"version": -1}, "InvalidInput"),
        ({"version": "seven"}, "InvalidInput"),
        ({"version": 10_000}, "VersionNotRecorded"),
        ({}, "VersionOrTimeRequired"),
        ({"version": 3, "at": "2026-03-16"}, "VersionOrTimeRequired"),
        ({"at": "2026-01-05T08:59:59Z"}, "BeforeEngagementOpened"),
        ({"at": "yesterday"}, "InvalidInput"),
        ({"at": "1700000000"}, "InvalidInput"),
        ({"version": 1, "limit": 0}, "InvalidInput"),
        ({"version": 1, "after": -1}, "InvalidInput"),
    ],
    ids=lambda p: str(p),
)
def test_a_point_that_names_no_version_is_a_422_problem_and_records_nothing(
    story: Story, params: dict[str, Any], rule: str
) -> None:
    recorded = story.api.ledger.recorder.max_notification_id()
    routes = ["", "/slips", "/changelog"]
    for route in routes if "limit" not in params and "after" not in params else ["/changelog"]:
        response = story.api.get(f"/engagements/{CODE}/as-of{route}", PMO, **params)
        assert response.status_code == 422, (route, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["rule"] == rule
        assert response.json()["detail"]
    assert story.api.ledger.recorder.max_notification_id() == recorded


def test_refusals_say_what_the_engagement_has(story: Story) -> None:
    current = max(story.seen[CODE])
    beyond = story.api.get(f"/engagements/{CODE}/as-of", version=current + 1).json()
    assert beyond["detail"] == f"{CODE} has versions 1 to {current}; there is no version {current + 1}"
    early = story.api.get(f"/engagements/{CODE}/as-of", at="2026-01-01").json()
    assert early["detail"] == (
        f"{CODE} was opened at 2026-01-05T09:00:00+00:00; "
        "nothing was recorded at or before 2026-01-01T00:00:00+00:00"
    )


def test_the_as_of_routes_are_documented(story: Story) -> None:
    paths = story.api.http.get("/openapi.json").json()["paths"]
    for route in ("", "/slips", "/changelog"):
        operation = paths[f"/engagements/{{code}}/as-of{route}"]["get"]
        assert operation["summary"]
        assert {p["name"] for p in operation["parameters"]} >= {"code", "version", "at"}
    answers = {
        r: paths[f"/engagements/{{code}}/as-of{r}"]["get"]["responses"]["200"]
        for r in ("/slips", "/changelog")
    }
    schemas.Slips.model_validate(answers["/slips"]["content"]["application/json"]["example"])
    schemas.Page[schemas.Change].model_validate(
        answers["/changelog"]["content"]["application/json"]["example"]
    )
    assert "text/csv" not in answers["/changelog"]["content"]


# A long stream: snapshots and pages


def _folded(ledger: Ledger) -> list[Change]:
    """Every change of the log read from its start, each state folded from the first event."""
    changes: list[Change] = []
    states: dict[UUID, Engagement] = {}
    for position, stored in read_log(ledger.recorder, 0, 100_000):
        event = ledger.mapper.to_domain_event(stored)
        assert isinstance(event, ev.Event)
        before = states.get(event.originator_id)
        states[event.originator_id] = after = evolve(before, event)
        changes.append(Change(position, event, before, after))
    return changes


def test_a_long_streams_past_from_its_snapshots_equals_a_fold_from_the_first_event(
    store: dict[str, str],
) -> None:
    with Ledger(store) as ledger:
        synthetic.load(ledger, engagements=2, events_each=260, chunk=37)
        changes = [c for c in _folded(ledger) if c.after.code == "SYN-00001"]
        history = History.of(ledger, "SYN-00001")
        assert history.current == 260
        for change in changes:
            version = change.event.originator_version
            assert history.status(version) == status_of(change), version
            assert history.version_at(change.event.timestamp) == version
            assert history.version_at(change.event.timestamp + timedelta(seconds=30)) == version
        visible = [audit.row(c) for c in changes if type(c.event) not in audit.INTERNAL_TYPES]
        paged: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = history.changelog(260, after, limit=13)
            paged += page.rows
            after = page.next_after
        assert [r["position"] for r in paged] == [r[0] for r in visible]
        assert [r["summary"] for r in paged] == [r[audit.COLUMNS.index("summary")] for r in visible]


def test_without_snapshots_the_past_is_folded_from_the_first_event_and_comes_out_the_same(
    store: dict[str, str],
) -> None:
    with Ledger(store) as ledger:
        synthetic.load(ledger, engagements=1, events_each=230)
        with_snapshots = History.of(ledger, "SYN-00000")
        with Ledger(store | {"IS_SNAPSHOTTING_ENABLED": "n"}) as plain:
            assert plain.snapshots is None
            without = History.of(plain, "SYN-00000")
            for version in (1, 99, 100, 101, 199, 200, 230):
                assert without.status(version) == with_snapshots.status(version), version
            assert without.slips(230) == with_snapshots.slips(230)


def test_a_change_log_page_in_the_middle_of_a_long_stream_is_the_same_page_read_from_the_start(
    store: dict[str, str],
) -> None:
    with Ledger(store) as ledger:
        synthetic.load(ledger, engagements=1, events_each=230)
        history = History.of(ledger, "SYN-00000")
        everything = history.changelog(230, 0, limit=1000).rows
        middle = everything[150]["position"]
        page = history.changelog(230, middle, limit=20)
        assert page.rows == everything[151:171]
        assert page.next_after == everything[170]["position"]
        assert history.changelog(120, middle, limit=20).rows == []


# The command line


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    seed_demo(sqlite_env(tmp_path / "data"))
    return tmp_path / "data"


def test_ledger_as_of_prints_the_engagement_as_it_stood(
    demo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(demo_folder), "as-of", CODE.lower(), "--version", "22"]) == 0
    by_version = capsys.readouterr().out
    assert by_version.startswith(
        f"{CODE} as of version 22 of {len(demo_steps())}, recorded 2026-03-16 10:00:00"
    )
    assert "state active; health amber (1 task blocked); 1 of 5 tasks done (20%)" in by_version
    assert "design-signoff           achieved   2026-02-27  2026-03-04  2026-03-04     +5" in by_version
    assert main(["--data", str(demo_folder), "as-of", CODE, "--at", "2026-03-16T10:29:59Z"]) == 0
    assert capsys.readouterr().out == by_version


def test_ledger_as_of_json_is_what_the_api_answers(demo_folder: Path, tmp_path: Path) -> None:
    store = sqlite_env(demo_folder)
    with serving(store, tmp_path / "http") as api:
        api.catch_up()
        live = {
            "engagement": api.json(f"/engagements/{CODE}"),
            "slips": api.json(f"/engagements/{CODE}/slips"),
            "changelog": api.json(f"/engagements/{CODE}/changelog", limit=1000)["items"],
        }
    printed = _printed(
        ["--data", str(demo_folder), "as-of", CODE, "--version", str(len(demo_steps())), "--json"]
    )
    assert orjson.loads(printed) == live


def _printed(argv: list[str]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["NOPE-1", "--version", "1"], "ledger: EngagementNotFound: no engagement NOPE-1"),
        ([CODE, "--version", "0"], "ledger: VersionNotRecorded: ACME-ERP has versions 1 to"),
        ([CODE, "--at", "2025-12-31"], "ledger: BeforeEngagementOpened: ACME-ERP was opened at"),
    ],
)
def test_ledger_as_of_refuses_a_point_with_the_rule_it_breaks(
    demo_folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["--data", str(demo_folder), "as-of", *argv]) == 2
    assert capsys.readouterr().err.startswith(message)


@pytest.mark.parametrize(
    "argv", [[CODE], [CODE, "--version", "3", "--at", "2026-03-16"], [CODE, "--at", "yesterday"]]
)
def test_ledger_as_of_needs_exactly_one_well_formed_point(
    demo_folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--data", str(demo_folder), "as-of", *argv])
    assert exit_.value.code == 2
    assert "usage: ledger as-of" in capsys.readouterr().err
