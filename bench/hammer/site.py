"""The server under the hammer: the real API served in processes of its own, and its principals."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from api.http.auth import Role, Tokens
from bench import serving as processes


@dataclass(frozen=True)
class Site:
    """The API under the hammer: its URL and the headers of each principal the clients act as."""

    url: str
    auth: Mapping[str, Mapping[str, str]]


@contextmanager
def serving(store: Mapping[str, str], workers: int) -> Iterator[Site]:
    """``ledger serve`` on ``store`` (on PostgreSQL with ``ledger worker`` beside), stopped at the end."""
    if "SQLITE_DBNAME" in store:  # embedded: one process, the projections in-process
        started = processes.serving(store, workers=1, worker=None)
    else:  # production: a configured signing key shared by every process, the projections apart
        started = processes.serving(store, workers, worker=("worker", "--poll", "0.2"), signing_key=True)
    with started as running:
        yield Site(running.url, _principals(running.tokens))


def _principals(tokens: Tokens) -> dict[str, dict[str, str]]:
    who = {
        "pmo": ("hammer.pmo", Role.PMO, None), "auditor": ("hammer.auditor", Role.AUDITOR, None),
        "acme": ("cfo@acme", Role.CLIENT, "acme"), "globex": ("cto@globex", Role.CLIENT, "globex"),
    }  # fmt: skip
    auth = {name: {"Authorization": f"Bearer {tokens.issue(*claims)}"} for name, claims in who.items()}
    return auth | {"nobody": {}, "forger": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}}
