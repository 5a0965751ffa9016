"""L1 cost per lease on the hybrid rail, read from L1 itself.

The workload: ``leases`` leases at once, each between its own renter and provider
(fresh L1 accounts, each with a deposit in the rollup), through a rollup node served
on loopback at ``l2gpu up``'s batch interval. Each lease opens its channel (the
renter's OpenChannel), is paid off chain by vouchers, and ends as market leases end:
the provider closes with the renter's co-signature (CooperativeClose), or alone with the
best voucher (CloseByProvider) when ``cooperative`` is off.

What the lease cost on L1 is read back from the chain, not from our own encoders:
every transaction sent to the Rollup contract between the first open and the last
close, its signed bytes (re-encoded from the block and checked against its hash
where the L1 has no ``eth_getRawTransactionByHash``) and its receipt's gas, divided
by the leases. The setup (deposits) comes before the window and is not counted.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction

from l2gpu.core.crypto.keccak import keccak256 as keccak
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Wei

SEAL_INTERVAL = 2.0  # l2gpu up's default
DEPOSIT = Wei(36 * 10**14)  # an hour at 10**12 wei per GPU-second, on one GPU
HANG_GUARD_S = 300.0


def signed_tx_bytes(w3: Any, tx: Any) -> int:
    """The size of ``tx`` as signed and sent: the L1's raw bytes, or the transaction
    re-encoded from its fields, checked against its hash (py-evm keeps no raw bytes)."""
    try:
        return len(bytes(w3.eth.get_raw_transaction(tx["hash"])))
    except Exception:  # noqa: S110 - eth-tester has no eth_getRawTransactionByHash
        pass

    def field(*names: str) -> Any:
        return next(tx[n] for n in names if n in tx)

    fields = {
        "type": int(tx["type"]),
        "chainId": field("chainId", "chain_id"),
        "nonce": tx["nonce"],
        "maxPriorityFeePerGas": field("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
        "maxFeePerGas": field("maxFeePerGas", "max_fee_per_gas"),
        "gas": tx["gas"],
        "to": tx["to"],
        "value": tx["value"],
        "data": field("input", "data"),
        "accessList": list(field("accessList", "access_list")),
        "v": tx["v"],
        "r": int.from_bytes(bytes(tx["r"]), "big"),
        "s": int.from_bytes(bytes(tx["s"]), "big"),
    }
    raw = TypedTransaction.from_dict(fields).encode()
    if keccak(raw) != bytes(tx["hash"]):
        raise L2gpuError(
            "could not re-encode an L1 transaction to its signed bytes",
            "measure on an L1 that serves eth_getRawTransactionByHash (anvil)",
        )
    return len(raw)


def l1_spend(w3: Any, to: Address, first_block: int, last_block: int) -> dict[str, int]:
    """Transactions sent to ``to`` in blocks ``first_block..last_block``: how many, their
    signed bytes and the gas their receipts used."""
    count = size = gas = 0
    for number in range(first_block, last_block + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["to"] is None or Address.from_hex(tx["to"]) != to:
                continue
            count += 1
            size += signed_tx_bytes(w3, tx)
            gas += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
    return {"transactions": count, "bytes": size, "gas": gas}


def _parties(chain: Any, count: int) -> list[LocalAccount]:
    """``count`` fresh L1 accounts funded from the dev accounts (the dev accounts are
    ten; a workload of many leases needs two parties each)."""
    parties = [Account.from_key((70_000 + i).to_bytes(32, "big")) for i in range(count)]
    for i, party in enumerate(parties):
        funder = chain.accounts[1 + i % (len(chain.accounts) - 1)]
        chain.send_ether(Address.from_hex(party.address), 10**18, sender=funder)
    return parties


def _lease(node_url: str, renter: Any, provider: Any, cooperative: bool,
           errors: list[str]) -> None:  # fmt: skip
    """One lease's channel: open, a voucher, the close (see the module's docstring)."""
    from l2gpu.core.channel.vouchers import sign_voucher
    from l2gpu.designs import RailParts, lease_rail

    try:
        wait = ("wait", HANG_GUARD_S)
        renter_rail = lease_rail(
            "hybrid", RailParts(node_url=node_url, key=renter, options=(wait,))
        )
        provider_rail = lease_rail("hybrid", RailParts(node_url=node_url, key=provider, options=(
            wait, ("cooperative", cooperative))))  # fmt: skip
        opened = renter_rail.open(provider.address, DEPOSIT, lifetime=7200)
        if renter_rail.confirmed(opened.params.id) != "open":
            raise L2gpuError(f"channel {opened.params.id} was not opened")
        paid = Wei(DEPOSIT // 3)
        voucher = sign_voucher(renter, renter_rail.domain, opened.params.id, paid)
        agrees = threading.Thread(target=renter_rail.cosign_close,
                                  args=(opened.description, paid), daemon=True)  # fmt: skip
        if cooperative:
            agrees.start()
        closed = provider_rail.close(opened.description, voucher)
        if closed.provider_payout != paid:
            raise L2gpuError(f"the provider was paid {closed.provider_payout}, not {paid}")
        if cooperative:
            agrees.join(HANG_GUARD_S)
    except Exception as exc:  # a lease that failed fails the run, whatever it raised
        errors.append(getattr(exc, "what", None) or repr(exc))


def measure_l1_cost(leases: int = 16, *, cooperative: bool = True,
                    interval: float = SEAL_INTERVAL) -> dict[str, Any]:  # fmt: skip
    """Run ``leases`` concurrent leases on a fresh embedded L1 and rollup node; return
    the L1 transactions, bytes and gas in the window, in all and per lease."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.embedded import start_embedded_chain
    from l2gpu.node.client import L2Client
    from l2gpu.payments.rollup_rail import RollupChannelRail  # noqa: F401 - imported before threads
    from l2gpu.scenarios.embedded_rollup import embedded_rollup

    chain = start_embedded_chain()
    parties = _parties(chain, 2 * leases)
    served = embedded_rollup(chain, parties, deposit=10**17, interval=interval)
    try:
        keys = [PrivateKey(bytes(p.key)) for p in parties]
        watcher = L2Client(served.url, keys[0])
        rollup = Address.from_hex(watcher.status()["rollup"])
        first_block = chain.block_number() + 1
        errors: list[str] = []
        start = time.perf_counter()
        threads = [threading.Thread(target=_lease, args=(served.url, keys[2 * i],
                                                         keys[2 * i + 1], cooperative, errors))
                   for i in range(leases)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD_S)
        elapsed = time.perf_counter() - start
        if errors:
            raise L2gpuError(f"{len(errors)} of {leases} leases failed: {errors[0]}")
        _wait_posted(watcher)
        spent = l1_spend(chain.w3, rollup, first_block, chain.block_number())
    finally:
        served.stop()
    return {
        "leases": leases,
        "close": "cooperative" if cooperative else "provider",
        "l1_transactions": spent["transactions"],
        "l1_bytes": spent["bytes"],
        "l1_gas": spent["gas"],
        "l1_bytes_per_lease": round(spent["bytes"] / leases, 1),
        "l1_gas_per_lease": round(spent["gas"] / leases),
        "workload_s": round(elapsed, 2),
    }


def _wait_posted(client: Any) -> None:
    """Until the node has nothing waiting to be sealed or posted to L1."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        status = client.status()
        if not status["mempool"] and not status["batches_waiting_for_l1"]:
            return
        time.sleep(0.1)  # the node's sealing thread posts on its own schedule
    raise L2gpuError("the node did not post its batches to L1 in time")


def run() -> dict[str, Any]:
    """The suite's figures: one lease alone, 16 and 32 sharing batches (cooperative
    closes), and 16 closed by the provider alone."""
    from l2gpu.bench import environment

    figures: dict[str, Any] = {"suite": "l1cost", "rail_seal_interval_s": SEAL_INTERVAL}
    for leases, cooperative in ((1, True), (16, True), (32, True), (16, False)):
        got = measure_l1_cost(leases, cooperative=cooperative)
        name = f"{leases}_leases" + ("" if cooperative else "_provider_close")
        figures[f"l1_bytes_per_lease_{name}"] = got["l1_bytes_per_lease"]
        figures[f"l1_gas_per_lease_{name}"] = got["l1_gas_per_lease"]
        figures[f"l1_transactions_{name}"] = got["l1_transactions"]
    return {**figures, **environment()}
