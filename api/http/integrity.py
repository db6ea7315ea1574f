"""Integrity over HTTP: the public key, signed checkpoints, proofs, verify and change-log bundles.

A client or auditor who keeps a checkpoint can later ask for a consistency proof from it to a
newer one, and check any event's inclusion, without trusting anything but the public key.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http import problems
from api.http.commands import Code
from api.http.deps import Anyone, LedgerDep, Reader, ReadModels, Settings, Staff
from api.http.problems import Problem
from api.http.reading import Visible
from domain.service import Ledger
from projections import positions
from projections.db import ProjectionDB
from replay import bundle, checkpoints, merkle
from replay.checkpoints import Signer, StoredCheckpoint
from replay.log import MerkleLog, fetcher, leaf_of, tree_size
from replay.verify import verify

router = APIRouter(tags=["integrity"], responses=problems.ANY_ROUTE)
LOG = MerkleLog.name


class PublicKey(BaseModel):
    origin: str = Field(description="the log's name, the first line of every checkpoint")
    verifier_key: str = Field(description="C2SP signed-note verifier key: name+key id+base64(0x01||key)")
    ed25519: str = Field(description="the raw 32-byte Ed25519 public key, base64")


class CheckpointOut(BaseModel):
    size: int
    root: str = Field(description="the root hash, hex")
    note: str = Field(description="the C2SP signed-note checkpoint, as signed")
    taken_at: str


class InclusionProof(BaseModel):
    engagement: str
    version: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


EXAMPLE_NOTE = "engagement-ledger.local/log\n50\nSGVsbG8...=\n\n\u2014 engagement-ledger.local/log fCkQ...\n"


VERIFY_EXAMPLES: dict[str, Any] = {
    "everything": {"summary": "check the log against the store and its own checkpoints", "value": {}},
    "against": {
        "summary": "held to a checkpoint kept outside",
        "value": {"against": EXAMPLE_NOTE},
    },
}


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    against: str | None = Field(
        default=None, max_length=4000, description="an earlier checkpoint (signed note) to hold history to"
    )


class VerifyResult(BaseModel):
    ok: bool
    events: int
    checkpoints: int
    first_bad: dict[str, Any] | None
    lines: list[str]


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


def _out(c: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(size=c.size, root=c.root.hex(), note=c.note, taken_at=c.taken_at)


@router.get(
    "/ledger/public-key",
    summary="The key that signs checkpoints (no token needed)",
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},  # a token is optional here
)
def public_key(request: Request, _: Anyone) -> PublicKey:
    signer = _signer(request)
    raw = signer.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(
        origin=signer.origin, verifier_key=signer.verifier_key, ed25519=base64.b64encode(raw).decode()
    )


def fresh_checkpoint(request: Request, ledger: Ledger, db: ProjectionDB, wait: float) -> StoredCheckpoint:
    """A checkpoint of everything recorded so far (once the Merkle log has caught up, bounded wait)."""
    head = ledger.recorder.max_notification_id() or 0
    if not positions.wait_until(db, [LOG], head, wait):
        raise Problem(
            503, "ProjectionBehind", "the Merkle log has not caught up yet", headers={"Retry-After": "1"}
        )
    return checkpoints.take(db, _signer(request), lambda: datetime.now(UTC))


@router.post("/ledger/checkpoints", status_code=201, summary="Sign the log as it stands (pmo, auditor)")
def take_checkpoint(
    request: Request, _: Staff, ledger: LedgerDep, db: ReadModels, settings: Settings
) -> CheckpointOut:
    return _out(fresh_checkpoint(request, ledger, db, settings.read_wait_seconds))


@router.get("/ledger/checkpoints", summary="Every checkpoint taken, oldest first (pmo, auditor)")
def list_checkpoints(_: Staff, db: ReadModels) -> list[CheckpointOut]:
    return [_out(c) for c in checkpoints.all_checkpoints(db)]


@router.get("/ledger/checkpoints/latest", summary="The latest checkpoint")
def latest_checkpoint(_: Reader, db: ReadModels) -> CheckpointOut:
    latest = checkpoints.latest(db)
    if latest is None:
        raise Problem(404, "NoCheckpoint", "no checkpoint has been taken yet")
    return _out(latest)


LATEST = "default: the latest checkpoint's"
TreeSize = Annotated[int | None, Query(ge=1, le=2**62, description=LATEST)]


@router.get(
    "/ledger/proofs/inclusion/{code}/{version}",
    summary="Proof that an engagement's event is in the log's tree",
)
def inclusion(
    status: Visible,
    db: ReadModels,
    version: Annotated[int, Path(ge=1, le=2**31)],
    size: Annotated[int | None, Query(alias="tree_size", ge=1, le=2**62, description=LATEST)] = None,
) -> InclusionProof:
    engagement_id, code = status.engagement["engagement_id"], status.engagement["code"]
    size = size or _latest_size(db)
    with db.reading() as tx:
        record = leaf_of(tx, engagement_id, version)
        if record is None:
            raise Problem(404, "EventNotInLog", f"version {version} of {code} is not in the log")
        if size > tree_size(tx) or record.leaf >= size:
            raise Problem(422, "TreeSizeOutOfRange", f"the log has no tree of size {size} holding that event")
        fetch = fetcher(tx)
        proof = merkle.inclusion_proof(fetch, record.leaf, size)
        root = merkle.root(fetch, size)
    return InclusionProof(
        engagement=code, version=version, leaf_index=record.leaf, tree_size=size,
        leaf_hash=record.hash.hex(), root=root.hex(), proof=[p.hex() for p in proof],
    )  # fmt: skip


def _latest_size(db: ProjectionDB) -> int:
    latest = checkpoints.latest(db)
    if latest is None or latest.size == 0:
        raise Problem(404, "NoCheckpoint", "no checkpoint has been taken yet: name a tree_size")
    return latest.size


@router.get("/ledger/proofs/consistency", summary="Proof that the tree of size second extends that of first")
def consistency(
    _: Reader,
    db: ReadModels,
    first: Annotated[int, Query(ge=1, le=2**62)],
    second: TreeSize = None,
) -> ConsistencyProof:
    size = second or _latest_size(db)
    with db.reading() as tx:
        if not first <= size <= tree_size(tx):
            raise Problem(422, "TreeSizeOutOfRange", f"need 1 <= first <= second <= {tree_size(tx)}")
        fetch = fetcher(tx)
        proof = merkle.consistency_proof(fetch, first, size)
        first_root, second_root = merkle.root(fetch, first), merkle.root(fetch, size)
    return ConsistencyProof(
        first=first, second=size, first_root=first_root.hex(), second_root=second_root.hex(),
        proof=[p.hex() for p in proof],
    )  # fmt: skip


@router.post("/ledger/verify", summary="Recompute the log from the stored events (pmo, auditor)")
def verify_now(
    request: Request,
    _: Staff,
    ledger: LedgerDep,
    db: ReadModels,
    body: Annotated[VerifyRequest, Body(openapi_examples=VERIFY_EXAMPLES)],
) -> VerifyResult:
    verdict = verify(ledger, db, _signer(request).verifier_key, body.against)
    first_bad = vars(verdict.first_bad) if verdict.first_bad else None
    return VerifyResult(
        ok=verdict.ok, events=verdict.events, checkpoints=verdict.checkpoints, first_bad=first_bad,
        lines=verdict.lines(),
    )  # fmt: skip


@router.get(
    "/engagements/{code}/changelog/bundle",
    summary="The change log with a proof for every event, checkable offline (`ledger verify-bundle`)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def changelog_bundle(
    request: Request, status: Visible, code: Code, ledger: LedgerDep, db: ReadModels, settings: Settings
) -> Response:
    checkpoint = fresh_checkpoint(request, ledger, db, settings.read_wait_seconds)
    try:
        made = bundle.build(ledger, db, code, checkpoint, _signer(request).verifier_key)
    except bundle.NotCovered as error:
        raise Problem(503, "ProjectionBehind", str(error), headers={"Retry-After": "1"}) from None
    name = f"{status.engagement['code']}-changelog-bundle-{checkpoint.size}.json"
    return Response(
        made.to_bytes(), media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip
