"""Signed checkpoints of the Merkle log, and the key that signs them.

A checkpoint is the tree size and root hash, signed with the ledger's Ed25519 key in the C2SP
signed-note format. They are kept append-only beside the tree; anyone holding one can later ask
for a consistency proof and so check that nothing before it was changed or removed.

The key comes from ``LEDGER_SIGNING_KEY_FILE`` (a PEM file, for a deployment) or, in the
embedded set-up, from ``signing-key.pem`` in the data folder, made once with mode 0600. Only
the public half ever leaves this module.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from projections.db import ProjectionDB, Row, Tx
from replay import merkle
from replay.log import CHECKPOINTS as TABLE
from replay.log import fetcher, tree_size
from replay.note import (
    Checkpoint,
    generate_key,
    load_private_key,
    open_checkpoint,
    save_private_key,
    sign_checkpoint,
    verifier_key,
)

KEY_FILE = "signing-key.pem"
DEFAULT_ORIGIN = "engagement-ledger.local/log"
logger = logging.getLogger(__name__)


class Signer:
    """Signs checkpoints for the log named ``origin``; shows only its public key."""

    def __init__(self, origin: str, key: Ed25519PrivateKey) -> None:
        self.origin = origin
        self._key = key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key: what a client needs to check our checkpoints."""
        return verifier_key(self.origin, self.public_key)

    def sign(self, size: int, root: bytes) -> str:
        return sign_checkpoint(Checkpoint(self.origin, size, root), self.origin, self._key)

    def __repr__(self) -> str:
        return f"Signer({self.origin!r}, {self.verifier_key!r})"


def load_signer(data_dir: Path, env: Mapping[str, str] = os.environ) -> Signer:
    """The ledger's signer, from configuration or, embedded, from the data folder (made once)."""
    origin = env.get("LEDGER_LOG_ORIGIN") or DEFAULT_ORIGIN
    configured = env.get("LEDGER_SIGNING_KEY_FILE")
    path = Path(configured) if configured else data_dir / KEY_FILE
    if not path.exists():
        if configured:
            raise FileNotFoundError(f"LEDGER_SIGNING_KEY_FILE names {path}, which does not exist")
        _make_key(path)
    return Signer(origin, load_private_key(path))


def _make_key(path: Path) -> None:
    """Write a new key to ``path`` whole, or not at all: several workers may start at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    save_private_key(generate_key(), draft)
    try:
        os.link(draft, path)  # atomic, and refused if another process made the key first
    except FileExistsError:
        pass
    finally:
        draft.unlink()


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    taken_at: str

    def opened(self, key: str) -> Checkpoint:
        """The checkpoint its signed note states, if ``key`` signed it (else ``NoteError``)."""
        return open_checkpoint(self.note, key)


def take(db: ProjectionDB, signer: Signer, now: Callable[[], datetime]) -> StoredCheckpoint:
    """Sign the log's tree as it stands; the latest checkpoint again if the tree has not grown."""
    with db.transaction() as tx:
        size = tree_size(tx)
        latest = _latest(tx)
        if latest and latest.size == size:
            return latest
        root = merkle.root(fetcher(tx), size)
        tx.execute(
            f"INSERT INTO {TABLE} (size, root, note, taken_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (size) DO NOTHING",
            (size, root, signer.sign(size, root), now().isoformat()),
        )
        return _checkpoint(tx.query(f"SELECT * FROM {TABLE} WHERE size = %s", (size,))[0])


def keep_taking(db: ProjectionDB, signer: Signer, stop: threading.Event, every: float) -> None:
    """Sign a checkpoint every ``every`` seconds while the log grows, until ``stop`` is set."""
    while not stop.wait(every):
        try:
            take(db, signer, lambda: datetime.now(UTC))
        except Exception:  # a database outage: the next round tries again
            logger.exception("could not take a checkpoint")


def all_checkpoints(db: ProjectionDB) -> list[StoredCheckpoint]:
    return [_checkpoint(r) for r in db.query(f"SELECT * FROM {TABLE} ORDER BY size")]


def latest(db: ProjectionDB) -> StoredCheckpoint | None:
    with db.reading() as tx:
        return _latest(tx)


def _latest(tx: Tx) -> StoredCheckpoint | None:
    rows = tx.query(f"SELECT * FROM {TABLE} ORDER BY size DESC LIMIT 1")
    return _checkpoint(rows[0]) if rows else None


def _checkpoint(r: Row) -> StoredCheckpoint:
    return StoredCheckpoint(int(r["size"]), bytes(r["root"]), r["note"], r["taken_at"])
