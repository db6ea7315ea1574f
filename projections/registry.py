"""Every read model the ledger keeps, by name."""

from __future__ import annotations

from projections.audit import AuditTrail
from projections.base import Projection
from projections.slips import SlipHistory
from projections.status import CurrentStatus


def all_projections() -> list[Projection]:
    return [CurrentStatus(), SlipHistory(), AuditTrail()]
