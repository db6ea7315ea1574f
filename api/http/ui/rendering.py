"""Rendering pages: the Jinja2 templates and the filters that write dates, days and enum values."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

PRIVATE = {"Cache-Control": "no-store"}
"""For a chart download: an image of one client's data, which no cache should keep (the app's
security headers leave images cacheable, taking them for static assets)."""


NOTHING = "\u2013"
"""An en dash: what a table shows where there is no date or no slip."""


def words(value: Any) -> str:
    """An enum value as the PMO says it: ``client_dependency`` is "client dependency"."""
    return "" if value is None else str(value).replace("_", " ")


def days(value: int | None) -> str:
    """A slip or a move in days, signed: "+14 d", "-3 d", "0 d"; a dash when there is none."""
    if value is None:
        return NOTHING
    return f"{value:+d} d" if value else "0 d"


def moment(value: str | datetime | None) -> str:
    """A recorded time in minutes, UTC: "2026-03-16 10:30"."""
    if not value:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.strftime("%Y-%m-%d %H:%M")


def day(value: str | date | None) -> str:
    if not value:
        return NOTHING
    return value.isoformat() if isinstance(value, date) else value[:10]


def with_query(request: Request, path: str | None = None, **params: Any) -> str:
    """This page's query with ``params`` replaced (``None`` drops one), on ``path`` (default: this
    page's): the links of a filtered, paged list and its downloads."""
    query = request.query_params.multi_items()
    kept = [(k, v) for k, v in query if k not in params and k != "min_position"]
    kept += [(k, str(v)) for k, v in params.items() if v is not None]
    path = path or request.url.path
    return f"{path}?{urlencode(kept)}" if kept else path


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=TEMPLATES)
    found.env.filters |= {"words": words, "days": days, "moment": moment, "day": day}
    found.env.globals["with_query"] = with_query
    found.env.trim_blocks = found.env.lstrip_blocks = True
    return found


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` rendered for this request, with the pages' headers."""
    ui = request.app.state.ui
    response: HTMLResponse = ui.templates.TemplateResponse(request, name, context, status_code=status)
    return response
