"""The rollup node's HTTP API: shapes and errors (in process, on the embedded L1)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.state import L2State
from l2gpu.core.types import Address, ChainId
from l2gpu.db import open_database
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.api import MAX_BODY_BYTES, create_app
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.node import RollupNode


def make_api(tmp_path: Path) -> tuple[TestClient, RollupNode, str]:
    chain = start_embedded_chain()
    genesis = L2State(ChainId(1), Address(bytes(20))).root()
    client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=genesis)
    client.stake(chain.accounts[0], 10**18)
    user = chain.accounts[1]
    client.deposit(user, BlsSecretKey.from_seed(PrivateKey(bytes(user.key)).secret), 10**18)
    desk = CoSignDesk(timeout=0.5)
    node = RollupNode(client, open_database(f"sqlite:///{tmp_path / 'n.db'}"), chain.accounts[0],
                      cosigners=desk)  # fmt: skip
    node.follow_l1()
    node.seal_and_post()
    return TestClient(create_app(node, desk)), node, user.address


def test_status_accounts_and_batches(tmp_path: Path) -> None:
    api, node, user = make_api(tmp_path)
    status = api.get("/l2/status").json()
    assert status["batches_posted"] == 1
    assert status["state_root"] == str(node.state.root())
    account = api.get(f"/l2/accounts/{user}").json()
    assert (account["index"], account["balance"], account["has_bls_key"]) == (0, 10**18, True)
    batches = api.get("/l2/batches").json()
    assert batches[0]["seconds_left"] > 0
    assert batches[0]["final"] is False
    assert batches[0]["challenged"] is False


def test_errors_are_json_with_what_to_do(tmp_path: Path) -> None:
    api, _, _ = make_api(tmp_path)
    missing = api.get("/l2/accounts/0x" + "12" * 20)
    assert missing.status_code == 404
    assert missing.json()["fix"] == "deposit on L1 first"
    bad_address = api.get("/l2/accounts/0x1234")
    assert bad_address.status_code == 422
    assert "40 hex digits" in bad_address.json()["error"]
    short = {"kind": 1, "body": "0x01", "nonce": 0, "signature": "0x00"}
    bad_body = api.post("/l2/transactions", json=short)
    assert bad_body.status_code == 400
    assert "codec: batch ends inside" in bad_body.json()["error"]
    too_big = api.post("/l2/transactions", content=b"x" * (MAX_BODY_BYTES + 1),
                       headers={"content-type": "application/json"})  # fmt: skip
    assert too_big.status_code == 413
    assert api.post("/l2/cosign/0/" + "ab" * 16, json={"signature": "0x00"}).status_code == 404
    assert api.get("/l2/exits/0/proof").status_code == 404
