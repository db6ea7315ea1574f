"""The demo engagement: an ERP rollout whose history shows every kind of change.

Its events carry the times of a scripted timeline (January to October 2026), so that the
slip history and charts look like a real engagement's. Seeding resumes where it stopped and
never records a step twice: step ``n`` is version ``n`` of the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from domain import commands as c
from domain.service import Ledger
from domain.values import ResponsibleParty as P
from domain.values import SlipCause as C
from domain.values import TaskStatus as T

CODE = "ACME-ERP"
MANAGER = "dana.whitfield"


@dataclass(frozen=True)
class Step:
    at: datetime
    actor: str
    command: c.Command


def _steps() -> Iterator[tuple[str, str, type[c.Command], dict[str, Any]]]:
    d = date
    yield (
        "2026-01-05 09:00",
        MANAGER,
        c.OpenEngagement,
        {
            "title": "ERP rollout: finance and supply chain",
            "client_id": "acme",
            "client_name": "ACME Manufacturing",
            "manager": "Dana Whitfield",
            "planned_start": d(2026, 1, 5),
            "planned_end": d(2026, 10, 30),
            "change_ref": "SOW-2025-118",
        },
    )
    sow = {"reason": "Initial scope per SOW v1.2", "change_ref": "SOW-2025-118"}
    for key, title in [
        ("gl-migration", "General ledger migration"),
        ("p2p", "Procure-to-pay"),
        ("supplier-portal", "Supplier self-service portal"),
        ("o2c", "Order-to-cash"),
        ("data-migration", "Legacy data migration"),
    ]:
        yield "2026-01-05 09:30", MANAGER, c.AddScopeItem, {"key": key, "title": title, **sow}
    for key, title, baseline in [
        ("design-signoff", "Design sign-off", d(2026, 2, 27)),
        ("build-complete", "Build complete", d(2026, 5, 29)),
        ("uat-signoff", "UAT sign-off", d(2026, 7, 17)),
        ("go-live", "Go-live", d(2026, 8, 31)),
    ]:
        yield "2026-01-06 10:00", MANAGER, c.PlanMilestone, {"key": key, "title": title, "baseline": baseline}
    for key, title, milestone, who, due in [
        ("blueprint", "Blueprint workshops", "design-signoff", "priya.nair", d(2026, 2, 20)),
        ("configure-gl", "Configure general ledger", "build-complete", "marco.rossi", d(2026, 5, 15)),
        ("legacy-extract", "Legacy data extract", "build-complete", "marco.rossi", d(2026, 4, 30)),
        ("uat-scripts", "Write UAT scripts", "uat-signoff", "priya.nair", None),
        ("report-rewrite", "Rewrite legacy reports", "build-complete", None, None),
    ]:
        yield (
            "2026-01-07 11:00",
            MANAGER,
            c.AddTask,
            {
                "key": key,
                "title": title,
                "milestone_key": milestone,
                "assignee": who,
                "due_on": due,
            },
        )
    yield (
        "2026-01-12 08:30",
        "priya.nair",
        c.ChangeTaskStatus,
        {"key": "blueprint", "to_status": T.IN_PROGRESS},
    )
    yield (
        "2026-02-20 16:00",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "design-signoff",
            "to_date": d(2026, 3, 4),
            "cause": C.CLIENT_DEPENDENCY,
            "responsible_party": P.CLIENT,
            "reason": "Client steering committee moved the sign-off meeting",
        },
    )
    yield "2026-02-27 12:00", "priya.nair", c.ChangeTaskStatus, {"key": "blueprint", "to_status": T.DONE}
    yield (
        "2026-03-04 17:00",
        MANAGER,
        c.AchieveMilestone,
        {"key": "design-signoff", "actual_on": d(2026, 3, 4)},
    )
    yield (
        "2026-03-09 09:00",
        "marco.rossi",
        c.ChangeTaskStatus,
        {"key": "legacy-extract", "to_status": T.IN_PROGRESS},
    )
    yield (
        "2026-03-11 14:00",
        "marco.rossi",
        c.ChangeTaskStatus,
        {
            "key": "legacy-extract",
            "to_status": T.BLOCKED,
            "reason": "Waiting for read access to the client's legacy database",
            "internal_note": "Escalated to ACME IT; second request this month",
        },
    )
    yield (
        "2026-03-16 10:00",
        MANAGER,
        c.AddScopeItem,
        {
            "key": "wms",
            "title": "Warehouse management module",
            "change_ref": "CR-007",
            "reason": "Client requested warehouse management in phase 1",
        },
    )
    yield (
        "2026-03-16 10:30",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "build-complete",
            "to_date": d(2026, 6, 12),
            "cause": C.SCOPE_CHANGE,
            "responsible_party": P.CLIENT,
            "change_ref": "CR-007",
            "reason": "Warehouse module added to build (CR-007)",
        },
    )
    yield (
        "2026-03-18 09:15",
        "marco.rossi",
        c.ChangeTaskStatus,
        {
            "key": "legacy-extract",
            "to_status": T.IN_PROGRESS,
            "reason": "Database access granted",
        },
    )
    yield (
        "2026-03-23 11:00",
        MANAGER,
        c.ReviseScopeItem,
        {
            "key": "o2c",
            "title": "Order-to-cash with EDI",
            "change_ref": "CR-008",
            "description": "Includes EDI order intake for the two largest distributors",
            "reason": "EDI order intake confirmed in scope (CR-008)",
        },
    )
    yield (
        "2026-04-02 15:00",
        "marco.rossi",
        c.ChangeTaskStatus,
        {"key": "configure-gl", "to_status": T.IN_PROGRESS},
    )
    yield (
        "2026-04-20 16:30",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "build-complete",
            "to_date": d(2026, 6, 19),
            "cause": C.VENDOR_DELAY,
            "responsible_party": P.VENDOR,
            "reason": "Tax engine patch from the ERP vendor arrived late",
            "internal_note": "Vendor contract clause 7.2 (delay credits) may apply",
        },
    )
    yield (
        "2026-04-24 10:00",
        MANAGER,
        c.ChangeTaskStatus,
        {
            "key": "report-rewrite",
            "to_status": T.CANCELLED,
            "change_ref": "CR-009",
            "reason": "Replaced by the ERP's standard reports (CR-009)",
        },
    )
    yield (
        "2026-04-27 09:00",
        "marco.rossi",
        c.ChangeTaskStatus,
        {"key": "legacy-extract", "to_status": T.DONE},
    )
    yield (
        "2026-05-04 09:00",
        MANAGER,
        c.RemoveScopeItem,
        {
            "key": "supplier-portal",
            "change_ref": "CR-010",
            "reason": "Supplier portal deferred to phase 2 (CR-010)",
        },
    )
    yield (
        "2026-05-04 09:30",
        MANAGER,
        c.PlanMilestone,
        {
            "key": "portal-pilot",
            "title": "Supplier portal pilot",
            "baseline": d(2026, 9, 15),
            "reason": "Pilot planned before the deferral was confirmed",
        },
    )
    yield (
        "2026-05-06 11:00",
        MANAGER,
        c.CancelMilestone,
        {
            "key": "portal-pilot",
            "change_ref": "CR-010",
            "reason": "Portal deferred to phase 2 (CR-010)",
        },
    )
    yield (
        "2026-05-11 12:00",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "build-complete",
            "to_date": d(2026, 6, 16),
            "cause": C.RESOURCE_CONSTRAINT,
            "responsible_party": P.PMO,
            "reason": "Second configuration team added; three days recovered",
        },
    )
    yield (
        "2026-05-11 12:30",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "go-live",
            "to_date": d(2026, 9, 28),
            "cause": C.SCOPE_CHANGE,
            "responsible_party": P.CLIENT,
            "change_ref": "CR-007",
            "reason": "Warehouse module needs its own cutover rehearsal",
        },
    )
    yield (
        "2026-05-14 15:00",
        MANAGER,
        c.RebaselineMilestone,
        {
            "key": "go-live",
            "to_date": d(2026, 9, 28),
            "change_ref": "CR-011",
            "approved_by": "J. Ortega (ACME steering committee)",
            "reason": "Re-plan approved after the warehouse scope change",
        },
    )
    yield "2026-06-05 17:00", "marco.rossi", c.ChangeTaskStatus, {"key": "configure-gl", "to_status": T.DONE}
    yield (
        "2026-06-16 18:00",
        MANAGER,
        c.AchieveMilestone,
        {"key": "build-complete", "actual_on": d(2026, 6, 16)},
    )
    yield (
        "2026-06-22 09:00",
        "priya.nair",
        c.ChangeTaskStatus,
        {"key": "uat-scripts", "to_status": T.IN_PROGRESS},
    )
    yield (
        "2026-06-23 10:00",
        MANAGER,
        c.RescheduleTask,
        {
            "key": "uat-scripts",
            "to_date": d(2026, 7, 24),
            "reason": "Scripts follow the new UAT window",
        },
    )
    yield (
        "2026-06-29 10:00",
        MANAGER,
        c.PutOnHold,
        {
            "reason": "Client's fiscal year-end freeze: no system changes until 13 July",
        },
    )
    yield "2026-07-13 09:00", MANAGER, c.Resume, {"reason": "Year-end freeze lifted"}
    yield (
        "2026-07-14 11:00",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "uat-signoff",
            "to_date": d(2026, 7, 31),
            "cause": C.THIRD_PARTY,
            "responsible_party": P.THIRD_PARTY,
            "reason": "Payroll interface provider's test system was down",
        },
    )
    yield (
        "2026-07-21 14:00",
        "priya.nair",
        c.ChangeTaskStatus,
        {
            "key": "configure-gl",
            "to_status": T.IN_PROGRESS,
            "reason": "Reconciliation defects found in UAT cycle 1",
        },
    )
    yield "2026-07-28 16:00", "marco.rossi", c.ChangeTaskStatus, {"key": "configure-gl", "to_status": T.DONE}
    yield (
        "2026-07-29 09:00",
        MANAGER,
        c.AssignTask,
        {
            "key": "uat-scripts",
            "assignee": "lena.berg",
            "internal_note": "Priya moves to the WMS cutover team",
        },
    )
    yield "2026-07-30 12:00", "lena.berg", c.ChangeTaskStatus, {"key": "uat-scripts", "to_status": T.DONE}
    yield (
        "2026-08-05 17:30",
        MANAGER,
        c.AchieveMilestone,
        {
            "key": "uat-signoff",
            "actual_on": d(2026, 8, 5),
            "cause": C.CLIENT_DEPENDENCY,
            "responsible_party": P.CLIENT,
            "reason": "Sign-off waited for the client's finance director",
        },
    )
    yield (
        "2026-09-18 10:00",
        MANAGER,
        c.RescheduleMilestone,
        {
            "key": "go-live",
            "to_date": d(2026, 10, 2),
            "cause": C.TECHNICAL_ISSUE,
            "responsible_party": P.VENDOR,
            "reason": "Cutover rehearsal found a data-load defect in the vendor's tool",
        },
    )
    yield "2026-10-02 20:00", MANAGER, c.AchieveMilestone, {"key": "go-live", "actual_on": d(2026, 10, 2)}
    yield (
        "2026-10-05 09:00",
        MANAGER,
        c.AssignManager,
        {
            "manager": "Sam Okafor",
            "reason": "Hypercare is run by the service-transition manager",
        },
    )


def demo_steps() -> list[Step]:
    """The scripted history, one command (and one event) per step."""
    return [
        Step(
            at=datetime.fromisoformat(at).replace(tzinfo=UTC),
            actor=actor,
            command=command_type(code=CODE, **fields),
        )
        for at, actor, command_type, fields in _steps()
    ]


class _ScriptedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def seed_demo(env: dict[str, str]) -> int:
    """Record the demo steps not yet recorded; returns how many were recorded now."""
    clock = _ScriptedClock()
    ledger = Ledger(env, clock=clock)
    try:
        existing = ledger.engagement_or_none(CODE)
        done = existing.version if existing else 0
        steps = demo_steps()[done:]
        for step in steps:
            clock.now = step.at
            ledger.execute(step.command, actor=step.actor, expected_version=done)
            done += 1
        return len(steps)
    finally:
        ledger.close()
