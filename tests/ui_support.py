"""For the browser tests: the app served by a real uvicorn on a free port, Debian's Chromium driven
by Playwright, a scene with the demo engagement and a second client's, and screenshots.

Chromium is ``/usr/bin/chromium`` (Debian's package; ``.ci/run`` installs it), or the one
``LEDGER_CHROMIUM`` names. Without it the browser tests skip on a developer's machine and fail
under ``CI=true``, where they must run. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from api.demo import seed_demo
from api.http.app import create_app
from api.http.auth import Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from domain.values import ResponsibleParty, SlipCause
from tests.principals import AUDITOR as STAFF
from tests.principals import Who
from tests.support import StepClock, opened

CHROMIUM = Path(os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
SECRET = SecretStr("ui-test-secret-" + "u" * 32)
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

ROLLOUT = "ACME-WMS"
"""ACME's second engagement, with open milestones and tasks for the forms to change."""
GLOBEX = "GLOBEX-CRM"
"""Another client's engagement, which ACME's people must never see."""


def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; fail in CI, where the browser tests must run."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"Chromium is required when CI=true: install Debian's chromium ({CHROMIUM} is missing)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium")


def record_scene(store: dict[str, str]) -> None:
    """The demo engagement, ACME's warehouse rollout (open work) and Globex's CRM engagement."""
    seed_demo(store)
    with Ledger(store, clock=StepClock(datetime(2026, 11, 2, 9, tzinfo=UTC))) as ledger:
        for command in (
            opened(code=ROLLOUT, title="Warehouse management rollout", planned_start=date(2026, 11, 2),
                   planned_end=date(2027, 6, 30)),
            c.PlanMilestone(code=ROLLOUT, key="pilot-site", title="Pilot site live",
                            baseline=date(2027, 2, 1)),
            c.PlanMilestone(code=ROLLOUT, key="all-sites", title="All sites live", baseline=date(2027, 5, 3)),
            c.RescheduleMilestone(code=ROLLOUT, key="pilot-site", to_date=date(2027, 2, 15),
                                  cause=SlipCause.VENDOR_DELAY, responsible_party=ResponsibleParty.VENDOR,
                                  reason="Scanner delivery slipped", internal_note="Vendor credit applies"),
            c.AddTask(code=ROLLOUT, key="site-survey", title="Survey the pilot site", assignee="lena.berg"),
            c.AddTask(code=ROLLOUT, key="rf-scanners", title="Order RF scanners"),
            c.ChangeTaskStatus(code=ROLLOUT, key="rf-scanners", to_status="done"),
            c.AddScopeItem(code=ROLLOUT, key="rf", title="RF scanning", reason="Per SOW"),
            opened(code=GLOBEX, client_id="globex", client_name="Globex Corp", title="CRM replacement",
                   planned_start=date(2026, 11, 2), planned_end=date(2027, 3, 31)),
            c.PlanMilestone(code=GLOBEX, key="kickoff", title="Kick-off", baseline=date(2026, 11, 16)),
        ):  # fmt: skip
            ledger.execute(command, actor="dana.whitfield")


@dataclass(frozen=True)
class Site:
    """The app served over HTTP, and tokens for it."""

    url: str
    tokens: Tokens

    def token(self, who: Who) -> str:
        return self.tokens.issue(who.sub, who.role, who.client_id)

    def version(self, code: str) -> int:
        """The engagement's version, read through the API (to see that a refusal recorded nothing)."""
        headers = {"Authorization": f"Bearer {self.token(STAFF)}"}
        response = httpx.get(f"{self.url}/engagements/{code}", headers=headers, timeout=10)
        response.raise_for_status()
        return int(response.json()["version"])


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def served(store: dict[str, str], data: Path) -> Iterator[Site]:
    """The app on a real uvicorn in a thread, projections embedded, until the block ends."""
    settings = HttpSettings(data_dir=data, jwt_secret=SECRET, embedded_projections=True)
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store=store), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            thread.join(0.02)
        host, port = sock.getsockname()
        yield Site(f"http://{host}:{port}", Tokens(settings))
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, site: Site, who: Who) -> None:
    """Sign in through the form, as a person pasting a token would."""
    page.goto(f"{site.url}/ui/sign-in")
    page.get_by_label("Your access token").fill(site.token(who))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/ui$"))


def screenshot(page: Page, name: str) -> Path:
    """The whole page, into the screenshots folder the README names (not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
