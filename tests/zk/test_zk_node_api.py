"""The zk node's HTTP API end to end on the embedded chain with Batch(1, 2, 1, 8):
deposits, a transfer and a withdrawal over the API, a proven batch accepted on L1,
the withdrawal credited there; and hostile or wrong bodies answered with 4xx."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.l1 import Chain
from l2gpu.node.zk.api import MAX_BODY_BYTES, create_zk_app
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .zk_node_world import ETH, NodeWorld, transfer, withdrawal

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)


@pytest.fixture
def world(
    chain: Chain,
    batch_circuit: CompiledCircuit,
    batch_keys: Keys,
    toolchain: Toolchain,
    tmp_path: Path,
) -> NodeWorld:
    world = NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db")
    world.deposit(1, ETH)  # the operator's fee account
    world.deposit(2, 2 * ETH)
    return world


@pytest.fixture
def sealed_api(world: NodeWorld) -> TestClient:
    """The API of a node whose accounts 1 and 2 exist (no batch proven)."""
    node = world.node()
    node.seal()
    node.seal()
    return TestClient(create_zk_app(node))


def body(signed: SignedTx, **changes: Any) -> dict[str, Any]:
    """The JSON of a signed transaction; amounts as decimal strings."""
    tx = signed.tx
    out: dict[str, Any] = {
        "from_index": tx.from_index, "amount": str(tx.amount), "nonce": tx.nonce,
        "signature": eddsa.pack_signature(signed.signature).hex(),
    }  # fmt: skip
    if hasattr(tx, "to_index"):
        out |= {"type": "transfer", "to_index": tx.to_index, "fee_code": tx.fee_code}
    else:
        out["type"] = "withdrawal"
    return out | changes


def wait_posted(node: ZkNode, count: int, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while node.status()["batches_posted"] < count:
        assert node.status()["last_error"] is None, node.status()["last_error"]
        assert time.monotonic() < deadline, node.status()
        time.sleep(0.1)


def test_deposit_transfer_withdraw_over_the_api(world: NodeWorld) -> None:
    node = world.node()
    api = TestClient(create_zk_app(node))
    node.seal()
    node.seal()  # one deposit slot per batch
    node.start(poll_seconds=1.0)
    try:
        wait_posted(node, 2)
        assert api.get("/zk/accounts/2").json()["balance"] == str(2 * ETH)
        pay = api.post("/zk/transactions", json=body(transfer(2, 1, 5 * 10**17, 1, 0)))
        assert pay.status_code == 200, pay.json()
        out = api.post("/zk/transactions", json=body(withdrawal(2, ETH, 1), amount=ETH))
        assert out.status_code == 200, out.json()
        position = out.json()["position"]
        assert api.get(f"/zk/transactions/{position}").json()["status"] == "pending"
        assert api.get("/zk/accounts/2").json()["next_nonce"] == 2
        assert node.seal() == 2
        assert api.get(f"/zk/transactions/{position}").json() == {
            "position": position, "status": "included", "batch": 2}  # fmt: skip
        wait_posted(node, 3)
    finally:
        node.stop()
    status = api.get("/zk/status").json()
    assert (status["batches_sealed"], status["batches_proven"], status["batches_posted"]) == (
        3, 3, 3)  # fmt: skip
    assert status["pending"] == 0
    print(f"\nthe transfer and withdrawal batch: proven in {status['last_proof_seconds']} s")
    assert status["state_root"] == str(world.rollup.state_root())
    bob = world.chain.accounts[2]
    assert world.rollup.credit(bob.address) == ETH  # final once the proof verified
    before = world.chain.balance(bob.address)
    world.rollup.withdraw_credit(bob)
    assert world.chain.balance(bob.address) > before + ETH - 10**16
    account = api.get("/zk/accounts/2").json()
    assert account["balance"] == str(2 * ETH - 5 * 10**17 - 10**12 - ETH)
    assert account["eth_address"] == bob.address.lower()


def refused(api: TestClient, payload: Any, status: int, text: str) -> None:
    if isinstance(payload, bytes):
        headers = {"content-type": "application/json"}
        answer = api.post("/zk/transactions", content=payload, headers=headers)
    else:
        answer = api.post("/zk/transactions", json=payload)
    assert answer.status_code == status, (payload, answer.json())
    assert text in answer.json()["error"], (payload, answer.json())
    assert answer.json()["fix"]


def test_bad_transactions_are_refused_with_the_rule(world: NodeWorld) -> None:
    node = world.node()
    node.seal()
    node.seal()  # accounts 1 and 2 exist; nothing needs proving for admission
    api = TestClient(create_zk_app(node))
    good = transfer(2, 1, 10**17, 0, 0)
    other_key = SignedTx(good.tx, transfer(1, 1, 10**17, 0, 0).signature)
    refused(api, body(other_key), 400, "zk: bad signature")
    refused(api, body(transfer(2, 1, 10**17, 0, 3)), 400, "zk: wrong nonce")
    refused(api, body(transfer(2, 1, 3 * ETH, 0, 0)), 400, "zk: insufficient balance")
    refused(api, body(good, amount=str(10**17 + 1)), 400, "zk: amount not representable")
    refused(api, body(withdrawal(2, 3 * ETH, 0)), 400, "zk: insufficient balance")
    refused(api, body(transfer(2, 77, 10**17, 0, 0)), 400, "zk: unknown recipient")
    refused(api, body(good, signature="ff" * 64), 400, "the signature does not unpack")
    refused(api, body(good, to_index=None), 400, "a transfer needs to_index")
    refused(api, body(withdrawal(2, 1, 0), fee_code=1), 400, "no to_index or fee_code")
    # Bodies that are not a transaction at all.
    refused(api, b"{not json", 422, "not valid JSON")
    refused(api, b"\xff\xfe", 422, "not valid JSON")
    refused(api, b"[" * 1000, 400, "nest")
    refused(api, b"x" * (MAX_BODY_BYTES + 1), 413, "exceeds")
    refused(api, [], 422, "")
    refused(api, body(good, amount=1.5), 422, "amount")
    refused(api, body(good, amount="12abc"), 422, "amount")
    refused(api, body(good, amount="9" * 81), 422, "amount")
    refused(api, body(good, nonce=True), 422, "nonce")
    refused(api, body(good, nonce=-1), 422, "nonce")
    refused(api, body(good, type="mint"), 422, "type")
    refused(api, body(good, extra=1), 422, "extra")
    refused(api, body(good, signature="00"), 422, "signature")
    refused(api, {k: v for k, v in body(good).items() if k != "signature"}, 422, "signature")
    # None of it changed anything; the good one still goes in.
    accepted = api.post("/zk/transactions", json=body(good))
    assert accepted.status_code == 200
    assert node.status()["pending"] == 1
    for path, status in (("/zk/transactions/999999", 404), ("/zk/accounts/77", 404),
                         ("/zk/accounts/-1", 422), (f"/zk/accounts/{2**40}", 422),
                         ("/zk/transactions/x", 422)):  # fmt: skip
        answer = api.get(path)
        assert answer.status_code == status, (path, answer.json())
        assert answer.json()["error"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12,
)  # fmt: skip
FIELDS = st.fixed_dictionaries(
    {"type": st.sampled_from(["transfer", "withdrawal", "x"]),
     "from_index": st.integers(-1, 2**33) | st.text(max_size=5),
     "amount": st.integers(-1, 2**130) | st.from_regex(r"[0-9]{0,90}", fullmatch=True),
     "nonce": st.integers(-1, 2**65),
     "signature": st.from_regex(r"[0-9a-f]{126,130}", fullmatch=True)},
    optional={"to_index": st.integers(-1, 300) | st.none(), "fee_code": st.integers(-1, 300),
              "extra": JSON},
)  # fmt: skip


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(payload=JSON | FIELDS)
def test_hostile_bodies_get_a_4xx_never_a_500(sealed_api: TestClient, payload: Any) -> None:
    answer = sealed_api.post("/zk/transactions", json=payload)
    assert 400 <= answer.status_code < 500, (payload, answer.json())
    assert answer.json()["error"]
    assert answer.json()["fix"]
