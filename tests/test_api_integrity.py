"""Integrity over HTTP: public key, checkpoints, proofs that verify with nothing but the public key,
verify for auditors, and a client's change-log bundle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.demo import CODE, seed_demo
from api.http.app import create_app
from api.http.auth import Tokens
from api.http.settings import HttpSettings
from domain import commands as c
from domain.service import Ledger
from replay import bundle, merkle
from replay.checkpoints import KEY_FILE
from replay.leaves import Leaf
from replay.note import open_checkpoint
from tests.principals import ACME, AUDITOR, GLOBEX, PMO, Who
from tests.support import opened

SECRET = SecretStr("test-secret-" + "i" * 32)
NOTE = "penalty clause applies from next week"


@dataclass(frozen=True)
class Api:
    app: FastAPI
    http: TestClient
    tokens: Tokens

    def call(self, method: str, url: str, who: Who | None = PMO, **kwargs: Any) -> httpx.Response:
        headers = {}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens.issue(who.sub, who.role, who.client_id)}"
        response: httpx.Response = self.http.request(method, url, headers=headers, **kwargs)
        return response

    def ok(self, method: str, url: str, who: Who | None = PMO, **kwargs: Any) -> Any:
        response = self.call(method, url, who, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def record(self, command: c.Command) -> None:
        ledger: Ledger = self.app.state.ledger
        ledger.execute(command, "dana.whitfield")
        self.app.state.runner.catch_up()

    @property
    def key(self) -> str:
        key: str = self.ok("GET", "/ledger/public-key", None)["verifier_key"]
        return key


@pytest.fixture
def api(store: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    seed_demo(store)
    with Ledger(store) as ledger:
        ledger.execute(
            opened(code="GLOBEX-CRM", client_id="globex", client_name="Globex",
                   planned_start=date(2026, 1, 5), planned_end=date(2026, 12, 18)),
            "eve",
        )  # fmt: skip
    settings = HttpSettings(data_dir=tmp_path / "http", jwt_secret=SECRET, embedded_projections=False)
    app = create_app(settings, store=store)
    with TestClient(app) as http:
        app.state.runner.catch_up()
        yield Api(app, http, Tokens(settings))


def test_the_public_key_needs_no_token_and_the_private_key_is_never_shown(api: Api, tmp_path: Path) -> None:
    published = api.ok("GET", "/ledger/public-key", None)
    assert published["verifier_key"].startswith("engagement-ledger.local/log+")
    private = (tmp_path / "http" / KEY_FILE).read_text()
    body = private.split("-----")[2].strip()
    for response in (
        api.call("GET", "/ledger/public-key", None),
        api.call("POST", "/ledger/checkpoints", AUDITOR),
        api.call("GET", "/ledger/checkpoints", AUDITOR),
        api.call("POST", "/ledger/verify", AUDITOR, json={}),
        api.call("GET", f"/engagements/{CODE}/changelog/bundle", ACME),
    ):
        assert body not in response.text


@pytest.mark.parametrize("who", [PMO, AUDITOR], ids=lambda w: w.role.value)
def test_staff_take_a_checkpoint_that_verifies_with_the_public_key(api: Api, who: Who) -> None:
    taken = api.ok("POST", "/ledger/checkpoints", who)
    checkpoint = open_checkpoint(taken["note"], api.key)
    assert checkpoint.size == taken["size"] == 51
    assert checkpoint.root.hex() == taken["root"]
    assert api.ok("GET", "/ledger/checkpoints", who) == [taken]
    assert api.ok("POST", "/ledger/checkpoints", who) == taken, "the log has not grown: the same checkpoint"


def test_clients_may_not_take_checkpoints_or_run_verify(api: Api) -> None:
    assert api.call("POST", "/ledger/checkpoints", ACME).status_code == 403
    assert api.call("POST", "/ledger/verify", ACME, json={}).status_code == 403
    assert api.call("GET", "/ledger/checkpoints", ACME).status_code == 403


@pytest.mark.parametrize("who", [PMO, AUDITOR, ACME], ids=lambda w: w.role.value)
def test_an_inclusion_proof_verifies_against_the_signed_root(api: Api, who: Who) -> None:
    checkpoint = open_checkpoint(api.ok("POST", "/ledger/checkpoints", AUDITOR)["note"], api.key)
    proof = api.ok("GET", f"/ledger/proofs/inclusion/{CODE}/7", who)
    ledger: Ledger = api.app.state.ledger
    stored = next(iter(ledger.recorder.select_events(ledger.engagement(CODE).id, gt=6, lte=7)))
    assert proof["leaf_hash"] == Leaf.of(stored).hash().hex(), "the leaf is the stored event's"
    assert (proof["tree_size"], proof["root"]) == (checkpoint.size, checkpoint.root.hex())
    merkle.verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], checkpoint.size,
        [bytes.fromhex(p) for p in proof["proof"]], checkpoint.root,
    )  # fmt: skip


def test_another_clients_event_has_no_proof_for_a_client(api: Api) -> None:
    api.ok("POST", "/ledger/checkpoints", AUDITOR)
    assert api.call("GET", f"/ledger/proofs/inclusion/{CODE}/7", GLOBEX).status_code == 404


def test_a_consistency_proof_links_an_earlier_checkpoint_to_a_later_one(api: Api) -> None:
    earlier = open_checkpoint(api.ok("POST", "/ledger/checkpoints", AUDITOR)["note"], api.key)
    api.record(c.AddScopeItem(code=CODE, key="edi", title="EDI", reason="Client request", internal_note=NOTE))
    later = open_checkpoint(api.ok("POST", "/ledger/checkpoints", AUDITOR)["note"], api.key)
    assert later.size == earlier.size + 1
    proof = api.ok("GET", "/ledger/proofs/consistency", ACME, params={"first": earlier.size})
    assert proof["second"] == later.size
    hashes = [bytes.fromhex(p) for p in proof["proof"]]
    merkle.verify_consistency(earlier.size, later.size, earlier.root, later.root, hashes)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(earlier.size, later.size, later.root, earlier.root, hashes)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        (f"/ledger/proofs/inclusion/{CODE}/0", "InvalidInput"),
        (f"/ledger/proofs/inclusion/{CODE}/999", "EventNotInLog"),
        (f"/ledger/proofs/inclusion/{CODE}/7?tree_size=5", "TreeSizeOutOfRange"),
        (f"/ledger/proofs/inclusion/{CODE}/7?tree_size=100000", "TreeSizeOutOfRange"),
        ("/ledger/proofs/consistency?first=0", "InvalidInput"),
        ("/ledger/proofs/consistency?first=9&second=3", "TreeSizeOutOfRange"),
        ("/ledger/proofs/consistency?first=3&second=999999", "TreeSizeOutOfRange"),
        ("/ledger/proofs/consistency?first=x", "InvalidInput"),
    ],
)
def test_impossible_proof_requests_are_refused_with_the_reason(api: Api, url: str, rule: str) -> None:
    api.ok("POST", "/ledger/checkpoints", AUDITOR)
    response = api.call("GET", url, AUDITOR)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["rule"] == rule, response.text


def test_verify_for_auditors_holds_history_to_a_kept_checkpoint(api: Api) -> None:
    kept = api.ok("POST", "/ledger/checkpoints", AUDITOR)["note"]
    api.record(c.AddScopeItem(code=CODE, key="edi", title="EDI", reason="Client request"))
    api.ok("POST", "/ledger/checkpoints", AUDITOR)
    result = api.ok("POST", "/ledger/verify", AUDITOR, json={"against": kept})
    assert result["ok"], result["lines"]
    assert (result["events"], result["checkpoints"]) == (52, 2)
    forged = kept.replace("51\n", "50\n", 1)
    refused = api.ok("POST", "/ledger/verify", AUDITOR, json={"against": forged})
    assert not refused["ok"]
    assert any("does not verify" in line for line in refused["lines"])


def test_a_clients_bundle_verifies_offline_and_holds_no_internal_note(api: Api) -> None:
    api.record(c.AddScopeItem(code=CODE, key="edi", title="EDI", reason="Client request", internal_note=NOTE))
    response = api.call("GET", f"/engagements/{CODE}/changelog/bundle", ACME)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    assert NOTE not in response.text
    report = bundle.check(response.content, api.key)
    assert report.ok, report.lines
    assert len(response.json()["events"]) == 51


def test_another_clients_bundle_is_not_found(api: Api) -> None:
    response = api.call("GET", f"/engagements/{CODE}/changelog/bundle", GLOBEX)
    assert response.status_code == 404
