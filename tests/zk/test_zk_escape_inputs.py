"""What ``l2gpu zk exit`` reads from parties it cannot trust: a zk node that serves
garbage for a batch's data, and L1 calldata that does not decode as the rollup's
call. Each is a clear error, never a crash (found by attacking the escape)."""

from __future__ import annotations

import httpx
import pytest

from l2gpu.core.types import Address
from l2gpu.l1 import Chain, compile_contract
from l2gpu.l1.chain import DeployedContract
from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE
from l2gpu.node.client import NodeError
from l2gpu.node.zk.client import ZkNodeClient


def node_answering(status: int, body: object) -> ZkNodeClient:
    """A zk node client whose node answers every request with ``body``."""
    client = ZkNodeClient("http://node.test")
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json=body))
    client.http = httpx.Client(base_url=client.url, transport=transport)
    return client


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, {"data": "0xzz"}), (200, [1, 2]), (200, {"nodata": 1}), (200, "text"),
     (200, {"data": 7}), (500, [1]), (400, "x")],
)  # fmt: skip
def test_a_node_serving_garbage_for_a_batch_is_a_clear_error(status: int, body: object) -> None:
    with pytest.raises(NodeError) as caught:
        node_answering(status, body).batch_data(0)
    assert caught.value.fix


def test_a_node_serving_the_data_gives_its_bytes_and_a_missing_batch_gives_none() -> None:
    assert node_answering(200, {"data": "0x00ff"}).batch_data(0) == b"\x00\xff"
    assert node_answering(404, {"error": "no batch 9", "fix": "..."}).batch_data(9) is None


def test_calldata_that_does_not_decode_as_the_rollups_call_is_a_value_error(chain: Chain) -> None:
    rollup = DeployedContract(chain, compile_contract(CONTRACT_SOURCE), Address(bytes(20)))
    data = rollup.function("freeze")._encode_transaction_data()
    assert rollup.decode_input(data) == ("freeze", {})
    selector = rollup.function(
        "submit_validium_batch",
        1,
        1,
        0,
        0,
        b"",
        b"",
        0,
        b"",
        bytes(32),
        [0, 0],
        [[0, 0], [0, 0]],
        [0, 0],
    )._encode_transaction_data()[:10]
    for bad in (selector + "00" * 10, "0xdeadbeef" + "00" * 64):  # truncated; unknown
        with pytest.raises(ValueError, match=r"."):
            rollup.decode_input(bad)
