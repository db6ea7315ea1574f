"""The PMO's forms: reschedule a milestone, change a task's status, add a scope item.

A form is parsed into the domain's own command and recorded by ``Ledger.execute``, the call
behind every command route, with the token's subject as the actor. A refusal is shown in words
beside the form that caused it, the fields as they were typed, with the status the API would
answer (422 for a missing reason, 409 for an illegal transition, ...); a program that did not
ask for HTML gets the API's problem+json instead. Each form carries the engagement's version
it was drawn from: if the engagement moved meanwhile, nothing is recorded and the form says so.
After a success the browser is sent (303) to the page again, which waits for the projections
to see the new position before it reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from api.http.commands import Code
from api.http.deps import LedgerDep, ReadModels
from api.http.problems import STATUS
from api.http.reading import Seen, visible_status
from api.http.ui.reads import latest_changes
from api.http.ui.refusals import for_people
from api.http.ui.rendering import page
from api.http.ui.session import CsrfChecked, PmoViewer, Viewer
from domain import commands as cmd
from domain.errors import ExpectedVersionMismatch, RuleViolation
from domain.values import ResponsibleParty, SlipCause, TaskStatus
from projections.audit import AuditFilter

router = APIRouter()

LABELS = {
    "key": "Item", "to_date": "New forecast date", "cause": "Cause", "responsible_party": "Responsible party",
    "reason": "Reason", "internal_note": "Internal note", "change_ref": "Change reference",
    "effective_on": "Effective on", "to_status": "New status", "title": "Title", "description": "Description",
}  # fmt: skip
HINTS: dict[type[RuleViolation], str] = {
    ExpectedVersionMismatch: "Someone recorded a change since this page was drawn; check the page as it"
    " is now and send the form again.",
}


class _Form(BaseModel):
    """What every form sends besides its own fields (all text: blank means "not given")."""

    version: str = ""
    reason: str = ""
    internal_note: str = ""
    change_ref: str = ""
    effective_on: str = ""

    def given(self, **renamed: str) -> dict[str, Any]:
        """The fields filled in, under the command's names (``renamed``: command name -> form name)."""
        values = self.model_dump(exclude={"version"})
        values |= {name: values.pop(form_name) for name, form_name in renamed.items()}
        return {name: value.strip() for name, value in values.items() if value.strip()}


class RescheduleForm(_Form):
    milestone: str = ""
    to_date: str = ""
    cause: str = ""
    responsible_party: str = ""


class TaskStatusForm(_Form):
    task: str = ""
    to_status: str = ""


class ScopeItemForm(_Form):
    title: str = ""
    key: str = ""
    description: str = ""


@dataclass(frozen=True)
class Refusal:
    """What went wrong with one form, in words, and the status the API would answer."""

    form: str
    status: int
    headline: str
    detail: str = ""
    rule: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def refusal_of(form: str, error: Exception) -> Refusal:
    if isinstance(error, ValidationError):
        found = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in error.errors()}
        problems = {LABELS.get(name, name): message for name, message in found.items()}
        return Refusal(form, 422, "Some fields need another look.", fields=problems, rule="InvalidInput")
    assert isinstance(error, RuleViolation)
    headline = (type(error).__doc__ or error.rule).strip()
    detail = " ".join(filter(None, [error.detail, HINTS.get(type(error), "")]))
    return Refusal(form, STATUS.get(type(error), 422), headline, detail, error.rule)


def _record_page(request: Request, viewer: Viewer, db: ReadModels, code: str, status: int = 200,
                 **context: Any) -> Response:  # fmt: skip
    shown = visible_status(db, code, viewer.principal)
    e = shown.engagement
    recent = latest_changes(db, AuditFilter(engagement_id=e["engagement_id"]), 5)
    return page(request, "record.html", status, viewer=viewer, e=e, tab="record", s=shown, recent=recent,
                causes=list(SlipCause), parties=list(ResponsibleParty), statuses=list(TaskStatus),
                **context)  # fmt: skip


def _attempt(request: Request, viewer: Viewer, ledger: LedgerDep, db: ReadModels, code: str, name: str,
             form: _Form, build: Callable[[], cmd.Command]) -> Response:  # fmt: skip
    """Record the command ``build`` makes of ``form``; on a refusal, the page with it in words."""
    expected = int(form.version) if form.version.isdigit() else None
    try:
        outcome = ledger.execute(build(), actor=viewer.principal.sub, expected_version=expected)
    except (ValidationError, RuleViolation) as error:
        if not for_people(request):
            raise
        refused = refusal_of(name, error)
        return _record_page(request, viewer, db, code, refused.status, refused=refused, typed=form)
    done = f"/ui/engagements/{code}/record?recorded={outcome.version}"
    done += f"&min_position={outcome.position}" if outcome.position else "&unchanged=1"
    return RedirectResponse(done, status_code=303)


@router.get("/ui/engagements/{code}/record", response_class=HTMLResponse)
def record_page(
    request: Request, viewer: PmoViewer, db: ReadModels, code: Code, _: Seen, recorded: int | None = None,
    unchanged: bool = False,
) -> Response:  # fmt: skip
    return _record_page(request, viewer, db, code, recorded=recorded, unchanged=unchanged)


@router.post("/ui/engagements/{code}/record/reschedule", response_class=HTMLResponse)
def reschedule(
    request: Request, _: CsrfChecked, viewer: PmoViewer, ledger: LedgerDep, db: ReadModels, code: Code,
    form: Annotated[RescheduleForm, Form()],
) -> Response:  # fmt: skip
    def build() -> cmd.Command:
        return cmd.RescheduleMilestone(code=code, **form.given(key="milestone"))

    return _attempt(request, viewer, ledger, db, code, "reschedule", form, build)


@router.post("/ui/engagements/{code}/record/task-status", response_class=HTMLResponse)
def change_task_status(
    request: Request, _: CsrfChecked, viewer: PmoViewer, ledger: LedgerDep, db: ReadModels, code: Code,
    form: Annotated[TaskStatusForm, Form()],
) -> Response:  # fmt: skip
    def build() -> cmd.Command:
        return cmd.ChangeTaskStatus(code=code, **form.given(key="task"))

    return _attempt(request, viewer, ledger, db, code, "task-status", form, build)


@router.post("/ui/engagements/{code}/record/scope-item", response_class=HTMLResponse)
def add_scope_item(
    request: Request, _: CsrfChecked, viewer: PmoViewer, ledger: LedgerDep, db: ReadModels, code: Code,
    form: Annotated[ScopeItemForm, Form()],
) -> Response:  # fmt: skip
    def build() -> cmd.Command:
        return cmd.AddScopeItem(code=code, **form.given())

    return _attempt(request, viewer, ledger, db, code, "scope-item", form, build)
