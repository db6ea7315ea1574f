"""The web pages in a real headless Chromium, against the app on a real uvicorn (SQLite, embedded
projections): each role signs in and walks its pages, the PMO's forms record through the
ledger and refusals show in words, downloads carry what the pages show, and nobody opens or
posts what their role may not. One server and one browser serve the whole module; each test
opens its own browser context (its own cookies).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from api.http.exports import AUDIT_COLUMNS, CHANGELOG_COLUMNS
from api.http.ui import pages as ui_pages
from api.http.ui.rendering import NOTHING
from domain.store import sqlite_env
from replay import bundle
from tests.principals import ACME, AUDITOR, PMO, Who
from tests.ui_support import (
    GLOBEX,
    LAPTOP,
    PHONE,
    ROLLOUT,
    Site,
    chromium,
    record_scene,
    require_chromium,
    screenshot,
    served,
    sign_in,
)

DEMO = "ACME-ERP"
OpenAs = Callable[..., Page]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    folder = tmp_path_factory.mktemp("ui")
    store = sqlite_env(folder / "store")
    record_scene(store)
    with served(store, folder / "http") as running:
        yield running


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def open_as(browser: Browser, site: Site) -> Iterator[OpenAs]:
    """A fresh browser context (no cookies) at a viewport, signed in as ``who`` if given."""
    contexts = []

    def open_(who: Who | None, viewport: dict[str, int] = LAPTOP) -> Page:
        context = browser.new_context(viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        if who is not None:
            sign_in(page, site, who)
        return page

    yield open_
    for context in contexts:
        context.close()


def _url(site: Site, code: str, tail: str = "") -> str:
    return f"{site.url}/ui/engagements/{code}{tail}"


def _codes_listed(page: Page) -> set[str]:
    return set(page.locator("table.cards tbody td[data-label=Engagement] strong").all_inner_texts())


# Signing in and walking the pages


TABS = {
    "pmo": ["Status", "Slip timeline", "Change log", "Audit", "Record a change"],
    "auditor": ["Status", "Slip timeline", "Change log", "Audit"],
    "client": ["Status", "Slip timeline", "Change log"],
}


@pytest.mark.parametrize("who", [PMO, AUDITOR, ACME], ids=lambda w: w.role.value)
def test_each_role_signs_in_and_walks_every_page_it_may_open(open_as: OpenAs, who: Who) -> None:
    page = open_as(who)
    staff = who.client_id is None
    assert _codes_listed(page) == {DEMO, ROLLOUT} | ({GLOBEX} if staff else set())
    expect(page.locator("header .who")).to_contain_text(who.sub)

    page.get_by_role("link", name=DEMO).click()
    go_live = page.locator("#milestones tr[data-key=go-live]")
    expect(go_live).to_contain_text("2026-10-02")
    assert go_live.locator("td[data-label=Slip]").inner_text() == "+4 d"
    assert go_live.locator("td[data-label='vs original']").inner_text() == "+32 d"
    assert page.locator("nav.tabs a").all_inner_texts() == TABS[who.role.value]

    page.get_by_role("link", name="Slip timeline").click()
    expect(page.locator("#mta .chart.wide svg[role=img]")).to_be_visible()
    expect(page.locator("#attribution .chart.wide svg[role=img]")).to_be_visible()
    expect(page.locator("#slip-history")).to_contain_text("approved by J. Ortega")
    expect(page.locator("#attribution-table")).to_contain_text("scope change")

    page.get_by_role("link", name="Change log").click()
    expect(page.locator("#changelog")).to_contain_text("Milestone 'Go-live' moved 2026-09-28 -> 2026-10-02")
    assert "Internal:" not in page.content()

    if staff:
        page.get_by_role("link", name="Audit").click()
        expect(page.locator("#trail")).to_contain_text("Internal: Priya moves to the WMS")
    if who is PMO:
        page.get_by_role("link", name="Record a change").click()
        expect(page.locator("form#reschedule")).to_be_visible()


def test_a_client_sees_no_internal_note_and_no_assignee(open_as: OpenAs, site: Site) -> None:
    page = open_as(ACME)
    for tail in ("", "/slips", "/changelog"):
        page.goto(_url(site, ROLLOUT, tail))
        assert "Vendor credit applies" not in page.content()
    page.goto(_url(site, ROLLOUT))
    expect(page.locator("#tasks li[data-key=site-survey]")).not_to_contain_text("lena.berg")
    staff = open_as(PMO)
    staff.goto(_url(site, ROLLOUT))
    expect(staff.locator("#tasks li[data-key=site-survey]")).to_contain_text("lena.berg")


def test_the_portfolio_comes_a_page_at_a_time_each_linking_the_next(
    open_as: OpenAs, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui_pages, "PAGE_ROWS", 2)  # the scene has three engagements, two of them ACME's
    staff = open_as(PMO)
    staff.goto(f"{site.url}/ui")
    rows = staff.locator("table.cards tbody tr")
    expect(rows).to_have_count(2)
    expect(staff.locator("caption")).to_contain_text("(more follow)")
    first = rows.locator("td[data-label=Engagement] strong").all_inner_texts()
    staff.click("#more")
    expect(staff.locator("caption")).to_contain_text(f"after {first[-1]}")
    expect(rows).to_have_count(1)
    assert first + rows.locator("td[data-label=Engagement] strong").all_inner_texts() == [
        DEMO,
        ROLLOUT,
        GLOBEX,
    ]
    expect(staff.locator("#more")).to_have_count(0)
    client = open_as(ACME)
    client.goto(f"{site.url}/ui")
    expect(client.locator("table.cards tbody tr")).to_have_count(2)
    expect(client.locator("#more")).to_have_count(0)


PAGES = {
    "portfolio": "/ui",
    "status": f"/ui/engagements/{DEMO}",
    "slips": f"/ui/engagements/{DEMO}/slips",
    "changelog": f"/ui/engagements/{DEMO}/changelog",
    "audit": f"/ui/engagements/{DEMO}/audit",
    "record": f"/ui/engagements/{ROLLOUT}/record",
    "open-slips": f"/ui/engagements/{ROLLOUT}/slips",
}


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_fits_the_screen_and_is_photographed(
    open_as: OpenAs, site: Site, viewport: dict[str, int]
) -> None:
    """Screenshots for people to look at; the test checks that no page scrolls sideways (wide
    tables scroll inside their own box) and that each chart shows the drawing meant for the width."""
    width = "laptop" if viewport is LAPTOP else "phone"
    anonymous = open_as(None, viewport)
    anonymous.goto(f"{site.url}/ui/sign-in")
    screenshot(anonymous, f"{width}-sign-in")
    shown = [(PMO, name, path) for name, path in PAGES.items()]
    shown += [(ACME, "client-portfolio", "/ui"), (ACME, "client-refused", f"/ui/engagements/{GLOBEX}")]
    pages = {who: open_as(who, viewport) for who in (PMO, ACME)}
    for who, name, path in shown:
        page = pages[who]
        page.goto(site.url + path)
        sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert sideways <= 0, f"{name} scrolls sideways by {sideways}px at {viewport}"
        assert screenshot(page, f"{width}-{name}").stat().st_size > 10_000
    page = pages[PMO]
    page.goto(site.url + PAGES["slips"])
    shown_chart = "narrow" if viewport is PHONE else "wide"
    expect(page.locator(f"#mta .chart.{shown_chart} svg")).to_be_visible()
    expect(page.locator(f"#mta .chart:not(.{shown_chart}) svg")).to_be_hidden()


# The PMO's forms


def _chart(page: Page, site: Site, code: str) -> bytes:
    response = page.request.get(_url(site, code, "/slips/mta.png"))
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    return response.body()


def test_rescheduling_a_milestone_through_the_form_moves_its_line_and_adds_a_row(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(PMO)
    before = _chart(page, site, ROLLOUT)
    assert _chart(page, site, ROLLOUT) == before, "the same history draws the same chart"
    page.goto(_url(site, ROLLOUT, "/record"))
    form = page.locator("form#reschedule")
    form.locator("select[name=milestone]").select_option("all-sites")
    form.locator("input[name=to_date]").fill("2027-05-24")
    form.locator("select[name=cause]").select_option("vendor_delay")
    form.locator("select[name=responsible_party]").select_option("vendor")
    form.locator("textarea[name=reason]").fill("Racking installer booked three weeks later")
    form.get_by_role("button", name="Reschedule").click()
    expect(page.locator("#recorded")).to_contain_text("Recorded")

    page.get_by_role("link", name="Slip timeline").click()
    row = page.locator("#slip-history tr", has_text="Racking installer booked three weeks later")
    expect(row).to_contain_text("rescheduled 2027-05-03 → 2027-05-24 (+21 d)")
    expect(row).to_contain_text("vendor delay · vendor")
    expect(page.locator("#attribution-table")).to_contain_text("vendor delay")
    assert _chart(page, site, ROLLOUT) != before
    page.get_by_role("link", name="Status").click()
    moved = page.locator("#milestones tr[data-key=all-sites]")
    expect(moved.locator("td[data-label=Forecast]")).to_have_text("2027-05-24")
    expect(moved.locator("td[data-label=Slip]")).to_have_text("+21 d")


def test_a_later_date_without_a_cause_is_refused_in_words_beside_the_form(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(PMO)
    version = site.version(ROLLOUT)
    page.goto(_url(site, ROLLOUT, "/record"))
    form = page.locator("form#reschedule")
    form.locator("select[name=milestone]").select_option("pilot-site")
    form.locator("input[name=to_date]").fill("2027-03-01")
    form.locator("textarea[name=reason]").fill("Pilot site's network not ready")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name="Reschedule").click()
    assert answer.value.status == 422
    error = page.locator("#reschedule-error")
    expect(error).to_contain_text("Moving a date later needs a slip cause and a responsible party")
    expect(error).to_contain_text("SlipCauseRequired")
    expect(error).to_contain_text("Nothing was recorded")
    expect(page.locator("form#reschedule textarea[name=reason]")).to_have_value(
        "Pilot site's network not ready"
    )
    assert site.version(ROLLOUT) == version
    screenshot(page, "laptop-record-refused")


def test_adding_a_scope_item_and_moving_a_task_show_on_the_status_page(open_as: OpenAs, site: Site) -> None:
    page = open_as(PMO)
    page.goto(_url(site, ROLLOUT, "/record"))
    scope = page.locator("form#scope-item")
    scope.locator("input[name=title]").fill("Cycle counting")
    scope.locator("textarea[name=reason]").fill("Asked for at the steering committee")
    scope.locator("input[name=change_ref]").fill("CR-021")
    scope.get_by_role("button", name="Add to scope").click()
    expect(page.locator("#recorded")).to_contain_text("Recorded")
    task = page.locator("form#task-status")
    task.locator("select[name=task]").select_option("site-survey")
    task.locator("select[name=to_status]").select_option("in_progress")
    task.get_by_role("button", name="Change status").click()
    expect(page.locator("#recorded")).to_contain_text("Recorded")

    page.get_by_role("link", name="Status").click()
    expect(page.locator("#scope li[data-key=cycle-counting]")).to_contain_text("Cycle counting")
    expect(page.locator("#tasks .lane[data-status=in_progress]")).to_contain_text("Survey the pilot site")
    expect(page.locator("#recent")).to_contain_text("Scope item 'Cycle counting' added")


def test_an_illegal_task_transition_is_refused_in_words(open_as: OpenAs, site: Site) -> None:
    page = open_as(PMO)
    version = site.version(ROLLOUT)
    page.goto(_url(site, ROLLOUT, "/record"))
    task = page.locator("form#task-status")
    task.locator("select[name=task]").select_option("rf-scanners")
    task.locator("select[name=to_status]").select_option("blocked")
    task.locator("textarea[name=reason]").fill("Scanner firmware recalled")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        task.get_by_role("button", name="Change status").click()
    assert answer.value.status == 409
    expect(page.locator("#task-status-error")).to_contain_text(
        "Tasks move only along the allowed status transitions"
    )
    expect(page.locator("#task-status-error")).to_contain_text("IllegalTaskTransition")
    assert site.version(ROLLOUT) == version


# Downloads and printing


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_change_log_downloads_as_csv_with_the_filters_applied(open_as: OpenAs, site: Site) -> None:
    page = open_as(ACME)
    page.goto(_url(site, DEMO, "/changelog"))
    page.locator("select[name=category]").select_option("milestone")
    page.locator("input[name=since]").fill("2026-05-01")
    page.locator("input[name=until]").fill("2026-05-31")
    page.get_by_role("button", name="Show").click()
    shown = page.locator("#changelog tbody tr")
    expect(shown.first).to_contain_text("Milestone")
    with page.expect_download() as download:
        page.locator("#csv").click()
    assert download.value.suggested_filename == f"{DEMO}-changelog.csv"
    path = Path(download.value.path())
    assert path.read_text().splitlines()[0].split(",") == list(CHANGELOG_COLUMNS)
    rows = _rows(path)
    assert len(rows) == shown.count() >= 3
    assert {r["category"] for r in rows} == {"milestone"}
    assert all("2026-05-01" <= r["recorded_at"][:10] <= "2026-05-31" for r in rows)
    assert [r["summary"] for r in rows] == [
        t.split("\n")[0] for t in shown.locator("td[data-label=Change]").all_inner_texts()
    ]


def test_the_auditor_filters_the_trail_and_downloads_it_with_internal_notes(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(AUDITOR)
    page.goto(_url(site, DEMO, "/audit"))
    page.locator("input[name=actor]").fill("priya.nair")
    page.get_by_role("button", name="Filter").click()
    actors = page.locator("#trail tbody td:nth-child(4)").all_inner_texts()
    assert actors
    assert set(actors) == {"priya.nair"}
    with page.expect_download() as download:
        page.locator("#audit-csv").click()
    path = Path(download.value.path())
    assert path.read_text().splitlines()[0].split(",") == list(AUDIT_COLUMNS)
    rows = _rows(path)
    assert len(rows) == len(actors)
    assert {r["actor"] for r in rows} == {"priya.nair"}


def test_the_change_log_prints_without_navigation_or_forms(open_as: OpenAs, site: Site) -> None:
    page = open_as(ACME)
    page.goto(_url(site, DEMO, "/changelog"))
    expect(page.locator("h2.print-only")).to_be_hidden()
    page.emulate_media(media="print")
    expect(page.locator("header.bar")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator("h2.print-only")).to_contain_text(f"Change log of {DEMO}")
    expect(page.locator("#changelog")).to_be_visible()


def test_the_change_log_bundle_downloads_and_verifies_offline(open_as: OpenAs, site: Site) -> None:
    page = open_as(ACME)
    page.goto(_url(site, DEMO, "/changelog"))
    with page.expect_download() as download:
        page.locator("#bundle").click()
    raw = Path(download.value.path()).read_bytes()
    report = bundle.check(raw)
    assert report.ok, report.lines
    assert orjson.loads(raw)["engagement"] == DEMO
    assert len(orjson.loads(raw)["events"]) == site.version(DEMO)
    assert b"Priya moves to the WMS" not in raw
    assert not bundle.check(raw.replace(b"Go-live", b"Go-live!", 1)).ok


# The auditor's view


def test_the_auditor_sees_the_engagement_as_of_a_time_and_steps_through_its_versions(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(AUDITOR)
    page.goto(_url(site, DEMO, "/audit"))
    page.locator("input[name=at]").fill("2026-03-16T10:30")
    page.get_by_role("button", name="Show then").click()
    then = page.locator("#then")
    expect(then).to_contain_text("Version 23 of")
    build = page.locator("#then-milestones tr[data-key=build-complete]")
    expect(build.locator("td[data-label=Forecast]")).to_have_text("2026-06-12")
    expect(build.locator("td[data-label=Actual]")).to_have_text(NOTHING)
    page.get_by_role("link", name="\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK} v22").click()
    expect(then).to_contain_text("Version 22 of")
    expect(build.locator("td[data-label=Forecast]")).to_have_text("2026-05-29")
    response = page.goto(_url(site, DEMO, "/audit?version=999"))
    assert response is not None
    assert response.status == 422
    expect(page.locator("#asof-error")).to_contain_text(f"{DEMO} has versions 1 to")
    expect(page.locator("#then")).to_have_count(0)


def test_verify_now_shows_the_verdict_beside_the_checkpoints(open_as: OpenAs, site: Site) -> None:
    page = open_as(AUDITOR)
    page.goto(_url(site, DEMO, "/audit"))
    page.get_by_role("button", name="Verify now").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Verified")
    expect(verdict).to_contain_text("OK: every event, subtree hash and checkpoint matches")
    assert page.locator("#checkpoints tbody tr td[data-label='Tree size']").count() >= 1


# Who may open and post what


def test_a_client_cannot_open_another_clients_engagement_or_a_staff_page(open_as: OpenAs, site: Site) -> None:
    page = open_as(ACME)
    assert GLOBEX not in _codes_listed(page)
    for tail in ("", "/slips", "/changelog", "/changelog.csv", "/slips/mta.png"):
        response = page.goto(_url(site, GLOBEX, tail)) if not tail.endswith((".csv", ".png")) else None
        status = response.status if response else page.request.get(_url(site, GLOBEX, tail)).status
        assert status == 404, tail
    expect(page.locator("h1")).to_contain_text("404")
    expect(page.locator(".alert")).to_contain_text(f"no engagement {GLOBEX} that you may see")
    for tail in ("/audit", "/record", "/audit.csv"):
        response = page.goto(_url(site, DEMO, tail)) if tail != "/audit.csv" else None
        status = response.status if response else page.request.get(_url(site, DEMO, tail)).status
        assert status == 403, tail


def _post(page: Page, url: str, **fields: str) -> tuple[int, str]:
    form: dict[str, str | float | bool] = dict(fields)
    response = page.request.post(url, form=form, headers={"Accept": "application/json"})
    return response.status, response.json()["rule"]


def test_a_post_without_this_sessions_csrf_token_is_refused_and_records_nothing(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(PMO)
    version = site.version(ROLLOUT)
    url = _url(site, ROLLOUT, "/record/scope-item")
    forged = {"title": "Forged", "reason": "Nobody asked", "version": str(version)}
    assert _post(page, url, **forged) == (403, "CsrfTokenInvalid")
    assert _post(page, url, **forged, csrf="0" * 64) == (403, "CsrfTokenInvalid")
    other = open_as(AUDITOR)
    other_csrf = other.locator("input[name=csrf]").first.input_value()
    assert _post(page, url, **forged, csrf=other_csrf) == (403, "CsrfTokenInvalid")
    assert _post(other, url, **forged, csrf=other_csrf) == (403, "Forbidden")
    assert site.version(ROLLOUT) == version


def test_a_form_posted_from_another_site_is_refused(open_as: OpenAs, site: Site) -> None:
    """The session cookie is SameSite=Strict and the form lacks the token: the post is refused."""
    page = open_as(PMO)
    version = site.version(ROLLOUT)
    trap = (
        f'<form method="post" action="{_url(site, ROLLOUT, "/record/scope-item")}">'
        '<input name="title" value="Forged"><input name="reason" value="x">'
        "<button>Win a prize</button></form>"
    )
    page.route("http://prizes.test/**", lambda route: route.fulfill(body=trap, content_type="text/html"))
    page.goto("http://prizes.test/")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Win a prize").click()
    assert answer.value.status == 403
    expect(page.locator("h1")).to_contain_text("CsrfTokenInvalid")
    assert site.version(ROLLOUT) == version


def test_signing_out_forgets_the_session(open_as: OpenAs, site: Site) -> None:
    page = open_as(PMO)
    assert any(c["name"] == "ledger_session" for c in page.context.cookies())
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.url}/ui/sign-in")
    assert not any(c["name"] == "ledger_session" for c in page.context.cookies())
    page.goto(f"{site.url}/ui/engagements/{DEMO}")
    expect(page).to_have_url(f"{site.url}/ui/sign-in?next=%2Fui%2Fengagements%2F{DEMO}")


def test_a_refused_token_is_not_kept_and_the_session_cookie_is_out_of_scripts_reach(
    open_as: OpenAs, site: Site
) -> None:
    page = open_as(None)
    page.goto(f"{site.url}/ui/sign-in")
    page.get_by_label("Your access token").fill(site.token(PMO)[:-4] + "AAAA")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.locator("#refused")).to_contain_text("That token was refused")
    assert not any(c["name"] == "ledger_session" for c in page.context.cookies())
    sign_in(page, site, PMO)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ledger_session")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    assert "ledger_session" not in page.evaluate("document.cookie")
