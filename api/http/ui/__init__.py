"""Web pages for people, under ``/ui``: server-rendered (Jinja2), a small stylesheet, charts drawn
by matplotlib on the server, and no script but a print button's.

- ``/ui/sign-in``: paste a token; it is kept in an HttpOnly, SameSite=Strict cookie.
- ``/ui``: the portfolio (a client sees only its own engagements).
- ``/ui/engagements/{code}``: status; ``.../slips``: the slip timeline with the MTA and attribution
  charts (also as PNG or SVG downloads); ``.../changelog``: the client's change log (as CSV and
  as the verifiable bundle too).
- ``.../audit`` (PMO staff and auditors): the engagement as of a time or version, the signed
  checkpoints and "verify now", the audit trail with filters (and as CSV).
- ``.../record`` (PMO staff): the everyday commands as forms, guarded by a CSRF token.

Pages read and write through the functions the API's routes call, and enforce the same roles.
They stay out of the OpenAPI document: they are for browsers, not for programs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.http.settings import HttpSettings
from api.http.ui import auditor, forms, pages, refusals, signin
from api.http.ui.charts import Charts
from api.http.ui.rendering import STATIC, templates
from api.http.ui.session import CsrfKey


@dataclass(frozen=True)
class Ui:
    """What the pages keep for the app's life: templates, drawn charts, the CSRF key."""

    templates: Jinja2Templates
    charts: Charts
    csrf: CsrfKey


def install(app: FastAPI, settings: HttpSettings) -> None:
    """Serve the pages, their stylesheet and the root page from ``app``."""
    router = APIRouter(include_in_schema=False)
    for module in (signin, pages, forms, auditor):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.state.ui = Ui(templates(), Charts(), CsrfKey(settings))
    refusals.install(app)
