"""Every projection the ledger keeps: the read models, and the Merkle log beside them."""

from __future__ import annotations

from projections.registry import all_projections
from projections.runner import AnyProjection
from replay.log import MerkleLog


def every_projection() -> list[AnyProjection]:
    """What a runner that follows the log keeps up to date (``ledger rebuild`` takes the views only:
    the Merkle log is evidence, extended but never rebuilt)."""
    return [*all_projections(), MerkleLog()]
