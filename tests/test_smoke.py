"""A first check that both stores take an engagement."""

from domain.service import Ledger
from tests.support import CODE, opened


def test_an_opened_engagement_can_be_loaded_from_each_store(ledger: Ledger) -> None:
    outcome = ledger.execute(opened(), actor="dana")
    assert outcome.version == 1
    assert ledger.engagement(CODE).title == "ERP rollout"
