"""The integrity commands: checkpoint, verify, proofs, change-log bundles and their offline check."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from api.progress import ProgressBar
from api.stores import data_folder, store_env
from domain.service import Ledger
from domain.values import engagement_id
from projections.db import ProjectionDB, open_projection_db
from projections.runner import Runner
from replay import bundle, checkpoints, merkle
from replay.checkpoints import Signer, StoredCheckpoint, load_signer
from replay.log import MerkleLog, fetcher, leaf_of, tree_size
from replay.verify import verify


@contextmanager
def _log(args: argparse.Namespace) -> Iterator[tuple[Ledger, ProjectionDB, Signer]]:
    """The ledger, its read models with the Merkle log brought up to date, and the signer."""
    with Ledger(store_env(args.data)) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            Runner(ledger, db, [MerkleLog()]).catch_up()
            yield ledger, db, load_signer(data_folder(args.data))
        finally:
            db.close()


def _take(db: ProjectionDB, signer: Signer) -> StoredCheckpoint:
    return checkpoints.take(db, signer, lambda: datetime.now(UTC))


def _checkpoint(args: argparse.Namespace) -> int:
    with _log(args) as (_, db, signer):
        checkpoint = _take(db, signer)
    if args.output:
        Path(args.output).write_text(checkpoint.note)
        print(f"checkpoint of size {checkpoint.size} written to {args.output}")
    else:
        print(checkpoint.note, end="")
    return 0


def _verify(args: argparse.Namespace) -> int:
    against = Path(args.against).read_text() if args.against else None
    with _log(args) as (ledger, db, signer):
        verdict = verify(ledger, db, signer.verifier_key, against, ProgressBar("verifying"))
    for line in verdict.lines():
        print(line)
    return 0 if verdict.ok else 1


def _proof(args: argparse.Namespace) -> int:
    with _log(args) as (_, db, _signer), db.reading() as tx:
        size = args.size or tree_size(tx)
        fetch = fetcher(tx)
        if args.kind == "inclusion":
            record = leaf_of(tx, str(engagement_id(args.code)), args.version)
            if record is None or record.leaf >= size:
                print(
                    f"ledger: version {args.version} of {args.code} is not in the tree of size {size}",
                    file=sys.stderr,
                )
                return 2
            proof = merkle.inclusion_proof(fetch, record.leaf, size)
            shown: dict[str, Any] = {"leaf_index": record.leaf, "leaf_hash": record.hash.hex()}
        else:
            if not 1 <= args.first <= size <= tree_size(tx):
                print(f"ledger: need 1 <= first <= second <= {tree_size(tx)}", file=sys.stderr)
                return 2
            proof = merkle.consistency_proof(fetch, args.first, size)
            shown = {"first": args.first, "first_root": merkle.root(fetch, args.first).hex()}
        shown |= {
            "tree_size": size,
            "root": merkle.root(fetch, size).hex(),
            "proof": [p.hex() for p in proof],
        }
    print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    return 0


def _export_bundle(args: argparse.Namespace) -> int:
    with _log(args) as (ledger, db, signer):
        made = bundle.build(ledger, db, args.code, _take(db, signer), signer.verifier_key)
    output = Path(args.output or f"{made.engagement}-changelog-bundle.json")
    output.write_bytes(made.to_bytes())
    print(f"{len(made.events)} events of {made.engagement} with their proofs written to {output}")
    return 0


def _verify_bundle(args: argparse.Namespace) -> int:
    report = bundle.check(Path(args.file).read_bytes(), args.key)
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


def add_commands(sub: Any) -> None:
    """Register the integrity commands on the ``ledger`` parser's sub-commands."""
    checkpoint = sub.add_parser("checkpoint", help="sign a checkpoint of the Merkle log as it stands")
    checkpoint.add_argument("-o", "--output", help="write the signed note to this file")
    checkpoint.set_defaults(run=_checkpoint)

    check = sub.add_parser("verify", help="recompute the Merkle log from the stored events")
    check.add_argument(
        "--against", metavar="CHECKPOINT_FILE", help="an earlier checkpoint to hold history to"
    )
    check.set_defaults(run=_verify)

    proof = sub.add_parser("proof", help="print an inclusion or consistency proof")
    kinds = proof.add_subparsers(dest="kind", required=True)
    inclusion = kinds.add_parser("inclusion", help="that an engagement's event is in the tree")
    inclusion.add_argument("code")
    inclusion.add_argument("version", type=int)
    consistency = kinds.add_parser("consistency", help="that the tree of --size extends that of FIRST")
    consistency.add_argument("first", type=int)
    for kind in (inclusion, consistency):
        kind.add_argument("--size", type=int, help="the tree size (default: the whole log)")
    proof.set_defaults(run=_proof)

    export = sub.add_parser("export", help="export a change-log bundle")
    what = export.add_subparsers(dest="what", required=True)
    exported = what.add_parser("bundle", help="an engagement's change log with proofs, checkable offline")
    exported.add_argument("code")
    exported.add_argument("-o", "--output", help="default: CODE-changelog-bundle.json")
    export.set_defaults(run=_export_bundle)

    offline = sub.add_parser("verify-bundle", help="check a change-log bundle offline (no database)")
    offline.add_argument("file")
    offline.add_argument("--key", help="the verifier key you trust (GET /ledger/public-key)")
    offline.set_defaults(run=_verify_bundle)
