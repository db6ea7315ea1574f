"""The application factory: nothing is built at import; the lifespan opens the stores."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.http import asof, commands, exports, integrity, problems, queries
from api.http.auth import Tokens
from api.http.idempotency import IdempotencyKeys
from api.http.limits import BodyLimit
from api.http.security import SecurityHeaders
from api.http.settings import HttpSettings
from api.http.ui import install as install_pages
from api.http.ui.charts import keep_warm
from api.stores import store_env
from domain.service import Ledger
from projections.db import open_projection_db
from projections.runner import Runner
from replay import checkpoints
from replay.checkpoints import load_signer
from replay.registry import every_projection

DESCRIPTION = """Every change to an engagement's scope, milestone dates and task status, recorded as an
immutable event. Commands (pmo only) answer the engagement's new version (also as `ETag`) and
log position; queries read the projections and accept `min_position` to see a write of one's own.
Errors are `application/problem+json` naming the broken rule."""


def create_app(settings: HttpSettings | None = None, store: Mapping[str, str] | None = None) -> FastAPI:
    """The API over the store ``store`` names (default: from the environment and the data folder)."""
    settings = settings or HttpSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = Ledger(dict(store) if store is not None else store_env(str(settings.data_dir)))
        db = open_projection_db(ledger.settings)
        await db.open_async()
        runner = Runner(ledger, db, every_projection())
        app.state.settings, app.state.ledger, app.state.db, app.state.runner = settings, ledger, db, runner
        app.state.tokens = Tokens(settings)
        app.state.signer = load_signer(settings.data_dir)
        app.state.idempotency = IdempotencyKeys(db, settings.idempotency_lease_seconds)
        stop = threading.Event()
        embedded = settings.embedded_projections
        if embedded is None:
            embedded = db.dialect == "sqlite"
        follower = threading.Thread(target=runner.follow, args=(stop, 0.5, True), daemon=True)
        signing = threading.Thread(
            target=checkpoints.keep_taking,
            args=(db, app.state.signer, stop, settings.checkpoint_seconds),
            daemon=True,
        )
        warming = threading.Thread(target=keep_warm, args=(db, app.state.ui.charts, stop), daemon=True)
        warming.start()
        if embedded:
            follower.start()
            signing.start()
        try:
            yield
        finally:
            stop.set()
            warming.join(timeout=10)
            if embedded:
                follower.join(timeout=10)
                signing.join(timeout=10)
            await db.close_async()
            db.close()
            ledger.close()

    app = FastAPI(
        title="Engagement ledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    # The routes are the app's own, not included routers': FastAPI matches an included router's
    # routes twice a request and at thrice the cost. In order, as matched: the reads, the most
    # asked for, first.
    for router in (queries.router, exports.router, commands.router, integrity.router, asof.router):
        app.router.routes.extend(router.routes)
    install_pages(app, settings)  # the web pages under /ui, and / linking them
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: refusals of the body limit carry the headers too
    return app
