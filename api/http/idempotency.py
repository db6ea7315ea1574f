"""``Idempotency-Key``: a retried command answers what the first one did and records nothing twice.

Keys live beside the read models (shared by every API worker), per principal. A try takes the key
before the command runs, so a retry arriving meanwhile is told the first is still running. A
refused command releases its key: it recorded nothing, so the key may be sent again, even with
another request.

A try that vanished (its process killed, its database connection cut mid-commit) leaves the key
taken with no answer, and whether it recorded is unknown. After ``lease`` seconds, or at once if
the try saw its own failure, a retry takes the key over and runs the command as *retried*: the
ledger first looks in the engagement's stream for events carrying the request's id, and answers
what they say if they are there (``domain.service.Tries``). The lease only decides when to look,
not whether a command is recorded twice: two live tries of one request cannot both record.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import orjson
import psycopg

from api.http.problems import Problem
from domain import errors
from projections.db import ProjectionDB, Tx

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " status INTEGER, body TEXT, headers TEXT, PRIMARY KEY (principal, key))"
)
CLAIM_COLUMNS = {"claim": "TEXT", "claimed_at": "DOUBLE PRECISION NOT NULL DEFAULT 0"}
"""Added to tables made before tries could be taken over: which try holds the key (none once it is
released), and since when, in seconds since the epoch (0: it may be taken over at once, as a key
left with no answer before then may)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def request_id(principal: str, key: str, print_: str) -> str:
    """The id the events of a keyed request carry: who sent which request under which key, without
    the key itself."""
    return hashlib.sha256(b"\0".join([principal.encode(), key.encode(), print_.encode()])).hexdigest()[:32]


class IdempotencyKeys:
    def __init__(self, db: ProjectionDB, lease: float = 10.0) -> None:
        self.db, self.lease = db, lease
        with db.transaction() as tx:
            if db.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('ledger-idempotency-schema'))")
            tx.execute(SCHEMA)
            _add_claim_columns(tx, db.dialect)

    def once(self, principal: str, key: str, print_: str, run: Callable[[bool], Answer]) -> Answer:
        """``run`` once for this principal and key; a retry with the same request gets its answer.

        ``run`` is told whether an earlier try may have recorded the command.
        """
        claim = secrets.token_hex(16)
        with self.db.transaction() as tx:
            taken = tx.execute(
                "INSERT INTO idempotency_keys (principal, key, fingerprint, claim, claimed_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (principal, key) DO NOTHING",
                (principal, key, print_, claim, time.time()),
            )
        if taken:
            return self._run(principal, key, claim, run, retried=False)
        earlier = self._replay_or_take_over(principal, key, print_, claim)
        if isinstance(earlier, Answer):
            return earlier
        return self._run(principal, key, claim, run, retried=True)

    def _run(
        self, principal: str, key: str, claim: str, run: Callable[[bool], Answer], retried: bool
    ) -> Answer:
        try:
            answer = run(retried)
            self._keep(principal, key, claim, answer)
        except errors.RuleViolation:
            self._let_go(principal, key, claim, released=True)
            raise
        except BaseException:
            self._let_go(principal, key, claim, released=False)
            raise
        return answer

    def _keep(self, principal: str, key: str, claim: str, answer: Answer) -> None:
        """The answer, for retries to get; unless another try took the key over meanwhile."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE idempotency_keys SET status = %s, body = %s, headers = %s"
                " WHERE principal = %s AND key = %s AND claim = %s",
                (
                    answer.status,
                    answer.body.decode(),
                    orjson.dumps(answer.headers).decode(),
                    principal,
                    key,
                    claim,
                ),
            )

    def _replay_or_take_over(self, principal: str, key: str, print_: str, claim: str) -> Answer | None:
        """The answer the key holds; or ``None`` once this try has taken over a key whose try vanished."""
        rows = self.db.query(
            "SELECT fingerprint, status, body, headers, claim, claimed_at FROM idempotency_keys"
            " WHERE principal = %s AND key = %s",
            (principal, key),
        )
        if not rows:  # taken away between the two statements (by an operator purging old keys)
            raise Problem(409, "IdempotencyKeyBusy", "this key was just let go; send the request again")
        row = rows[0]
        released = row["status"] is None and row["claim"] is None
        if row["fingerprint"] != print_ and not released:
            raise Problem(
                422, "IdempotencyKeyReused", "this Idempotency-Key was used for a different request"
            )
        if row["status"] is not None:
            headers = orjson.loads(row["headers"]) | {"Idempotent-Replay": "true"}
            return Answer(int(row["status"]), row["body"].encode(), headers)
        wait = float(row["claimed_at"]) + self.lease - time.time()
        if wait <= 0:
            with self.db.transaction() as tx:
                taken = tx.execute(
                    "UPDATE idempotency_keys SET fingerprint = %s, claim = %s, claimed_at = %s"
                    " WHERE principal = %s AND key = %s AND status IS NULL AND claimed_at = %s",
                    (print_, claim, time.time(), principal, key, row["claimed_at"]),
                )
            if taken:
                return None
        raise Problem(
            409,
            "IdempotencyKeyBusy",
            "the first request with this key is still running; send it again after Retry-After seconds",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def _let_go(self, principal: str, key: str, claim: str, released: bool) -> None:
        """Let the next try take over at once. A refused command (``released``) recorded nothing,
        so that try may even be another request; after any other failure, the events may or may
        not have been recorded, so the next try must be the same request, and looks. If this fails
        too (the database out of reach), the lease runs out instead."""
        with suppress(psycopg.Error, sqlite3.Error), self.db.transaction() as tx:
            tx.execute(
                "UPDATE idempotency_keys SET claim = %s, claimed_at = 0"
                " WHERE principal = %s AND key = %s AND claim = %s",
                (None if released else claim, principal, key, claim),
            )


def _add_claim_columns(tx: Tx, dialect: str) -> None:
    if dialect == "postgres":
        for name, kind in CLAIM_COLUMNS.items():
            tx.execute(f"ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS {name} {kind}")
        return
    present = {row["name"] for row in tx.query("PRAGMA table_info(idempotency_keys)")}
    for name, kind in CLAIM_COLUMNS.items():
        if name not in present:
            tx.execute(f"ALTER TABLE idempotency_keys ADD COLUMN {name} {kind}")
