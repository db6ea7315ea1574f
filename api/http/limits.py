"""Refuse request bodies over a size limit (413) before anything reads them whole."""

from __future__ import annotations

from contextlib import suppress

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware: a body longer than ``limit`` bytes gets a 413 problem response."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, send)
            return
        seen, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                over = True
                raise _TooLarge
            return message

        async def unless_over(message: Message) -> None:
            # The framework turns an error while reading the body into a 400 of its own;
            # once the body is over the limit, that answer is dropped for the 413.
            nonlocal started
            if not over:
                started = True
                await send(message)

        with suppress(_TooLarge):
            await self.app(scope, counted, unless_over)
        if over and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = orjson.dumps({
            "type": "/problems/BodyTooLarge", "title": "BodyTooLarge", "status": 413, "rule": "BodyTooLarge",
            "detail": f"request bodies are limited to {self.limit} bytes", "instance": scope["path"],
        })  # fmt: skip
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
