"""The checkers: read-your-writes, reconcile and verify alongside the clients, and the store at the end."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx
import orjson

from bench.hammer.record import Ack, Record
from bench.hammer.sends import READ, TIMEOUT, Answer, Send, read
from bench.hammer.site import Site
from domain.events import TOPICS
from domain.service import Ledger
from domain.store import read_log
from domain.values import engagement_id
from projections import positions
from projections.db import ProjectionDB
from projections.reconcile import Discrepancy, reconcile
from replay.registry import every_projection

PROJECTIONS = [p.name for p in every_projection()]


class Checker:
    """Reads, reconciles and verifies: while the clients send, and once they have stopped."""

    def __init__(self, site: Site, record: Record, ledger: Ledger, db: ProjectionDB) -> None:
        self.site, self.record, self.ledger, self.db = site, record, ledger, db

    def alongside(self, stop: threading.Event, every: float = 0.5) -> None:
        """Each check on a thread of its own, every ``every`` seconds, until ``stop``: a slow one
        (verify rehashes the whole log) holds back none of the others."""
        checks: list[Callable[[httpx.Client], object]] = [
            lambda http: self.read_your_writes(http, "read-your-writes"),
            lambda http: self.reconciled("reconcile", wait=1),
            lambda http: self.verified(http, "checkpoint + verify"),
        ]
        threads = [threading.Thread(target=self._repeat, args=(check, stop, every)) for check in checks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _repeat(self, check: Callable[[httpx.Client], object], stop: threading.Event, every: float) -> None:
        with httpx.Client(base_url=self.site.url, timeout=TIMEOUT) as http:
            try:
                while not stop.wait(every):
                    check(http)
            except Exception as error:
                self.record.violation(f"a checker stopped: {error!r}")
                raise

    def read_your_writes(self, http: httpx.Client, name: str) -> None:
        """Every engagement, read at its last acknowledged position, shows at least that version."""
        failures, skipped = [], False
        for code, ack in sorted(self.record.latest().items()):
            path = f"/engagements/{code}?min_position={ack.position}"
            answer = self.record.exchange(
                http, read("check: read at an acknowledged position", path), self.site.auth["pmo"]
            )
            skipped |= answer.status == 503
            if answer.status == 200 and int(answer.body["version"]) < ack.version:
                failures.append(
                    f"{code} at position {ack.position} shows version {answer.body['version']}, "
                    f"acknowledged {ack.version}"
                )
        self.record.check(name, None if skipped and not failures else not failures, "; ".join(failures))

    def reconciled(self, name: str, wait: float) -> None:
        """The projections reconcile with the store, each up to its own position, once they have
        seen the last acknowledged write (or ``wait`` seconds have passed: that is noted)."""
        head = max((ack.position for ack in self.record.latest().values()), default=0)
        if not positions.wait_until(self.db, PROJECTIONS, head, wait):
            self.record.note(f"reconcile began before the projections reached the last write ({wait:g} s)")
        verdicts = [self._reconciled(projection) for projection in PROJECTIONS]
        found = [str(d) for verdict in verdicts if verdict for d in verdict[:3]]
        self.record.check(name, None if None in verdicts else not found, "; ".join(found))

    def _reconciled(self, projection: str, attempts: int = 50) -> list[Discrepancy] | None:
        """``reconcile`` of one projection; ``None`` if it never kept still.

        ``reconcile`` reads a projection's position and what it saw of each engagement in separate
        queries, so a projection that moves between the two shows differences that are not there.
        A verdict counts only if the projection did not move while reconcile ran (positions only grow).
        """
        for _ in range(attempts):
            before = positions.positions(self.db).get(projection)
            found = reconcile(self.ledger, self.db, [projection])
            if positions.positions(self.db).get(projection) == before:
                return found
            self.record.note("reconcile verdicts discarded: a projection moved while reconcile read")
        return None

    def verified(self, http: httpx.Client, name: str) -> None:
        """A fresh checkpoint, then verify against it: every event rehashed matches the signed log."""
        taken = self._post(http, "checkpoints", {}, "pmo")
        if taken.status != 201:
            self.record.check(name, None if taken.status == 503 else False, f"checkpoint: {taken}")
            return
        verdict = self._post(http, "verify", {"against": taken.body["note"]}, "auditor")
        if verdict.status == 503:
            self.record.check(name, None)
            return
        ok = verdict.status == 200 and verdict.body["ok"] is True
        self.record.check(name, ok, f"verify against size {taken.body['size']}: {verdict.body}")

    def _post(self, http: httpx.Client, route: str, body: Mapping[str, Any], who: str) -> Answer:
        path = f"/ledger/{route}"
        send = Send(f"check: POST {path}", path, orjson.dumps(body), who=who, expect=READ, command=False)
        return self.record.exchange(http, send, self.site.auth[who])

    def final(self, http: httpx.Client) -> int:
        """Once the clients have stopped: everything caught up, read, reconciled, verified, and the
        store held against every acknowledgement; the number of events stored."""
        head = self.ledger.recorder.max_notification_id() or 0
        self.record.check(
            "final: projections caught up",
            positions.wait_until(self.db, PROJECTIONS, head, 60),
            f"not at {head} after 60 s: {positions.positions(self.db)}",
        )
        self.read_your_writes(http, "final: read-your-writes")
        self.reconciled("final: reconcile", wait=0)
        self.verified(http, "final: checkpoint + verify")
        stored = stored_events(self.ledger)
        for name, failures in stored_once(stored, self.record.acks, self.record.unanswered).items():
            self.record.check(
                name, None if failures is None else not failures, "; ".join(failures or [])[:2000]
            )
        return len(stored)


Stored = dict[tuple[UUID, int], tuple[int, str]]
"""Every stored event: (engagement id, version) -> (log position, event type)."""


def stored_events(ledger: Ledger) -> Stored:
    stored: Stored = {}
    after = 0
    while page := read_log(ledger.recorder, after, 1000):
        for position, event in page:
            stored[UUID(str(event.originator_id)), event.originator_version] = (
                position,
                TOPICS[event.topic].__name__,
            )
        after = page[-1][0]
    return stored


def stored_once(stored: Stored, acks: Sequence[Ack], unanswered: int) -> dict[str, list[str] | None]:
    """What the store holds against what was acknowledged: per final check, its failures.

    Every acknowledged event is at the version (and the last at the position) its answer gave,
    and no version is claimed twice; versions run from 1 without gaps; and, when every request
    got an answer, nothing is stored that no answer acknowledged (a refused command recorded
    nothing). ``None``: not checkable (some request went unanswered).
    """
    once, claimed = [], set[tuple[UUID, int]]()
    for ack in acks:
        stream = engagement_id(ack.code)
        for back, kind in enumerate(reversed(ack.recorded)):
            at = (stream, ack.version - back)
            found = stored.get(at)
            if at in claimed:
                once.append(f"{ack.code} version {at[1]} acknowledged twice")
            elif found is None or found[1] != kind or (back == 0 and found[0] != ack.position):
                once.append(
                    f"{ack.code} version {at[1]} acknowledged as {kind} at {ack.position}, stored {found}"
                )
            claimed.add(at)
    streams: dict[UUID, list[int]] = defaultdict(list)
    for stream, version in stored:
        streams[stream].append(version)
    code = {engagement_id(ack.code): ack.code for ack in acks}
    gaps = [
        f"{code.get(s, s)}: versions {sorted(v)[:20]}..."
        for s, v in streams.items()
        if sorted(v) != list(range(1, len(v) + 1))
    ]
    extra = [f"{code.get(s, s)} version {v} at {stored[s, v][0]}" for s, v in sorted(stored.keys() - claimed)]
    return {
        "final: acknowledged exactly once": once,
        "final: versions gap-free": gaps,
        "final: nothing unacknowledged": None if unanswered else extra,
    }
