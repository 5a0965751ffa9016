"""The L1 cost of a lease is read from L1: the signed transactions the node posted
while the leases ran, and their receipts' gas, shared by the leases they carried."""

from __future__ import annotations

from l2gpu.bench.l1_cost import measure_l1_cost, signed_tx_bytes
from l2gpu.core.types import Address
from l2gpu.l1.embedded import start_embedded_chain


def test_signed_bytes_are_those_the_sender_signed() -> None:
    chain = start_embedded_chain()
    sender, to = chain.accounts[:2]
    receipt = chain.send_ether(Address.from_hex(to.address), 1, sender=sender)
    tx = chain.w3.eth.get_transaction(receipt.tx_hash)
    assert signed_tx_bytes(chain.w3, tx) == receipt.tx_bytes  # the bytes web3 sent


def test_the_batches_cost_is_shared_by_the_leases_they_carry() -> None:
    # l2gpu up's 2 s batches: the three leases' opens (sent at once) share batches
    # even on a busy machine; a lease alone needs at least two (open, then close)
    alone = measure_l1_cost(1)
    shared = measure_l1_cost(3)
    for run in (alone, shared):
        assert run["l1_transactions"] >= 1  # at least one batch carried the opens
        assert run["l1_gas"] > 21_000 * run["l1_transactions"]
    # three leases in the same batches pay less each than one lease alone: the figure
    # follows its input, it is not written down
    assert shared["l1_gas_per_lease"] < alone["l1_gas_per_lease"]
    assert shared["l1_bytes_per_lease"] < alone["l1_bytes_per_lease"]
