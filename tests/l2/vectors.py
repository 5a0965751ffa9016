"""L2 spec vectors: accounts funded by deposits, then transactions with post-state or error.

Each vector is JSON: ``{"description", "accounts": [balances], "steps": [{"at", "tx",
"root", "balances"} | {"at", "tx", "error"}]}``. Regenerate the expected outcomes
from the spec with ``.venv/bin/python -m tests.l2.vectors --write`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.channel.vouchers import VirtualVoucherDomain, channel_domain, sign_voucher
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2 import transactions as t
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Seconds, Timestamp, Wei

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "l2"
CHAIN, ROLLUP, T0 = ChainId(31337), Address(b"\x11" * 20), 1_800_000_000


def keys(n: int) -> list[PrivateKey]:
    return [PrivateKey((i + 500).to_bytes(32, "big")) for i in range(n)]


def build_tx(raw: dict[str, Any], state: L2State) -> t.L2Tx:
    kind = raw["type"]
    if kind == "Transfer":
        return t.Transfer(raw["sender"], raw["to"], Wei(raw["amount"]), Wei(raw.get("fee", 0)))
    if kind == "Withdraw":
        return t.Withdraw(raw["sender"], Wei(raw["amount"]), Wei(raw.get("fee", 0)))
    if kind == "OpenChannel":
        virtual = None
        if "virtual" in raw:  # one end of a virtual channel: its signer by account index
            v = raw["virtual"]
            signer = keys(8)[v["signer"]].address if v["signer"] < 8 else ZERO_ADDRESS
            virtual = VirtualTerms(signer, Hash32.from_hex(v["virtual_id"]), v["fee_ppm"])
        return t.OpenChannel(raw["sender"], raw["provider"], Wei(raw["amount"]),
                             Timestamp(T0 + raw["expires_in"]), Seconds(raw["period"]),
                             virtual)  # fmt: skip
    if kind == "CooperativeClose":
        return t.CooperativeClose(raw["sender"], raw["channel"], Wei(raw["amount"]))
    if kind == "CloseByRenter":
        return t.CloseByRenter(raw["sender"], raw["channel"], Wei(raw["amount"]))
    if kind in ("SubmitVoucher", "CloseByProvider"):
        cls = t.SubmitVoucher if kind == "SubmitVoucher" else t.CloseByProvider
        if raw["channel"] >= len(state.channels):  # no such channel: nothing to sign for
            return cls(raw["sender"], raw["channel"], Wei(raw["amount"]), bytes(65))
        channel = state.channels[raw["channel"]]
        params = channel.channel.params
        signer = keys(8)[raw.get("signer", channel.renter)]
        domain: Eip712Domain | VirtualVoucherDomain = channel_domain(CHAIN, ROLLUP)
        if raw.get("virtual_id"):  # a virtual voucher, for that virtual id
            domain = VirtualVoucherDomain(CHAIN, Hash32.from_hex(raw["virtual_id"]))
        voucher = sign_voucher(signer, domain, params.id, Wei(raw["amount"]))
        return cls(raw["sender"], raw["channel"], voucher.amount, voucher.signature)
    if kind == "SettleChannel":
        return t.SettleChannel(raw["sender"], raw["channel"])
    if kind == "ForcedWithdraw":
        address = keys(8)[raw["account"]].address if raw["account"] < 8 else Address(b"\x99" * 20)
        return t.ForcedWithdraw(state.deposits_processed, address, Wei(raw["amount"]))
    raise ValueError(kind)


def run(vector: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's outcome of every step."""
    state = L2State(CHAIN, ROLLUP)
    for i, (key, balance) in enumerate(zip(keys(len(vector["accounts"])), vector["accounts"],
                                          strict=True)):  # fmt: skip
        bls = BlsSecretKey.from_seed(key.secret)
        deposit = t.Deposit(i, key.address, Wei(balance), bls.public_key, bls.prove_possession())
        state_transition(state, deposit, t.BlockContext(Timestamp(T0), 0))
    results = []
    for step in vector["steps"]:
        tx = build_tx(step["tx"], state)
        try:
            state_transition(state, tx, t.BlockContext(Timestamp(T0 + step["at"]), 0))
        except L2Error as exc:
            results.append({"error": exc.reason})
            continue
        results.append({"root": str(state.root()), "balances": [a.balance for a in state.accounts]})
    return results


def load() -> list[tuple[str, dict[str, Any]]]:
    """Every vector file."""
    return [(p.stem, json.loads(p.read_text())) for p in sorted(VECTORS.glob("*.json"))]


if __name__ == "__main__" and "--write" in sys.argv:
    for path in sorted(VECTORS.glob("*.json")):
        vector = json.loads(path.read_text())
        for step, outcome in zip(vector["steps"], run(vector), strict=True):
            for key in ("root", "balances", "error"):
                step.pop(key, None)
            step.update(outcome)
        path.write_text(json.dumps(vector, indent=2) + "\n")
        print(f"wrote {path.name}")
