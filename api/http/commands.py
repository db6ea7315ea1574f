"""Command routes: each parses the request into a domain command and records it (pmo only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel

from api.http import problems
from api.http.recording import DeskDep, Recorded, body_of
from domain import commands as cmd

Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$", examples=["ACME-ERP"])]
Key = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["uat-signoff"])]

EXAMPLES: dict[type[cmd.Command], dict[str, Any]] = {
    cmd.OpenEngagement: {"code": "ACME-ERP", "title": "ERP rollout", "client_id": "acme",
                         "client_name": "ACME Manufacturing", "manager": "Dana Whitfield",
                         "planned_start": "2026-01-05", "planned_end": "2026-10-30", "change_ref": "SOW-118"},
    cmd.AssignManager: {"manager": "Sam Okafor", "reason": "Hypercare is run by service transition"},
    cmd.PutOnHold: {"reason": "Client's year-end freeze", "effective_on": "2026-06-29"},
    cmd.Resume: {"reason": "Freeze lifted"},
    cmd.CloseEngagement: {"reason": "Hypercare complete; final invoice accepted"},
    cmd.AddScopeItem: {"key": "wms", "title": "Warehouse management", "reason": "Client request",
                       "change_ref": "CR-007"},
    cmd.ReviseScopeItem: {"title": "Order-to-cash with EDI", "reason": "EDI confirmed",
                          "change_ref": "CR-008"},
    cmd.RemoveScopeItem: {"reason": "Deferred to phase 2", "change_ref": "CR-010"},
    cmd.PlanMilestone: {"key": "uat-signoff", "title": "UAT sign-off", "baseline": "2026-07-17"},
    cmd.RescheduleMilestone: {"to_date": "2026-07-31", "cause": "third_party",
                              "responsible_party": "third_party",
                              "reason": "Payroll provider's test system was down"},
    cmd.RebaselineMilestone: {"to_date": "2026-09-28", "change_ref": "CR-011", "approved_by": "J. Ortega",
                              "reason": "Re-plan approved after scope change"},
    cmd.AchieveMilestone: {"actual_on": "2026-08-05", "cause": "client_dependency",
                           "responsible_party": "client",
                           "reason": "Sign-off waited for the finance director"},
    cmd.CancelMilestone: {"reason": "Portal deferred to phase 2", "change_ref": "CR-010"},
    cmd.AddTask: {"key": "uat-scripts", "title": "Write UAT scripts", "milestone_key": "uat-signoff",
                  "assignee": "priya.nair", "due_on": "2026-07-10"},
    cmd.ChangeTaskStatus: {"to_status": "blocked", "reason": "Waiting for database access"},
    cmd.AssignTask: {"assignee": "lena.berg"},
    cmd.RescheduleTask: {"to_date": "2026-07-24", "reason": "Follows the new UAT window"},
}  # fmt: skip


def _body(command: type[cmd.Command], *path_fields: str) -> Any:
    return Annotated[
        body_of(command, *path_fields), Body(openapi_examples={"example": {"value": EXAMPLES[command]}})
    ]


router = APIRouter(
    tags=["commands"],
    responses={
        201: {"model": Recorded},
        200: {"model": Recorded},
        **problems.ANY_ROUTE,
        **problems.COMMAND_ONLY,
    },
)

if TYPE_CHECKING:  # the bodies are built from the commands' own fields at import
    OpenBody: TypeAlias = BaseModel
    ManagerBody: TypeAlias = BaseModel
    HoldBody: TypeAlias = BaseModel
    ResumeBody: TypeAlias = BaseModel
    CloseBody: TypeAlias = BaseModel
    AddScopeBody: TypeAlias = BaseModel
    ReviseScopeBody: TypeAlias = BaseModel
    RemoveScopeBody: TypeAlias = BaseModel
    PlanBody: TypeAlias = BaseModel
    RescheduleBody: TypeAlias = BaseModel
    RebaselineBody: TypeAlias = BaseModel
    AchieveBody: TypeAlias = BaseModel
    CancelBody: TypeAlias = BaseModel
    AddTaskBody: TypeAlias = BaseModel
    StatusBody: TypeAlias = BaseModel
    AssignBody: TypeAlias = BaseModel
    TaskDateBody: TypeAlias = BaseModel
else:
    OpenBody = _body(cmd.OpenEngagement)
    ManagerBody, HoldBody, ResumeBody, CloseBody = (
        _body(c, "code") for c in (cmd.AssignManager, cmd.PutOnHold, cmd.Resume, cmd.CloseEngagement)
    )
    AddScopeBody, PlanBody, AddTaskBody = (
        _body(c, "code") for c in (cmd.AddScopeItem, cmd.PlanMilestone, cmd.AddTask)
    )
    ReviseScopeBody, RemoveScopeBody = (
        _body(c, "code", "key") for c in (cmd.ReviseScopeItem, cmd.RemoveScopeItem)
    )
    RescheduleBody, RebaselineBody, AchieveBody, CancelBody = (
        _body(c, "code", "key")
        for c in (cmd.RescheduleMilestone, cmd.RebaselineMilestone, cmd.AchieveMilestone, cmd.CancelMilestone)
    )
    StatusBody, AssignBody, TaskDateBody = (
        _body(c, "code", "key") for c in (cmd.ChangeTaskStatus, cmd.AssignTask, cmd.RescheduleTask)
    )


@router.post("/engagements", status_code=201, summary="Open an engagement")
def open_engagement(body: OpenBody, desk: DeskDep) -> Response:
    return desk.record(cmd.OpenEngagement(**body.model_dump()), created=True)


@router.post("/engagements/{code}/manager", summary="Assign the engagement's manager")
def assign_manager(code: Code, body: ManagerBody, desk: DeskDep) -> Response:
    return desk.record(cmd.AssignManager(code=code, **body.model_dump()))


@router.post("/engagements/{code}/hold", summary="Put the engagement on hold (reason required)")
def put_on_hold(code: Code, body: HoldBody, desk: DeskDep) -> Response:
    return desk.record(cmd.PutOnHold(code=code, **body.model_dump()))


@router.post("/engagements/{code}/resume", summary="Resume an engagement on hold")
def resume(code: Code, body: ResumeBody, desk: DeskDep) -> Response:
    return desk.record(cmd.Resume(code=code, **body.model_dump()))


@router.post("/engagements/{code}/close", summary="Close the engagement for good (reason required)")
def close(code: Code, body: CloseBody, desk: DeskDep) -> Response:
    return desk.record(cmd.CloseEngagement(code=code, **body.model_dump()))


@router.post("/engagements/{code}/scope-items", status_code=201, summary="Add a scope item")
def add_scope_item(code: Code, body: AddScopeBody, desk: DeskDep) -> Response:
    return desk.record(cmd.AddScopeItem(code=code, **body.model_dump()), created=True)


@router.post("/engagements/{code}/scope-items/{key}/revise", summary="Revise a scope item")
def revise_scope_item(code: Code, key: Key, body: ReviseScopeBody, desk: DeskDep) -> Response:
    return desk.record(cmd.ReviseScopeItem(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/scope-items/{key}/remove", summary="Remove a scope item")
def remove_scope_item(code: Code, key: Key, body: RemoveScopeBody, desk: DeskDep) -> Response:
    return desk.record(cmd.RemoveScopeItem(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/milestones", status_code=201, summary="Plan a milestone")
def plan_milestone(code: Code, body: PlanBody, desk: DeskDep) -> Response:
    return desk.record(cmd.PlanMilestone(code=code, **body.model_dump()), created=True)


@router.post("/engagements/{code}/milestones/{key}/reschedule", summary="Move a milestone's forecast")
def reschedule_milestone(code: Code, key: Key, body: RescheduleBody, desk: DeskDep) -> Response:
    return desk.record(cmd.RescheduleMilestone(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/milestones/{key}/rebaseline", summary="Move a milestone's baseline")
def rebaseline_milestone(code: Code, key: Key, body: RebaselineBody, desk: DeskDep) -> Response:
    return desk.record(cmd.RebaselineMilestone(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/milestones/{key}/achieve", summary="Record a milestone achieved")
def achieve_milestone(code: Code, key: Key, body: AchieveBody, desk: DeskDep) -> Response:
    return desk.record(cmd.AchieveMilestone(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/milestones/{key}/cancel", summary="Cancel a milestone")
def cancel_milestone(code: Code, key: Key, body: CancelBody, desk: DeskDep) -> Response:
    return desk.record(cmd.CancelMilestone(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/tasks", status_code=201, summary="Add a task")
def add_task(code: Code, body: AddTaskBody, desk: DeskDep) -> Response:
    return desk.record(cmd.AddTask(code=code, **body.model_dump()), created=True)


@router.post("/engagements/{code}/tasks/{key}/status", summary="Move a task to another status")
def change_task_status(code: Code, key: Key, body: StatusBody, desk: DeskDep) -> Response:
    return desk.record(cmd.ChangeTaskStatus(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/tasks/{key}/assign", summary="Assign (or unassign) a task")
def assign_task(code: Code, key: Key, body: AssignBody, desk: DeskDep) -> Response:
    return desk.record(cmd.AssignTask(code=code, key=key, **body.model_dump()))


@router.post("/engagements/{code}/tasks/{key}/reschedule", summary="Move a task's due date")
def reschedule_task(code: Code, key: Key, body: TaskDateBody, desk: DeskDep) -> Response:
    return desk.record(cmd.RescheduleTask(code=code, key=key, **body.model_dump()))
