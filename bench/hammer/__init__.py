"""A randomized hammer (after Trillian's): concurrent clients send random valid and invalid commands
for a fixed time while invariant checkers run alongside; it prints what it did and what it found.

Run as ``python -m bench.hammer --seconds S --seed N --clients C [--store sqlite|postgres]``.
It serves the real API as it runs in production: ``ledger serve`` on a SQLite data folder with
the projections in-process, or ``ledger serve --workers 2`` and ``ledger worker`` on a PostgreSQL
schema of its own (dropped afterwards). It opens a small pool of engagements, then C client
threads talk to it over HTTP for S seconds, colliding on the pool. Each sends a random mix of:

- valid commands, on all 17 command routes, built from what it last read of the engagement
  (some conditional on that version with ``If-Match``, some with an ``Idempotency-Key``);
- invalid ones: unknown keys and engagements, dates before the start, in the future or not on
  the calendar, malformed JSON, unknown fields, wrong types, missing reasons, causes and
  approvers, a stale or malformed ``If-Match``, the wrong role, no or a forged token, an
  oversized body, an ``Idempotency-Key`` reused for another request;
- retries with the same ``Idempotency-Key``, and reads for every role.

Every answer is judged: no 5xx but a 503 problem (back-pressure, counted apart), every 4xx a
problem document, an invalid command refused with a rule it could have broken and nothing
recorded, a valid one recorded, changing nothing or refused by the state it met (409, or 412
when conditional). Reads never go back in time and show the client's own writes; a retry
answers what the first send did. Every half second or so a checker reads every engagement at
its last acknowledged position (the version must be at least the acknowledged one), reconciles
the projections with the store, and verifies a fresh checkpoint. At the end: every acknowledged
command's events are in the store exactly once, at the versions and positions acknowledged,
nothing unacknowledged is, versions have no gaps, and reconcile and verify pass once the
projections have caught up. Exit status 1 on any violation.

Client n draws from ``random.Random(seed + n)``: which command, engagement, dates and mistakes
come next is fixed by the seed and the answers so far, and the answers depend on how the
clients' requests interleave. The same seed gives the same kind of run, not the same requests.
"""

from bench.hammer.checks import stored_once
from bench.hammer.record import ALONGSIDE, FINAL, INLINE, Ack, Record
from bench.hammer.run import Report, hammer
from bench.hammer.sends import PROBLEM, Send
from bench.hammer.valid import COMMANDS

__all__ = [
    "ALONGSIDE",
    "COMMANDS",
    "FINAL",
    "INLINE",
    "PROBLEM",
    "Ack",
    "Record",
    "Report",
    "Send",
    "hammer",
    "stored_once",
]
