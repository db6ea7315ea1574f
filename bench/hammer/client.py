"""A client: one thread sending valid commands, mistakes, retries and reads, checking what it reads."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import replace
from itertools import count

import httpx

from bench.hammer.invalid import invalid_commands
from bench.hammer.record import Ack, Record, ack_of
from bench.hammer.sends import READ, READS, TIMEOUT, VALID, Answer, Belief, Draw, Send, command, read
from bench.hammer.site import Site
from bench.hammer.valid import COMMANDS, close, opening


class Client:
    """One thread: picks an engagement of the pool (or one it opened), reads it when its picture
    is stale, and sends a valid command, a mistake, a retry or a read."""

    def __init__(self, n: int, seed: int, site: Site, record: Record, pool: Mapping[str, str]) -> None:
        self.n, self.site, self.record = n, site, record
        self.rng = random.Random(seed + n)
        self.client_of = dict(pool)
        """Each engagement's client id: its client may read it, the other may not."""
        self.pool, self.own = list(pool), list[str]()
        self.beliefs: dict[str, Belief] = {}
        self.stale: set[str] = set()
        self.mine: dict[str, Ack] = {}
        """Per engagement, the last write this client had acknowledged."""
        self.seen: dict[str, int] = {}
        self.keyed: list[tuple[Send, Answer]] = []
        """Acknowledged sends that carried an Idempotency-Key: to retry, or to reuse the key of."""
        self.numbers = count(1)

    def run(self, until: float) -> None:
        with httpx.Client(base_url=self.site.url, timeout=TIMEOUT) as http:
            try:
                while time.monotonic() < until:
                    self.step(http)
            except Exception as error:  # a client that stops can vouch for nothing after: say so
                self.record.violation(f"client {self.n} stopped: {error!r}")
                raise

    def step(self, http: httpx.Client) -> None:
        draw = Draw(self.rng, f"{self.n}-{next(self.numbers)}")
        code = (
            self.rng.choice(self.own) if self.own and self.rng.random() < 0.2 else self.rng.choice(self.pool)
        )
        if code not in self.beliefs or code in self.stale or self.rng.random() < 0.15:
            self.read_status(http, code)
            return
        roll = self.rng.random()
        if roll < 0.55:
            self.valid(http, draw, code)
        elif roll < 0.62 and self.keyed:
            self.retry(http)
        elif roll < 0.85:
            self.mistake(http, draw, code)
        else:
            self.other_read(http, code)

    def send(self, http: httpx.Client, send: Send) -> Answer:
        answer = self.record.exchange(http, send, self.site.auth[send.who])
        if answer.label == "recorded" and send.code:
            ack = ack_of(answer.body)
            self.record.acknowledged(ack)
            self.mine[ack.code] = ack
            if self.rng.random() < 0.6:  # else the next command meets a state it has not read
                self.stale.add(ack.code)
        if send.if_match is not None and answer.label in {"recorded", "nothing"}:
            moved = send.if_match + len(answer.body["recorded"])
            self.record.check(
                "If-Match honoured",
                answer.body["version"] == moved,
                f"{send.path} sent with If-Match v{send.if_match} answered version {answer.body['version']}",
            )
        return answer

    def valid(self, http: httpx.Client, d: Draw, code: str) -> None:
        belief, roll = self.beliefs[code], self.rng.random()
        if roll < 0.01:
            self.open(http, d)
            return
        if roll < 0.04 and code in self.own:
            kind, built = "close", close(d, belief)
        else:
            names = list(COMMANDS)
            kind = self.rng.choices(names, weights=[COMMANDS[k][1] for k in names])[0]
            built = COMMANDS[kind][0](d, belief)
        if built is None:
            return
        route, body = built
        headers, if_match = {}, None
        if self.rng.random() < 0.2:
            if_match = int(belief["version"])
            headers["If-Match"] = f'"v{if_match}"'
        if self.rng.random() < 0.25:
            headers["Idempotency-Key"] = f"hammer-{d.tag}"
        expect = VALID | ({"ExpectedVersionMismatch"} if if_match is not None else set())
        send = command(kind, code, route, body, headers=headers, if_match=if_match, expect=expect)
        answer = self.send(http, send)
        if "Idempotency-Key" in headers and 200 <= answer.status < 300:
            self.keyed.append((send, answer))

    def open(self, http: httpx.Client, d: Draw) -> None:
        code = f"OWN-{d.tag}"
        body = opening(code, "acme") | (d.why() if self.rng.random() < 0.3 else {})
        answer = self.send(http, command("open-engagement", code, "", body, expect=frozenset({"recorded"})))
        if answer.label == "recorded":
            self.own.append(code)
            self.client_of[code] = "acme"

    def retry(self, http: httpx.Client) -> None:
        """The same request with the same key: the first answer again, and nothing recorded twice."""
        first, answered = self.rng.choice(self.keyed)
        again = replace(first, kind="retry (same Idempotency-Key)", expect=frozenset({"replay"}))
        answer = self.send(http, again)
        if answer.label == "replay":
            same = (answer.status, answer.body, answer.etag) == (
                answered.status,
                answered.body,
                answered.etag,
            )
            self.record.check(
                "retry answers the same",
                same,
                f"{first.path}: first {answered.status} {answered.body}, then {answer.status} {answer.body}",
            )

    def mistake(self, http: httpx.Client, d: Draw, code: str) -> None:
        mistakes = invalid_commands(d, code, self.beliefs[code], pooled=code in self.pool)
        if self.keyed:  # the key of an acknowledged command, on another request
            first, _ = self.rng.choice(self.keyed)
            other = {"title": f"Task {d.tag}"}
            mistakes["Idempotency-Key reused"] = command(
                "invalid: Idempotency-Key reused",
                str(first.code),
                "tasks",
                other,
                headers={"Idempotency-Key": first.headers["Idempotency-Key"]},
                expect=frozenset({"IdempotencyKeyReused"}),
            )
        self.send(http, mistakes[self.rng.choice(sorted(mistakes))])

    def read_status(self, http: httpx.Client, code: str) -> None:
        """Read the engagement at this client's last write: it must show it, and never go back."""
        mine = self.mine.get(code)
        # Another client's acknowledged write is as good a floor: without any, the engagement may not
        # be projected yet (or not exist), and 404 is an honest answer.
        known = mine or self.record.latest().get(code)
        query = f"?min_position={known.position}" if known else ""
        expect = READ if known else READ | {"EngagementNotFound"}
        answer = self.send(http, read("read: status", f"/engagements/{code}{query}", expect=expect))
        if answer.status != 200:
            return
        version = int(answer.body["version"])
        if mine:
            self.record.check(
                "own writes seen",
                version >= mine.version,
                f"{code} read at position {mine.position} shows version {version}, "
                f"but this client's write there was acknowledged at version {mine.version}",
            )
        self.record.check(
            "reads never go back",
            version >= self.seen.get(code, 0),
            f"{code} showed version {self.seen.get(code)}, then {version}",
        )
        self.seen[code] = max(version, self.seen.get(code, 0))
        self.beliefs[code] = answer.body
        self.stale.discard(code)

    def other_read(self, http: httpx.Client, code: str) -> None:
        owner = self.client_of[code]
        stranger = "globex" if owner == "acme" else "acme"
        sends = {
            "status": read("read: status", f"/engagements/{code}"),
            "portfolio": read("read: portfolio", "/engagements", who="auditor"),
            "slips": read("read: slips", f"/engagements/{code}/slips"),
            "change log": read("read: change log (its client)", f"/engagements/{code}/changelog", who=owner),
            "audit": read("read: audit trail", f"/engagements/{code}/audit?limit=20", who="auditor"),
            "another client's change log": read("invalid: another client's change log",
                                                f"/engagements/{code}/changelog", who=stranger,
                                                expect=frozenset({"EngagementNotFound"})),
        }  # fmt: skip
        self.send(http, sends[self.rng.choice(READS)])
