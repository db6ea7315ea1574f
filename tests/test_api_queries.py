"""Query routes over HTTP: milestones, slips, the change log and the audit trail, for every role."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, TypeAdapter

from api.demo import CODE as DEMO
from api.demo import seed_demo
from api.http import tabular
from api.http.app import create_app
from api.http.auth import Tokens
from api.http.exports import AUDIT_COLUMNS, CHANGELOG_COLUMNS, CLIENT_AUDIT_COLUMNS
from api.http.schemas import AuditRow, Change, Milestone, Page, Slips
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from domain.values import ResponsibleParty, SlipCause
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who
from tests.support import StepClock, opened

SECRET = SecretStr("test-secret-" + "q" * 32)
OTHER = "GLOBEX-CRM"
FORMULA = "=SUM(1)"
NOTES = ("Vendor contract clause 7.2", "Escalated to ACME IT", "Priya moves to the WMS", "globex only")


EVERYONE = [PMO, AUDITOR, ACME]


@dataclass(frozen=True)
class Api:
    http: TestClient
    tokens: Tokens

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

    def csv(self, url: str, who: Who | None = PMO, /, **params: Any) -> list[list[str]]:
        response = self.get(url, who, format="csv", **params)
        assert response.status_code == 200, response.text
        return list(csv.reader(io.StringIO(response.text, newline="")))


def _record_more(store: dict[str, str]) -> None:
    """A second client's engagement (with an internal note) and a scope item that looks like a formula."""
    with Ledger(store, clock=StepClock(datetime(2026, 11, 1, tzinfo=UTC))) as ledger:
        ledger.execute(
            opened(code=OTHER, client_id="globex", client_name="Globex Corp",
                   planned_start=date(2026, 11, 1), planned_end=date(2027, 3, 31)),
            "eve",
        )  # fmt: skip
        ledger.execute(
            c.PlanMilestone(code=OTHER, key="kickoff", title="Kick-off", baseline=date(2026, 11, 9)), "eve"
        )
        ledger.execute(
            c.RescheduleMilestone(
                code=OTHER, key="kickoff", to_date=date(2026, 11, 23), reason="Client away",
                cause=SlipCause.CLIENT_DEPENDENCY, responsible_party=ResponsibleParty.CLIENT,
                internal_note="globex only",
            ),
            "eve",
        )  # fmt: skip
        ledger.execute(
            c.AddScopeItem(code=DEMO, key="formula", title=FORMULA, reason="=SUM(1)+1 as the client asked",
                           change_ref="@CR-12", internal_note="-2 days of effort, not billed"),
            PMO.sub,
        )  # fmt: skip


def _api(store: dict[str, str], data: Path, **settings: Any) -> Iterator[Api]:
    http_settings = HttpSettings(data_dir=data, jwt_secret=SECRET, **settings)
    app = create_app(http_settings, store=store)
    with TestClient(app) as client:
        if not http_settings.embedded_projections:
            app.state.runner.catch_up()
        yield Api(client, Tokens(http_settings))


@pytest.fixture
def api(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """The demo engagement, a second client's and a formula-like scope item, projected, served."""
    seed_demo(store)
    _record_more(store)
    yield from _api(store, tmp_path / "http", embedded_projections=False)


@pytest.fixture
def live(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """An empty ledger whose projections follow in the API process, as in the embedded set-up."""
    yield from _api(store, tmp_path / "http", embedded_projections=True, read_wait_seconds=0.5)


@pytest.fixture
def many(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """Seven engagements, five of them ACME's and two Globex's, projected, served."""
    with Ledger(store) as ledger:
        for n, client in enumerate(["acme", "globex", "acme", "acme", "globex", "acme", "acme"]):
            ledger.execute(opened(code=f"E{n}-{client.upper()}", client_id=client), PMO.sub)
    yield from _api(store, tmp_path / "http", embedded_projections=False)


# The portfolio


@pytest.mark.parametrize(("who", "limit", "sizes"), [
    (PMO, 2, [2, 2, 2, 1]), (PMO, 7, [7]), (PMO, 500, [7]), (ACME, 2, [2, 2, 1]), (ACME, 5, [5]),
], ids=str)  # fmt: skip
def test_the_portfolio_comes_a_page_at_a_time_each_naming_the_next(
    many: Api, who: Who, limit: int, sizes: list[int]
) -> None:
    pages, params = [], {"limit": str(limit)}
    while params:
        response = many.get("/engagements", who, **params)
        assert response.status_code == 200, response.text
        pages.append([engagement["code"] for engagement in response.json()])
        following = httpx.URL(response.links.get("next", {}).get("url", "/engagements"))
        assert following.path == "/engagements"
        params = dict(following.params)
    assert [len(page) for page in pages] == sizes
    assert [code for page in pages for code in page] == [e["code"] for e in many.json("/engagements", who)]
    assert {code.split("-")[1] for page in pages for code in page} == (
        {"ACME"} if who is ACME else {"ACME", "GLOBEX"}
    )


def test_a_page_after_the_last_code_is_empty_and_names_no_next(many: Api) -> None:
    response = many.get("/engagements", PMO, after="E6-ACME", limit=2)
    assert (response.status_code, response.json(), response.links) == (200, [], {})
    assert [e["code"] for e in many.json("/engagements", PMO, after="e4-globex")] == ["E5-ACME", "E6-ACME"]


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 5001}, {"limit": "all"}, {"after": "no such!"}, {"after": "E0\x00"},
], ids=str)  # fmt: skip
def test_portfolio_paging_that_cannot_be_followed_is_a_422_problem(many: Api, params: dict[str, Any]) -> None:
    response = many.get("/engagements", PMO, **params)
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "InvalidInput"


def _staff_trail(api: Api, code: str = DEMO) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.json(f"/engagements/{code}/audit", limit=1000)["items"]
    return items


# Milestones and slips


@pytest.mark.parametrize("who", EVERYONE, ids=lambda w: w.role.value)
def test_milestones_give_three_dates_and_the_slip_against_both_baselines(api: Api, who: Who) -> None:
    response = api.get(f"/engagements/{DEMO}/milestones", who)
    milestones = {m["key"]: m for m in response.json()}
    TypeAdapter(list[Milestone]).validate_python(response.json())
    assert milestones["go-live"] == {
        "key": "go-live", "title": "Go-live", "status": "achieved", "baseline": "2026-09-28",
        "original_baseline": "2026-08-31", "forecast": "2026-10-02", "actual": "2026-10-02",
        "slip_days": 4, "slip_vs_original_days": 32,
    }  # fmt: skip
    assert milestones["portal-pilot"]["status"] == "cancelled"
    assert milestones["portal-pilot"]["slip_days"] is None
    assert response.headers["ETag"] == api.get(f"/engagements/{DEMO}", who).headers["ETag"]


@pytest.mark.parametrize("who", EVERYONE, ids=lambda w: w.role.value)
def test_slips_give_the_history_the_mta_lines_and_their_attribution(api: Api, who: Who) -> None:
    slips = api.json(f"/engagements/{DEMO}/slips", who)
    Slips.model_validate(slips)
    go_live = [r for r in slips["history"] if r["milestone_key"] == "go-live"]
    assert [r["kind"] for r in go_live] == [
        "planned",
        "rescheduled",
        "rebaselined",
        "rescheduled",
        "achieved",
    ]
    assert go_live[2]["approved_by"] == "J. Ortega (ACME steering committee)"
    assert (go_live[2]["slip_days"], go_live[2]["slip_vs_original_days"]) == (0, 28)
    line = next(s for s in slips["mta"] if s["key"] == "go-live")
    assert line["status"] == "achieved"
    assert [p["forecast"] for p in line["points"]] == [
        "2026-08-31", "2026-09-28", "2026-09-28", "2026-10-02", "2026-10-02",
    ]  # fmt: skip
    assert line["points"][0]["recorded_at"] == "2026-01-06T10:00:00+00:00"
    blame = slips["attribution"]
    assert blame["overall"] == {"gross": 77, "recoveries": 3, "net": 74}
    assert blame["by_party"]["pmo"] == {"gross": 0, "recoveries": 3, "net": -3}
    assert (blame["rebaselines"], blame["rebaseline_days"]) == (1, 28)
    assert {r["code"] for r in slips["history"]} == {DEMO}


def test_a_client_sees_its_own_engagements_and_a_404_for_any_other(api: Api) -> None:
    assert api.json(f"/engagements/{OTHER}/slips", GLOBEX)["history"][1]["delta_days"] == 14
    routes = ["", "/milestones", "/slips", "/changelog", "/audit"]
    for route in routes:
        for who, code in [(GLOBEX, DEMO), (ACME, OTHER), (PMO, "NO-SUCH")]:
            response = api.get(f"/engagements/{code}{route}", who)
            assert response.status_code == 404, (route, who, code)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["rule"] == "EngagementNotFound"
        assert api.get(f"/engagements/{DEMO}{route}", GLOBEX, format="csv").status_code == 404
        assert api.get(f"/engagements/{DEMO}{route}", None).status_code == 401


def test_a_client_never_sees_who_works_on_a_task(api: Api) -> None:
    staff = api.json(f"/engagements/{DEMO}")
    assert any(task["assignee"] for task in staff["tasks"])  # the demo assigns some
    client = api.json(f"/engagements/{DEMO}", ACME)
    assert [task["key"] for task in client["tasks"]] == [task["key"] for task in staff["tasks"]]
    assert not any("assignee" in task for task in client["tasks"])

    def added(url: str, who: Who) -> list[dict[str, Any]]:
        items = api.json(url, who, limit=1000)["items"]
        return [row["after"] for row in items if row["type"] == "TaskAdded"]

    assert any("assignee" in after for after in added(f"/engagements/{DEMO}/audit", PMO))
    for url in (f"/engagements/{DEMO}/audit", f"/engagements/{DEMO}/changelog"):
        seen = added(url, ACME)
        assert seen, url
        assert not any("assignee" in after for after in seen), url
    assert "assignee" not in api.get(f"/engagements/{DEMO}/changelog", ACME, format="csv").text


# The change log


@pytest.mark.parametrize("who", EVERYONE, ids=lambda w: w.role.value)
def test_the_change_log_is_the_client_view_for_every_role(api: Api, who: Who) -> None:
    response = api.get(f"/engagements/{DEMO}/changelog", who, limit=1000)
    page = response.json()
    Page[Change].model_validate(page)
    staff = _staff_trail(api)
    assert [tuple(item) for item in page["items"]] == [CHANGELOG_COLUMNS] * len(page["items"])
    assert [i["position"] for i in page["items"]] == [
        r["position"] for r in staff if r["type"] != "TaskAssigned"
    ]
    assert page["next_after"] is None
    assert not any(note in response.text for note in NOTES)
    assert "internal_note" not in response.text
    moved = next(i for i in page["items"] if i["position"] == 27)
    assert moved["before"] == {"forecast": "2026-06-12"}
    assert (
        moved["summary"]
        == "Milestone 'Build complete' moved 2026-06-12 -> 2026-06-19 (+7 days): vendor delay"
    )
    assert response.headers["ETag"] == '"v51"'


def test_the_change_log_as_csv_is_a_download_with_a_header(api: Api) -> None:
    response = api.get(f"/engagements/{DEMO}/changelog", ACME, format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{DEMO}-changelog.csv"'
    header, *rows = csv.reader(io.StringIO(response.text, newline=""))
    assert tuple(header) == CHANGELOG_COLUMNS
    assert rows[0][:6] == ["1", "2026-01-05T09:00:00+00:00", "", "EngagementOpened", "engagement", DEMO]
    moved = next(r for r in rows if r[0] == "27")
    assert dict(zip(header, moved, strict=True)) == {
        "position": "27", "recorded_at": "2026-04-20T16:30:00+00:00", "effective_on": "",
        "type": "MilestoneRescheduled", "category": "milestone", "subject": "build-complete",
        "summary": "Milestone 'Build complete' moved 2026-06-12 -> 2026-06-19 (+7 days): vendor delay",
        "before": '{"forecast":"2026-06-12"}', "after": '{"forecast":"2026-06-19"}',
        "reason": "Tax engine patch from the ERP vendor arrived late", "change_ref": "",
        "actor": "dana.whitfield",
    }  # fmt: skip
    assert len(rows) == len(api.json(f"/engagements/{DEMO}/changelog", ACME, limit=1000)["items"])
    assert not any(note in response.text for note in NOTES)


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(api: Api) -> None:
    header, *rows = api.csv(f"/engagements/{DEMO}/changelog", ACME, category="scope")
    added = dict(zip(header, rows[-1], strict=True))
    assert added["subject"] == "formula"
    assert added["reason"] == "'=SUM(1)+1 as the client asked"
    assert added["change_ref"] == "'@CR-12"
    assert added["summary"] == "Scope item '=SUM(1)' added"  # a formula only where a cell starts
    assert '"title":"=SUM(1)"' in added["after"]
    assert all(r[0].isdigit() for r in rows)  # numbers stay numbers
    header, *rows = api.csv(f"/engagements/{DEMO}/audit", PMO, subject="formula")
    assert dict(zip(header, rows[0], strict=True))["internal_note"] == "'-2 days of effort, not billed"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=SUM(1)", "'=SUM(1)"), ("+1", "'+1"), ("-3", "'-3"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
        ("\rx", "'\rx"), ("plain", "plain"), ("", ""), (-3, -3), (0, 0), (None, None),
    ],
)  # fmt: skip
def test_only_text_cells_are_quoted(value: Any, written: Any) -> None:
    assert tabular.cell(value) == written


# The audit trail


@pytest.mark.parametrize("who", [PMO, AUDITOR], ids=lambda w: w.role.value)
def test_staff_read_the_full_trail_of_an_engagement(api: Api, who: Who) -> None:
    page = api.json(f"/engagements/{DEMO}/audit", who, limit=1000)
    Page[AuditRow].model_validate(page)
    rows = {r["position"]: r for r in page["items"]}
    assert tuple(rows[27]) == AUDIT_COLUMNS
    assert rows[27]["internal_note"] == "Vendor contract clause 7.2 (delay credits) may apply"
    assigned = [r for r in rows.values() if r["type"] == "TaskAssigned"]
    assert [(r["subject"], r["client_visible"]) for r in assigned] == [("uat-scripts", False)]
    assert {r["code"] for r in rows.values()} == {DEMO}
    header, *lines = api.csv(f"/engagements/{DEMO}/audit", who)
    assert tuple(header) == AUDIT_COLUMNS
    assert len(lines) == len(rows)


def test_a_client_reads_the_client_view_of_its_own_audit_trail(api: Api) -> None:
    response = api.get(f"/engagements/{DEMO}/audit", ACME, limit=1000)
    items = response.json()["items"]
    Page[AuditRow].model_validate(response.json())
    assert [tuple(i) for i in items] == [CLIENT_AUDIT_COLUMNS] * len(items)
    assert "TaskAssigned" not in {i["type"] for i in items}
    assert all(i["client_visible"] for i in items)
    assert not any(note in response.text for note in NOTES)
    changelog = api.json(f"/engagements/{DEMO}/changelog", ACME, limit=1000)["items"]
    assert [i["position"] for i in items] == [i["position"] for i in changelog]
    header, *_ = api.csv(f"/engagements/{DEMO}/audit", ACME)
    assert tuple(header) == CLIENT_AUDIT_COLUMNS
    disposition = api.get(f"/engagements/{DEMO}/audit", ACME, format="csv").headers["content-disposition"]
    assert disposition == f'attachment; filename="{DEMO}-audit.csv"'


@pytest.mark.parametrize("who", [PMO, AUDITOR], ids=lambda w: w.role.value)
def test_the_ledger_wide_trail_holds_every_engagement(api: Api, who: Who) -> None:
    page = api.json("/audit", who, limit=1000)
    assert [r["position"] for r in page["items"]] == list(range(1, len(page["items"]) + 1))
    assert {r["code"] for r in page["items"]} == {DEMO, OTHER}
    assert "globex only" in {r["internal_note"] for r in page["items"]}
    assert {r["code"] for r in api.json("/audit", who, code=OTHER.lower())["items"]} == {OTHER}
    assert api.json("/audit", who, code="NO-SUCH")["items"] == []
    response = api.get("/audit", who, format="csv")
    assert response.headers["content-disposition"] == 'attachment; filename="audit.csv"'


@pytest.mark.parametrize(("who", "status"), [(ACME, 403), (GLOBEX, 403), (None, 401)])
def test_the_ledger_wide_trail_is_for_staff_only(api: Api, who: Who | None, status: int) -> None:
    response = api.get("/audit", who)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert api.get("/audit", who, format="csv").status_code == status


# Filters and paging


def test_filters_narrow_the_trail(api: Api) -> None:
    trail = f"/engagements/{DEMO}/audit"
    assert {r["category"] for r in api.json(trail, category="task", limit=1000)["items"]} == {"task"}
    assert [r["summary"] for r in api.json("/audit", actor="lena.berg")["items"]] == [
        "Task 'Write UAT scripts' in progress -> done"
    ]
    assert [r["type"] for r in api.json(trail, subject="go-live")["items"]] == [
        "MilestonePlanned", "MilestoneRescheduled", "MilestoneRebaselined", "MilestoneRescheduled",
        "MilestoneAchieved",
    ]  # fmt: skip
    window = {"since": "2026-03-16T10:00:00Z", "until": "2026-03-18T09:15:00+00:00"}
    assert [r["recorded_at"] for r in api.json(trail, **window)["items"]] == [
        "2026-03-16T10:00:00+00:00", "2026-03-16T10:30:00+00:00",
    ]  # fmt: skip
    zoned = {"since": "2026-03-16T11:00:00+01:00", "until": "2026-03-18T09:15:00"}  # no zone: UTC
    assert api.json(trail, **zoned)["items"] == api.json(trail, **window)["items"]
    by_day = api.json(f"/engagements/{DEMO}/changelog", ACME, since="2026-10-01", category="milestone")
    assert [r["type"] for r in by_day["items"]] == ["MilestoneAchieved"]
    assert api.json(trail, actor="x' OR '1'='1")["items"] == []


def test_pages_follow_on_from_next_after_until_it_is_null(api: Api) -> None:
    url = f"/engagements/{DEMO}/changelog"
    everything = api.json(url, ACME, limit=1000)["items"]
    seen: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = api.json(url, ACME, after=after, limit=7)
        assert len(page["items"]) == 7 or page["next_after"] is None
        seen += page["items"]
        after = page["next_after"]
    assert seen == everything
    assert len(api.json(url, ACME)["items"]) == min(100, len(everything))
    last = everything[-1]["position"]
    assert api.json(url, ACME, after=everything[-2]["position"], limit=1) == {
        "items": [everything[-1]], "next_after": None,
    }  # fmt: skip
    assert api.json(url, ACME, after=last) == {"items": [], "next_after": None}


def test_csv_streams_every_row_in_batches_unless_limited(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "CSV_BATCH", 4)
    url = f"/engagements/{DEMO}/changelog"
    everything = [str(i["position"]) for i in api.json(url, limit=1000)["items"]]
    assert [r[0] for r in api.csv(url)[1:]] == everything
    assert [r[0] for r in api.csv(url, limit=9)[1:]] == everything[:9]
    assert [r[0] for r in api.csv(url, after=everything[2], limit=4)[1:]] == everything[3:7]
    assert api.csv(url, after=everything[-1]) == [list(CHANGELOG_COLUMNS)]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"}, {"until": "2026-13-01"}, {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "0.5"}, {"since": "1700000000"}, {"since": "2026-03-16 10:00"},
        {"category": "budget"}, {"limit": 0}, {"limit": 1001}, {"after": -1}, {"format": "xlsx"},
        {"actor": "dana\x00"}, {"actor": "x" * 201}, {"subject": "x' OR '1'='1"}, {"code": "no such!"},
        {"min_position": -1},
    ],
    ids=lambda p: next(iter(p)),
)  # fmt: skip
def test_filter_values_that_cannot_be_filters_are_422_problems(api: Api, params: dict[str, Any]) -> None:
    urls = ["/audit", f"/engagements/{DEMO}/audit", f"/engagements/{DEMO}/changelog"]
    takes = {"code": urls[:1], "actor": urls[:2], "subject": urls[:2]}  # what each route filters by
    for url in takes.get(next(iter(params)), urls):
        response = api.get(url, **params)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["rule"] == "InvalidInput"


def test_a_time_range_that_ends_before_it_starts_is_refused(api: Api) -> None:
    response = api.get("/audit", since="2026-03-18", until="2026-03-16")
    assert response.status_code == 422
    assert response.json()["rule"] == "InvalidTimeRange"


# Read-your-writes


def test_a_query_with_min_position_sees_a_write_of_ones_own(live: Api) -> None:
    pmo = {"Authorization": f"Bearer {live.tokens.issue(PMO.sub, PMO.role)}"}
    opened_ = live.http.post("/engagements", headers=pmo, json={
        "code": "INITECH-HR", "title": "HR suite", "client_id": "initech", "client_name": "Initech",
        "manager": "Dana Whitfield", "planned_start": "2026-01-05", "planned_end": "2026-06-30",
    })  # fmt: skip
    assert opened_.status_code == 201, opened_.text
    planned = live.http.post("/engagements/INITECH-HR/milestones", headers=pmo, json={
        "key": "go-live", "title": "Go-live", "baseline": "2026-06-01",
    })  # fmt: skip
    position = planned.json()["position"]
    for route in ("/milestones", "/slips", "/changelog", "/audit"):
        assert live.get(f"/engagements/INITECH-HR{route}", min_position=position).status_code == 200
    assert live.json("/engagements/INITECH-HR/milestones", min_position=position)[0]["key"] == "go-live"
    assert live.json("/audit", min_position=position)["items"][-1]["position"] == position
    never = live.get("/engagements/INITECH-HR/changelog", min_position=position + 1000)
    assert (never.status_code, never.json()["rule"]) == (422, "PositionNotRecorded")


# The OpenAPI document


def test_every_query_route_is_documented_with_a_summary_and_an_example(api: Api) -> None:
    paths = api.http.get("/openapi.json").json()["paths"]
    documented: dict[str, Any] = {
        "/engagements/{code}/milestones": list[Milestone],
        "/engagements/{code}/slips": Slips,
        "/engagements/{code}/changelog": Page[Change],
        "/engagements/{code}/audit": Page[AuditRow],
        "/audit": Page[AuditRow],
    }
    for path, shape in documented.items():
        operation = paths[path]["get"]
        assert operation["summary"]
        content = operation["responses"]["200"]["content"]
        TypeAdapter(shape).validate_python(content["application/json"]["example"])
        if "changelog" in path or "audit" in path:
            header = next(csv.reader(io.StringIO(content["text/csv"]["example"])))
            assert tuple(header) == (CHANGELOG_COLUMNS if "changelog" in path else AUDIT_COLUMNS)
    assert "client view" in paths["/engagements/{code}/audit"]["get"]["description"]
