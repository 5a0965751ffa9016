"""The JSON-RPC L1 path against a real anvil node, and its errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from l2gpu.config import Settings
from l2gpu.core.errors import InvalidValue
from l2gpu.core.types import Address
from l2gpu.l1 import ContractRevert, L1Unreachable, NotADevChain, open_chain
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key

from ..conftest import ANVIL_KEYS, free_port


@pytest.fixture
def anvil_chain(anvil_url: str):
    chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS])
    snapshot = chain.snapshot()
    yield chain
    chain.revert(snapshot)


def test_deploy_transact_revert_and_logs_over_json_rpc(anvil_chain, token_compiled) -> None:
    owner, other = anvil_chain.accounts
    assert anvil_chain.chain_id == 31337
    token = anvil_chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    receipt = token.transact("mint", Address.from_hex(other.address), 77, sender=owner)
    assert receipt.event("Transfer").args["value"] == 77
    assert token.call("balanceOf", Address.from_hex(other.address)) == 77
    with pytest.raises(ContractRevert) as info:
        token.transact("transfer", Address.from_hex(owner.address), 78, sender=other)
    assert "TestToken: balance too low" in info.value.reason


def test_time_travel_over_json_rpc(anvil_chain) -> None:
    before = anvil_chain.timestamp()
    after = anvil_chain.time_travel(3 * 24 * 3600)
    # anvil adds the wall-clock time that passed between the two calls (0 or 1 s here)
    assert 3 * 24 * 3600 <= after - before <= 3 * 24 * 3600 + 5


def test_open_chain_uses_the_rpc_setting_and_configured_key(anvil_url: str) -> None:
    settings = Settings(l1_rpc=anvil_url, private_key=ANVIL_KEYS[0])
    chain = open_chain(settings)
    assert [a.address for a in chain.accounts] == [account_from_private_key(ANVIL_KEYS[0]).address]
    assert "JSON-RPC" in chain.description


def test_an_unreachable_endpoint_says_what_to_do() -> None:
    with pytest.raises(L1Unreachable, match="no Ethereum JSON-RPC answered.*unset L2GPU_L1_RPC"):
        connect_jsonrpc(f"http://127.0.0.1:{free_port()}", [], timeout=2)


def test_a_malformed_url_is_rejected_before_connecting() -> None:
    with pytest.raises(InvalidValue, match="scheme must be http"):
        connect_jsonrpc("localhost:8545", [])


class _ProductionLikeNode(BaseHTTPRequestHandler):
    """Stands in for a production node: answers eth_chainId, refuses the evm_* dev methods."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if request["method"] == "eth_chainId":
            body = {"jsonrpc": "2.0", "id": request["id"], "result": "0x1"}
        else:
            body = {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32601, "message": "the method does not exist"},
            }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def production_like_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProductionLikeNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_time_travel_on_a_production_chain_is_refused_clearly(production_like_url: str) -> None:
    chain = connect_jsonrpc(production_like_url, [])
    with pytest.raises(NotADevChain, match="refused evm_increaseTime.*need a dev chain"):
        chain.dev.increase_time(10)
