"""Signed checkpoints: the round trip, Go's reference note, and every way a note can be wrong."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from replay import note
from replay.note import Checkpoint, NoteError, open_checkpoint, sign_checkpoint, sign_note, verifier_key

ORIGIN = "ledger.example/log"
ROOT = hashlib.sha256(b"a root").digest()
CHECKPOINT = Checkpoint(ORIGIN, 20852163, ROOT)

# golang.org/x/mod/sumdb/note's documented example: its keys, text and signature.
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return note.generate_key()


@pytest.fixture(scope="module")
def vkey(key: Ed25519PrivateKey) -> str:
    return verifier_key(ORIGIN, key.public_key())


@pytest.fixture(scope="module")
def signed(key: Ed25519PrivateKey) -> str:
    return sign_checkpoint(CHECKPOINT, ORIGIN, key)


def go_key() -> Ed25519PrivateKey:
    encoded = GO_SIGNER.split("+", 4)[4]
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:])


def test_a_signed_checkpoint_opens_to_the_same_checkpoint(signed: str, vkey: str) -> None:
    assert signed.startswith(f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} ")
    assert signed.count("\n") == 5
    assert open_checkpoint(signed, vkey) == CHECKPOINT
    assert open_checkpoint(signed.encode(), vkey) == CHECKPOINT


def test_the_empty_tree_has_a_checkpoint_too(key: Ed25519PrivateKey, vkey: str) -> None:
    empty = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert open_checkpoint(sign_checkpoint(empty, ORIGIN, key), vkey) == empty


def test_the_go_reference_note_is_reproduced_byte_for_byte_and_opens() -> None:
    assert verifier_key("PeterNeumann", go_key().public_key()) == GO_VERIFIER
    assert sign_note(GO_TEXT, "PeterNeumann", go_key()) == f"{GO_TEXT}\n{GO_SIGNATURE}"
    assert note.open_note(f"{GO_TEXT}\n{GO_SIGNATURE}", note.parse_verifier_key(GO_VERIFIER)) == GO_TEXT


def test_the_key_id_is_the_first_four_bytes_of_the_hash_of_name_newline_type_and_key(
    vkey: str, signed: str
) -> None:
    name, hex_id, encoded = vkey.split("+", 2)
    public = base64.b64decode(encoded)
    assert (name, public[0], len(public)) == (ORIGIN, 1, 33)
    assert hex_id == hashlib.sha256(name.encode() + b"\n\x01" + public[1:]).digest()[:4].hex()
    assert base64.b64decode(signed.rsplit(" ", 1)[1])[:4].hex() == hex_id
    assert hashlib.sha256(b"PeterNeumann\n\x01" + go_public_raw()).digest()[:4].hex() == "c74f20a3"


def go_public_raw() -> bytes:
    return go_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_checkpoint_signed_by_another_key_is_refused(vkey: str) -> None:
    impostor = note.generate_key()
    for name in (ORIGIN, "someone.else/log"):
        with pytest.raises(NoteError, match=f"no signature by {ORIGIN}"):
            open_checkpoint(sign_checkpoint(CHECKPOINT, name, impostor), vkey)


def test_other_signers_are_ignored_when_ours_is_there(key: Ed25519PrivateKey, vkey: str, signed: str) -> None:
    witness = sign_checkpoint(CHECKPOINT, "witness.example", note.generate_key()).split("\n\n")[1]
    stranger = f"\u2014 {ORIGIN} {base64.b64encode(bytes(4) + bytes(64)).decode()}\n"
    assert open_checkpoint(signed + witness, vkey) == CHECKPOINT
    assert open_checkpoint(signed.replace("\n\n", "\n\n" + witness + stranger), vkey) == CHECKPOINT


def test_a_bad_signature_by_our_key_refuses_the_whole_note(signed: str, vkey: str) -> None:
    our_id = base64.b64decode(signed.rsplit(" ", 1)[1])[:4]
    forged = f"\u2014 {ORIGIN} {base64.b64encode(our_id + bytes(64)).decode()}\n"
    with pytest.raises(NoteError, match="does not match the note's text"):
        open_checkpoint(signed + forged, vkey)


def test_any_changed_bit_anywhere_in_the_note_is_refused(signed: str, vkey: str) -> None:
    data = signed.encode()
    for position in range(len(data)):
        for bit in range(8):
            changed = bytearray(data)
            changed[position] ^= 1 << bit
            with pytest.raises(NoteError):
                open_checkpoint(bytes(changed), vkey)


def _swap_size_and_root(signed: str) -> str:
    origin, size, root, rest = signed.split("\n", 3)
    return "\n".join((origin, root, size, rest))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(lambda s: s.split("\n\n")[0] + "\n", "no blank line", id="no-signature-block"),
        pytest.param(
            lambda s: s.split("\n\n")[0] + "\n\n", "no signature lines", id="missing-signature-line"
        ),
        pytest.param(lambda s: s[:-1], "last line does not end in a newline", id="no-final-newline"),
        pytest.param(
            lambda s: s.replace("\n\n", "\nextra\n\n"), "does not match the note", id="extra-body-line"
        ),
        pytest.param(_swap_size_and_root, "does not match the note's text", id="reordered-body-lines"),
        pytest.param(lambda s: s.replace("\u2014", "--"), "does not start with an em dash", id="no-em-dash"),
        pytest.param(lambda s: s.replace("\n\n", "\n\n\n"), "does not match the note", id="extra-blank-line"),
        pytest.param(lambda s: "\n" + s[s.index("\n\n") + 1 :], "text must be non-empty", id="empty-text"),
        pytest.param(lambda s: s.replace("\n\u2014", "\r\n\u2014"), "control character U\\+000D", id="crlf"),
        pytest.param(lambda s: s + "\u2014 x\n", "the signature by x is missing", id="no-signature"),
        pytest.param(lambda s: s + "\u2014 x QUJD*A==\n", "by x is not valid base64", id="bad-base64"),
        pytest.param(
            lambda s: s + "\u2014 x QUJDRB==\n", "by x is not in canonical base64", id="loose-base64"
        ),
        pytest.param(lambda s: s + "\u2014 a+b QUJD\n", "key name 'a\\+b'", id="plus-in-name"),
        pytest.param(lambda s: s + "\u2014 x QUJDRA==\n", "too short", id="short-signature"),
        pytest.param(
            lambda s: s + "\u2014 x QUJDREVG\n" * 100, "more than the 100 accepted", id="101-signatures"
        ),
    ],
)
def test_a_malformed_note_is_refused_saying_why(
    signed: str, vkey: str, mangle: Callable[[str], str], message: str
) -> None:
    with pytest.raises(NoteError, match=message):
        open_checkpoint(mangle(signed), vkey)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\nextension\n", "3 lines .* this one 4"),
        (f"{ORIGIN}\n20852163\n", "3 lines .* this one 2"),
        (f"20852163\n{ORIGIN}\n{base64.b64encode(ROOT).decode()}\n", "tree size 'ledger.example/log'"),
        (f"{ORIGIN}\n020852163\n{base64.b64encode(ROOT).decode()}\n", "without leading zeros"),
        (f"{ORIGIN}\n+20852163\n{base64.b64encode(ROOT).decode()}\n", "without leading zeros"),
        (f"{ORIGIN}\n\u0662\n{base64.b64encode(ROOT).decode()}\n", "without leading zeros"),
        (f"{ORIGIN}\n{1 << 64}\n{base64.b64encode(ROOT).decode()}\n", "between 0 and 2\\*\\*64 - 1"),
        (f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n", "root hash is 31 bytes"),
        (f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode().rstrip('=')}\n", "root hash is not valid base64"),
        (f"{ORIGIN}\n7\n{base64.urlsafe_b64encode(bytes([251]) * 32).decode()}\n", "not valid base64"),
    ],
)
def test_a_well_signed_note_that_is_not_a_canonical_checkpoint_is_refused(
    key: Ed25519PrivateKey, vkey: str, text: str, message: str
) -> None:
    with pytest.raises(NoteError, match=message):
        open_checkpoint(sign_note(text, ORIGIN, key), vkey)


GO_PUBLIC_B64 = GO_VERIFIER.split("+", 2)[2]


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ("PeterNeumann", "id '' is not 8 lowercase hex digits"),
        ("PeterNeumann+C74F20A3+" + GO_PUBLIC_B64, "id 'C74F20A3' is not 8 lowercase hex digits"),
        ("PeterNeumann+c74f20a4+" + GO_PUBLIC_B64, "id c74f20a4 does not belong to its name and key"),
        ("Peter Neumann+c74f20a3+" + GO_PUBLIC_B64, "key name 'Peter Neumann'"),
        ("PeterNeumann+c74f20a3+" + GO_PUBLIC_B64[:-1], "verifier key is not valid base64"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + bytes(32)).decode(), "not an Ed25519 key"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" + bytes(31)).decode(), "not an Ed25519 key"),
    ],
)
def test_a_malformed_verifier_key_is_refused(wrong: str, message: str) -> None:
    signed = sign_checkpoint(CHECKPOINT, "PeterNeumann", go_key())
    assert open_checkpoint(signed, GO_VERIFIER) == CHECKPOINT
    with pytest.raises(NoteError, match=message):
        open_checkpoint(signed, wrong)


def test_a_checkpoint_that_could_not_be_written_as_a_note_cannot_be_made() -> None:
    with pytest.raises(NoteError, match="origin"):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(NoteError, match="origin"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(NoteError, match="between 0"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(NoteError, match="33 bytes"):
        Checkpoint(ORIGIN, 1, ROOT + b"!")
    with pytest.raises(NoteError, match="key name"):
        sign_checkpoint(CHECKPOINT, "has space", note.generate_key())


@pytest.mark.parametrize("form", ["pem", "raw"])
def test_a_saved_key_is_private_to_its_owner_and_loads_back(tmp_path: Path, form: str) -> None:
    key = note.generate_key()
    path = tmp_path / f"signing.{form}"
    note.save_private_key(key, path, form)  # type: ignore[arg-type]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = note.load_private_key(path)
    assert verifier_key(ORIGIN, loaded.public_key()) == verifier_key(ORIGIN, key.public_key())
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----") == (form == "pem")
    with pytest.raises(FileExistsError):
        note.save_private_key(note.generate_key(), path)


def test_a_key_file_others_may_read_or_that_holds_no_key_is_refused_without_showing_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "key.pem"
    note.save_private_key(note.generate_key(), path)
    secret = path.read_text()
    path.chmod(0o644)
    with pytest.raises(NoteError, match="may be read by others \\(mode 0644\\)") as refused:
        note.load_private_key(path)
    assert secret.splitlines()[1] not in str(refused.value)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a key at all")
    garbage.chmod(0o600)
    with pytest.raises(NoteError, match="neither a PEM key nor 32 raw bytes") as refused:
        note.load_private_key(garbage)
    assert "not a key at all" not in str(refused.value)
