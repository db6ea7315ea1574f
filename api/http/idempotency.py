"""``Idempotency-Key``: a retried command answers what the first one did and records nothing twice.

Keys live beside the read models (shared by every API worker), per principal. A key is taken
before the command runs, so a retry arriving meanwhile is told the first is still running; a
refused command releases its key (it recorded nothing, so running it again is safe).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from api.http.problems import Problem
from projections.db import ProjectionDB

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " status INTEGER, body TEXT, headers TEXT, PRIMARY KEY (principal, key))"
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


class IdempotencyKeys:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db
        with db.transaction() as tx:
            if db.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('ledger-idempotency-schema'))")
            tx.execute(SCHEMA)

    def once(self, principal: str, key: str, print_: str, run: Callable[[], Answer]) -> Answer:
        """``run`` once for this principal and key; a retry with the same request gets its answer."""
        with self.db.transaction() as tx:
            taken = tx.execute(
                "INSERT INTO idempotency_keys (principal, key, fingerprint) VALUES (%s, %s, %s)"
                " ON CONFLICT (principal, key) DO NOTHING",
                (principal, key, print_),
            )
        if not taken:
            return self._replay(principal, key, print_)
        try:
            answer = run()
        except BaseException:
            self._release(principal, key)
            raise
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE idempotency_keys SET status = %s, body = %s, headers = %s"
                " WHERE principal = %s AND key = %s",
                (answer.status, answer.body.decode(), orjson.dumps(answer.headers).decode(), principal, key),
            )
        return answer

    def _replay(self, principal: str, key: str, print_: str) -> Answer:
        rows = self.db.query(
            "SELECT fingerprint, status, body, headers FROM idempotency_keys"
            " WHERE principal = %s AND key = %s",
            (principal, key),
        )
        if not rows:
            raise Problem(409, "IdempotencyKeyBusy", "a request with this key just failed; send it again")
        row = rows[0]
        if row["fingerprint"] != print_:
            raise Problem(
                422, "IdempotencyKeyReused", "this Idempotency-Key was used for a different request"
            )
        if row["status"] is None:
            raise Problem(409, "IdempotencyKeyBusy", "the first request with this key is still running")
        headers = orjson.loads(row["headers"]) | {"Idempotent-Replay": "true"}
        return Answer(int(row["status"]), row["body"].encode(), headers)

    def _release(self, principal: str, key: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM idempotency_keys WHERE principal = %s AND key = %s", (principal, key))
