"""The ``crypto`` suite: EIP-712 signing and signer recovery on one core.

The message is a payment voucher (channel id, cumulative amount) under a full
domain (name, version, chain id, contract), as every second of a lease signs
and checks one. eth-account's reference path is timed beside ours.
"""

from __future__ import annotations

from itertools import cycle
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from l2gpu.bench import environment, median_rate, pin_to_one_core
from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address

VOUCHER = TypedDataSchema({"Voucher": [("channelId", "bytes32"), ("amount", "uint256")]}, "Voucher")
DOMAIN = Eip712Domain(
    name="l2gpu",
    version="1",
    chain_id=1,
    verifying_contract=Address.from_hex("0x" + "11" * 20),
)


def run(count: int = 2_000, rounds: int = 7) -> dict[str, Any]:
    """Measure signing and recovery throughput; return the figures."""
    cpu = pin_to_one_core()
    key = PrivateKey((0xC0FFEE).to_bytes(32, "big"))
    messages = [{"channelId": i.to_bytes(32, "big"), "amount": 10**15 * i} for i in range(count)]
    signed = [(m, VOUCHER.sign(key, DOMAIN, m)) for m in messages]

    sign_next = cycle(messages).__next__
    recover_next = cycle(signed).__next__

    def sign_one() -> None:
        VOUCHER.sign(key, DOMAIN, sign_next())

    def recover_one() -> None:
        message, signature = recover_next()
        if VOUCHER.recover(DOMAIN, message, signature) != key.address:
            raise AssertionError("recovered the wrong signer")

    sign_rate = median_rate(sign_one, count, rounds)
    recover_rate = median_rate(recover_one, count, rounds)

    reference_next = cycle(
        (encode_typed_data(full_message=VOUCHER.to_json(DOMAIN, m)), s.hex()) for m, s in signed
    ).__next__

    def reference_recover_one() -> None:
        encoded, signature = reference_next()
        Account.recover_message(encoded, signature="0x" + signature)

    reference_count = max(count // 10, 50)
    reference_rate = median_rate(reference_recover_one, reference_count, 3)
    return {
        "suite": "crypto",
        "eip712_sign_per_s": round(sign_rate),
        "eip712_recover_per_s": round(recover_rate),
        "eth_account_recover_per_s": round(reference_rate),
        "recover_speedup_vs_eth_account": round(recover_rate / reference_rate, 1),
        "messages_per_round": count,
        "rounds": rounds,
        "pinned_cpu": cpu,
        **environment(),
    }
