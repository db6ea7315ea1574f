"""Security headers on every response: no sniffing, no framing, no referrer, no caching of data.

A response that already names a header keeps it (a page may carry a policy of its own); the
rest get the defaults below, chosen by what the response is:

- **API answers** (JSON, problems, CSV) get the strictest policy, ``default-src 'none'``: a
  browser that opens one as a document runs and loads nothing from it.
- **Pages** (HTML) get a policy for server-rendered pages: a same-origin stylesheet and script,
  inline SVG charts (whose shapes carry style attributes, hence inline styles but never inline
  scripts), images from the origin or ``data:``, forms posting back to the origin.
- **The API docs** (``/docs``, ``/redoc``) are FastAPI's pages, which load Swagger UI and ReDoc
  from a CDN and start them with an inline script: they get a policy allowing exactly that.

Responses carrying data (everything but static assets) are ``Cache-Control: no-store``: they hold
one principal's view, which no shared cache or browser history should keep.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
STATIC_TYPES = ("text/css", "text/javascript", "application/javascript", "image/", "font/")
"""Assets that carry no one's data and may be cached."""


def policy(path: str, content_type: str) -> str:
    """The Content-Security-Policy for a response of this type on this path."""
    if path in DOCS_PATHS:
        return DOCS_POLICY
    return PAGE_POLICY if content_type.startswith("text/html") else API_POLICY


class SecurityHeaders:
    """ASGI middleware: adds the headers above to each response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(MutableHeaders(scope=message), scope["path"])
            await send(message)

        await self.app(scope, receive, with_headers)


def add_headers(headers: MutableHeaders, path: str) -> None:
    """Add the headers ``headers`` lacks, for a response on ``path``."""
    content_type = headers.get("content-type", "")
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    headers.setdefault("Content-Security-Policy", policy(path, content_type))
    if not content_type.startswith(STATIC_TYPES):
        headers.setdefault("Cache-Control", "no-store")
