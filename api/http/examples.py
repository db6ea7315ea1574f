"""Response examples and access notes for the OpenAPI document, taken from the demo engagement."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.http.schemas import AuditRow, Change, Page

Responses = dict[int | str, dict[str, Any]]

_AT = "2026-04-20T16:30:00+00:00"
_MOVED = {
    "position": 27, "recorded_at": _AT, "effective_on": None, "type": "MilestoneRescheduled",
    "category": "milestone", "subject": "build-complete",
    "summary": "Milestone 'Build complete' moved 2026-06-12 -> 2026-06-19 (+7 days): vendor delay",
    "before": {"forecast": "2026-06-12"}, "after": {"forecast": "2026-06-19"},
    "reason": "Tax engine patch from the ERP vendor arrived late", "change_ref": None,
    "actor": "dana.whitfield",
}  # fmt: skip
_AUDITED = {
    **_MOVED, "engagement_id": "813817f5-ad46-519f-a707-331bbba3a867", "code": "ACME-ERP", "version": 27,
    "internal_note": "Vendor contract clause 7.2 (delay credits) may apply", "client_visible": True,
}  # fmt: skip
_CHANGELOG_CSV = (
    "position,recorded_at,effective_on,type,category,subject,summary,before,after,reason,change_ref,actor\r\n"
    "27,2026-04-20T16:30:00+00:00,,MilestoneRescheduled,milestone,build-complete,"
    "Milestone 'Build complete' moved 2026-06-12 -> 2026-06-19 (+7 days): vendor delay,"
    '"{""forecast"":""2026-06-12""}","{""forecast"":""2026-06-19""}",'
    "Tax engine patch from the ERP vendor arrived late,,dana.whitfield\r\n"
)
_AUDIT_CSV = (
    "position,engagement_id,code,version,recorded_at,effective_on,actor,type,category,subject,summary,"
    "before,after,reason,change_ref,internal_note,client_visible\r\n"
    "27,813817f5-ad46-519f-a707-331bbba3a867,ACME-ERP,27,2026-04-20T16:30:00+00:00,,dana.whitfield,"
    "MilestoneRescheduled,milestone,build-complete,"
    "Milestone 'Build complete' moved 2026-06-12 -> 2026-06-19 (+7 days): vendor delay,"
    '"{""forecast"":""2026-06-12""}","{""forecast"":""2026-06-19""}",'
    "Tax engine patch from the ERP vendor arrived late,,"
    "Vendor contract clause 7.2 (delay credits) may apply,1\r\n"
)
_GO_LIVE = {
    "key": "go-live", "title": "Go-live", "status": "achieved", "baseline": "2026-09-28",
    "original_baseline": "2026-08-31", "forecast": "2026-10-02", "actual": "2026-10-02", "slip_days": 4,
    "slip_vs_original_days": 32,
}  # fmt: skip
_UAT = {
    "key": "uat-signoff", "title": "UAT sign-off", "status": "planned", "baseline": "2026-07-17",
    "original_baseline": "2026-07-17", "forecast": "2026-07-31", "actual": None, "slip_days": 14,
    "slip_vs_original_days": 14,
}  # fmt: skip
_REBASELINED = {
    "position": 35, "code": "ACME-ERP", "milestone_key": "go-live", "milestone_title": "Go-live",
    "kind": "rebaselined", "version": 35, "recorded_at": "2026-05-14T15:00:00+00:00", "effective_on": None,
    "from_date": "2026-08-31", "to_date": "2026-09-28", "delta_days": 0, "forecast": "2026-09-28",
    "baseline": "2026-09-28", "original_baseline": "2026-08-31", "actual": None, "slip_days": 0,
    "slip_vs_original_days": 28, "cause": None, "responsible_party": None,
    "reason": "Re-plan approved after the warehouse scope change", "actor": "dana.whitfield",
    "change_ref": "CR-011", "approved_by": "J. Ortega (ACME steering committee)",
}  # fmt: skip
_SLIPS = {
    "history": [_REBASELINED],
    "mta": [{"key": "go-live", "title": "Go-live", "status": "achieved", "points": [
        {"recorded_at": "2026-01-06T10:00:00+00:00", "forecast": "2026-08-31", "baseline": "2026-08-31",
         "kind": "planned"},
        {"recorded_at": "2026-05-11T12:30:00+00:00", "forecast": "2026-09-28", "baseline": "2026-08-31",
         "kind": "rescheduled"},
        {"recorded_at": "2026-10-02T20:00:00+00:00", "forecast": "2026-10-02", "baseline": "2026-09-28",
         "kind": "achieved"},
    ]}],
    "attribution": {
        "overall": {"gross": 77, "recoveries": 3, "net": 74},
        "by_party": {"client": {"gross": 52, "recoveries": 0, "net": 52},
                     "pmo": {"gross": 0, "recoveries": 3, "net": -3}},
        "by_cause": {"scope_change": {"gross": 42, "recoveries": 0, "net": 42},
                     "resource_constraint": {"gross": 0, "recoveries": 3, "net": -3}},
        "rebaselines": 1, "rebaseline_days": 28,
    },
}  # fmt: skip


def _trail(page: type[BaseModel], item: dict[str, Any], csv: str, description: str) -> Responses:
    example = {"items": [item], "next_after": item["position"]}
    content = {
        "application/json": {"example": example},
        "text/csv": {"schema": {"type": "string"}, "example": csv},
    }
    return {200: {"model": page, "description": description, "content": content}}


MILESTONES: Responses = {200: {"content": {"application/json": {"example": [_UAT, _GO_LIVE]}}}}
SLIPS: Responses = {200: {"content": {"application/json": {"example": _SLIPS}}}}
CHANGELOG = _trail(Page[Change], _MOVED, _CHANGELOG_CSV, "A page of changes, or (`format=csv`) all of them")
AUDIT = _trail(Page[AuditRow], _AUDITED, _AUDIT_CSV, "A page of the trail, or (`format=csv`) all of it")
ENGAGEMENT_AUDIT_ACCESS = """Every event of the engagement, with who, when, what (before and after), why.

**pmo and auditors** get the full trail: internal notes and staffing changes included.

**A client** gets the client view of its own engagement, not a 403: the same rows as its change
log (no `internal_note` column, no `TaskAssigned` rows) with the audit columns and the `actor`
and `subject` filters. The trail of an engagement is the client's to check; only what the PMO
keeps to itself is left out. Another client's engagement is a 404."""
