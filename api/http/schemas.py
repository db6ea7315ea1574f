"""The shapes of query responses as OpenAPI documents them: read-model rows, never events.

Responses always carry every field. Nullable ones still default to ``None`` because FastAPI
drops nulls from the examples in the OpenAPI document, which must stay valid for the schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from domain.values import MilestoneStatus

Category = Literal["engagement", "scope", "milestone", "task"]
"""The audit trail's categories (``projections.audit.CATEGORIES``)."""
Moment = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]
"""A recorded time, written as the trail stores it (``2026-03-16T10:30:00+00:00``)."""


class Milestone(BaseModel):
    """A milestone's three dates and its slip, in calendar days (positive: late)."""

    key: str
    title: str
    status: MilestoneStatus
    baseline: date = Field(description="the committed date (after any re-baseline)")
    original_baseline: date = Field(description="the first committed date")
    forecast: date = Field(description="the date expected now")
    actual: date | None = Field(None, description="when it was achieved")
    slip_days: int | None = Field(None, description="(actual, else forecast) - baseline; null once cancelled")
    slip_vs_original_days: int | None = Field(None, description="(actual, else forecast) - original baseline")


class SlipRow(BaseModel):
    """One dated move of a milestone: planned, rescheduled, rebaselined, achieved or cancelled."""

    position: int
    code: str
    milestone_key: str
    milestone_title: str
    kind: Literal["planned", "rescheduled", "rebaselined", "achieved", "cancelled"]
    version: int
    recorded_at: Moment
    effective_on: date | None = None
    from_date: date | None = None
    to_date: date | None = None
    delta_days: int = Field(description="how far the forecast moved (0 for a re-baseline)")
    forecast: date
    baseline: date
    original_baseline: date
    actual: date | None = None
    slip_days: int
    slip_vs_original_days: int
    cause: str | None = None
    responsible_party: str | None = None
    reason: str | None = None
    actor: str
    change_ref: str | None = None
    approved_by: str | None = None


class MtaPoint(BaseModel):
    """One reading of the MTA chart: recorded at ``recorded_at`` (x), expected on ``forecast`` (y)."""

    model_config = ConfigDict(from_attributes=True)

    recorded_at: Moment
    forecast: date = Field(description="the forecast after the event (the actual date once achieved)")
    baseline: date
    kind: str


class MtaSeries(BaseModel):
    """One milestone's line on the MTA chart."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    status: Literal["open", "achieved", "cancelled"]
    points: list[MtaPoint]


class Tally(BaseModel):
    """Days slipped (later moves), days recovered (earlier moves) and the difference."""

    model_config = ConfigDict(from_attributes=True)

    gross: int
    recoveries: int
    net: int


class Attribution(BaseModel):
    """Whose fault each slip was: overall, by responsible party and by cause."""

    model_config = ConfigDict(from_attributes=True)

    overall: Tally
    by_party: dict[str, Tally]
    by_cause: dict[str, Tally]
    rebaselines: int = Field(description="how many re-baselines (they are not slips)")
    rebaseline_days: int = Field(description="the signed sum of the baseline moves, in days")


class Slips(BaseModel):
    """The slip timeline of an engagement: the moves, the MTA chart's lines and their attribution."""

    history: list[SlipRow]
    mta: list[MtaSeries]
    attribution: Attribution


class Change(BaseModel):
    """One client-visible change: who, when, what (before and after) and why."""

    position: int = Field(description="the event's position in the ledger's log")
    recorded_at: Moment
    effective_on: date | None = Field(
        None, description="the business date, when it differs from the recording"
    )
    type: str
    category: Category
    subject: str = Field(description="the key of the scope item, milestone or task, or the code")
    summary: str
    before: dict[str, Any] | None = Field(None, description="the values the event replaced")
    after: dict[str, Any] = Field(description="the values the event set")
    reason: str | None = None
    change_ref: str | None = None
    actor: str


class AuditRow(Change):
    """One event of the audit trail. ``internal_note`` is left out of a client's view."""

    engagement_id: str
    code: str
    version: int
    internal_note: str | None = Field(None, description="staff only")
    client_visible: bool


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    """Rows in log order; ask for the next page with ``after=next_after``."""

    items: list[Item]
    next_after: int | None = Field(description="this page's last position if more rows follow, else null")
