"""Invalid commands: one of each mistake, each with the answers it may get."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bench.hammer.sends import CLOSED, GONE, Belief, Draw, Send, command
from bench.hammer.valid import milestones, opening, tasks


def invalid_commands(d: Draw, code: str, b: Belief, pooled: bool) -> dict[str, Send]:
    """One of each mistake, aimed at engagement ``code``; each names the answers it may get.

    Where the engagement's state decides which rule breaks first (another client may have
    achieved the milestone meanwhile), each of those rules is expected; none records anything.
    """
    m = d.pick(milestones(b)) or {"key": f"ghost-{d.tag}"}
    t = d.pick(tasks(b)) or {"key": f"ghost-{d.tag}"}
    task = {"title": f"Task {d.tag}"}

    def on(route: str, body: Mapping[str, Any], *expect: str, **more: Any) -> Send:
        return command("", code, route, body, expect=frozenset(expect), **more)

    ghost, bad = f"GHOST-{d.tag}", f"BAD-{d.tag}"
    mistakes = {
        "unknown milestone": on(f"milestones/ghost-{d.tag}/reschedule",
                                {"to_date": d.day(), **d.slip(), **d.why()}, "UnknownMilestone", CLOSED),
        "unknown task": on(f"tasks/ghost-{d.tag}/status", {"to_status": "done"}, "UnknownTask", CLOSED),
        "unknown engagement": command("", ghost, "tasks", task, expect=frozenset({"EngagementNotFound"})),
        "date before the start": on("milestones", {"title": "Kick-off", "baseline": "2024-12-02"},
                                    "DateBeforeEngagementStart", CLOSED),
        "end before start": command("", bad, "", opening(bad, "acme", planned_end="2024-12-31"),
                                    expect=frozenset({"EndBeforeStart"})),
        "no such day": on(f"milestones/{m['key']}/reschedule", {"to_date": "2025-02-30", **d.why()},
                          "InvalidInput"),
        "achieved in the future": on(f"milestones/{m['key']}/achieve",
                                     {"actual_on": "2099-01-01", **d.slip(), **d.why()},
                                     *GONE, "ActualDateInFuture"),
        "no reason to cancel": on(f"milestones/{m['key']}/cancel", {}, *GONE, "ReasonRequired", "nothing"),
        "no reason to block": on(f"tasks/{t['key']}/status", {"to_status": "blocked"}, "ReasonRequired",
                                 "IllegalTaskTransition", "UnknownTask", CLOSED, "nothing"),
        "no slip cause": on(f"milestones/{m['key']}/reschedule", {"to_date": "2030-01-01", **d.why()},
                            *GONE, "SlipCauseRequired"),
        "no approver": on(f"milestones/{m['key']}/rebaseline",
                          {"to_date": "2030-01-01", "change_ref": f"CR-{d.tag}", **d.why()},
                          *GONE, "ApproverRequired"),
        "malformed JSON": Send("", f"/engagements/{code}/tasks", b'{"title": "Half a', code=code,
                               expect=frozenset({"MalformedJson"})),
        "unknown field": on("tasks", task | {"priority": "high"}, "InvalidInput"),
        "wrong type": on(f"tasks/{t['key']}/status", {"to_status": "finished"}, "InvalidInput"),
        "malformed code": command("", "x", "tasks", task, expect=frozenset({"InvalidInput"})),
        "malformed If-Match": on("tasks", task, "MalformedIfMatch", headers={"If-Match": "yesterday"}),
        "auditor writes": on("tasks", task, "Forbidden", who="auditor"),
        "client writes": on("tasks", task, "Forbidden", who="acme"),
        "no token": on("tasks", task, "Unauthenticated", who="nobody"),
        "forged token": on("tasks", task, "Unauthenticated", who="forger"),
        "oversized body": on("scope-items", {"title": "x" * 70_000, **d.why()}, "BodyTooLarge"),
    }  # fmt: skip
    if pooled:  # the pool's engagements are past version 1 from the start
        mistakes["stale If-Match"] = on(
            "tasks", task, "ExpectedVersionMismatch", headers={"If-Match": '"v1"'}
        )
    return {name: replace(s, kind=f"invalid: {name}") for name, s in mistakes.items()}
