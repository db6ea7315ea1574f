"""Checkpoints as C2SP signed notes: the log's size and root hash, signed with Ed25519.

Formats: c2sp.org/signed-note (a text, a blank line, then lines "— <key name> <base64(4-byte key
id || signature)>") and c2sp.org/tlog-checkpoint (the text is "<origin>\\n<size>\\n<base64
root>\\n"). Any note this module signs opens with Go's golang.org/x/mod/sumdb/note, and back.

A reader trusts nothing it has not verified: a note is opened only with the verifier key the
reader already holds, signatures by other keys are ignored (witnesses may cosign), and a bad
signature by that key refuses the whole note. This ledger's checkpoints carry no extension
lines, so a checkpoint with any is refused as not ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
"""The signature type byte of Ed25519 in signed-note key ids and verifier keys."""
MAX_SIGNATURES = 100
_SIGNATURE_PREFIX = "\u2014 "
_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note or key is malformed, or the note is not signed by the expected key; says which."""


@dataclass(frozen=True)
class Checkpoint:
    """The log of ``origin`` had ``size`` leaves with this ``root`` hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise NoteError(f"the origin {self.origin!r} is not one non-empty line of text")
        if not 0 <= self.size < 1 << 64:
            raise NoteError(f"the tree size {self.size} is not between 0 and 2**64 - 1")
        if len(self.root) != 32:
            raise NoteError(f"the root hash is {len(self.root)} bytes, not 32")

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a (verified) note text states; exactly the three lines, canonical."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[-1]:
        raise NoteError(f"a checkpoint has 3 lines (origin, size, root), this one {len(lines) - 1}")
    origin, size, root = lines[:3]
    if not _SIZE.fullmatch(size):
        raise NoteError(f"the tree size {size!r} is not a decimal number without leading zeros")
    return Checkpoint(origin, int(size), _unb64(root, "the root hash"))


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4], as signed-note recommends."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<key id in hex>+<base64(0x01 || public key)>``: all a reader needs to check us."""
    _check_name(name)
    return f"{name}+{key_id(name, public_key).hex()}+{_b64(ED25519 + _raw(public_key))}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_verifier_key(text: str) -> Verifier:
    name, _, rest = text.partition("+")
    hex_id, _, encoded = rest.partition("+")
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"the verifier key's id {hex_id!r} is not 8 lowercase hex digits")
    key = _unb64(encoded, "the verifier key")
    if len(key) != 33 or key[:1] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)")
    verifier = Verifier(name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(key[1:]))
    if key_id(name, verifier.public_key) != verifier.key_id:
        raise NoteError(f"the verifier key's id {hex_id} does not belong to its name and key")
    return verifier


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    _check_text(text)
    _check_name(name)
    signature = private_key.sign(text.encode())
    return f"{text}\n{_SIGNATURE_PREFIX}{name} {_b64(key_id(name, private_key.public_key()) + signature)}\n"


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    return sign_note(checkpoint.text(), name, private_key)


def open_note(note: str | bytes, verifier: Verifier) -> str:
    """The text of ``note`` if ``verifier``'s key signed it; ``NoteError`` saying why not."""
    note = _decoded(note)
    _check_controls(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line between its text and its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    _check_text(text)
    if not signatures.endswith("\n"):
        raise NoteError("the note has no signature lines, or its last line does not end in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has {len(lines)} signatures, more than the {MAX_SIGNATURES} accepted")
    signatures_by = [_signature(line) for line in lines]
    ours = [sig for name, sig in signatures_by if name == verifier.name and sig[:4] == verifier.key_id]
    if not ours:
        others = ", ".join(sorted(f"{name}+{sig[:4].hex()}" for name, sig in signatures_by))
        raise NoteError(
            f"the note has no signature by {verifier.name}+{verifier.key_id.hex()}, only {others}"
        )
    for signature in ours:
        try:
            verifier.public_key.verify(signature[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature by {verifier.name} does not match the note's text") from None
    return text


def open_checkpoint(note: str | bytes, verifier_key: str) -> Checkpoint:
    """The checkpoint in ``note``, if the key of ``verifier_key`` signed it."""
    return parse_checkpoint(open_note(note, parse_verifier_key(verifier_key)))


def _signature(line: str) -> tuple[str, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError(f"the signature line {line[:40]!r} does not start with an em dash and a space")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    _check_name(name)
    signature = _unb64(encoded, f"the signature by {name}")
    if len(signature) < 5:
        raise NoteError(f"the signature by {name} is too short to hold a key id and a signature")
    return name, signature


def _decoded(note: str | bytes) -> str:
    if isinstance(note, str):
        return note
    try:
        return note.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("the note is not valid UTF-8") from None


def _check_text(text: str) -> None:
    if not text.endswith("\n") or text == "\n":
        raise NoteError("a note's text must be non-empty and end in a newline")
    _check_controls(text)


def _check_controls(text: str) -> None:
    if found := _CONTROL.search(text):
        raise NoteError(f"the note contains the control character U+{ord(found.group()):04X}")


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise NoteError(f"the key name {name!r} is empty or holds a space, '+' or control character")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Standard, padded, canonical base64 only: one note has exactly one spelling."""
    if not text:
        raise NoteError(f"{what} is missing")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if _b64(data) != text:
        raise NoteError(f"{what} is not in canonical base64")
    return data


# Keys. The private key is only ever written to a file only its owner may read; it is never
# printed, logged or put into an error message.


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: Path, form: Literal["pem", "raw"] = "pem") -> None:
    """Write ``key`` to a new file with mode 0600 (it is never readable by others, even briefly)."""
    if form == "pem":
        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    else:
        data = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(data)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in ``path`` (PEM or 32 raw bytes), refused if others may read the file."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise NoteError(f"{path} may be read by others (mode {mode:04o}): keep it 0600, and replace the key")
    data = path.read_bytes()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise NoteError(f"{path} is not an unencrypted PEM private key") from None
    elif len(data) == 32:
        key = Ed25519PrivateKey.from_private_bytes(data)
    else:
        raise NoteError(f"{path} holds neither a PEM key nor 32 raw bytes")
    if not isinstance(key, Ed25519PrivateKey):
        raise NoteError(f"{path} does not hold an Ed25519 private key")
    return key
