"""Shared channel vectors: materialize symbolic steps, run them on the spec or the contract.

A vector is JSON: ``{"description", "asset", "steps": [{"at", "input", "post" | "error"}]}``.
Inputs are symbolic (actors by role, times relative to the start, vouchers by
signer/amount/channel/domain), so the same vector runs against the Python
machine and against ChannelManager on any chain, whose domain differs.

Regenerate the expected outcomes from the spec with
``.venv/bin/python -m tests.channel.runner --write`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2gpu.core.channel import ChannelError, ChannelParams, ManagerState, state_transition
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.events import ChannelSettled
from l2gpu.core.channel.vouchers import (
    COOPERATIVE_CLOSE,
    VOUCHER,
    channel_domain,
)
from l2gpu.core.crypto.secp256k1 import SECP256K1_N, PrivateKey
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "channel"
PERIOD = 100
ROLES = {"renter": 2, "provider": 3, "stranger": 4, "watcher": 5, "lender": 6}
SPEC_CHAIN = ChainId(1)
SPEC_CONTRACT = Address(b"\x11" * 20)
SPEC_START = 1_800_000_000


def key(role: str) -> PrivateKey:
    """The key of a role: the embedded chain's funded dev keys."""
    return PrivateKey(ROLES[role].to_bytes(32, "big"))


@dataclass
class Context:
    """Where a vector runs: chain, contract, token, start time."""

    chain_id: ChainId
    contract: Address
    token: Address
    start: int
    params: dict[str, ChannelParams] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelParams:
        if name not in self.params:
            if name.startswith("lent"):  # a lender's: its salt starts with the lender's address
                salt = bytes(key("lender").address) + {"lent": 0, "lent2": 1}[name].to_bytes(
                    12, "big"
                )
            else:
                salt = {"main": 0, "other": 1, "third": 2}[name].to_bytes(32, "big")
            self.params[name] = ChannelParams(
                renter=key("renter").address,
                provider=key("provider").address,
                token=self.token,
                challenge_period=Seconds(PERIOD),
                salt=salt,
            )
        return self.params[name]

    def signature(self, spec: dict[str, Any], schema: Any = VOUCHER) -> bytes:
        """A signature as the spec describes it (signer, amount, channel, domain, damage)."""
        domain_chain, domain_contract = self.chain_id, self.contract
        if spec.get("domain") == "other_chain":
            domain_chain = ChainId(self.chain_id + 1)
        elif spec.get("domain") == "other_contract":
            domain_contract = Address(b"\x22" * 20)
        domain = channel_domain(domain_chain, domain_contract)
        cid = self.channel(spec.get("channel", "main")).id
        signature = schema.sign(
            key(spec["signer"]), domain, {"channelId": cid, "amount": spec["amount"]}
        )
        damage = spec.get("malformed")
        if damage == "short":
            return signature[:64]
        if damage == "high_s":
            s = SECP256K1_N - int.from_bytes(signature[32:64], "big")
            v = 55 - signature[64]  # flipping s flips the recovery id
            return signature[:32] + s.to_bytes(32, "big") + bytes((v,))
        if damage == "bad_v":
            return signature[:64] + b"\x00"
        return signature

    def input(self, at: int, raw: dict[str, Any]) -> ci.ChannelInput:
        """The core input for a symbolic step at ``at`` seconds after the start."""
        kind = raw["type"]
        sender = key(raw["sender"]).address
        now = Timestamp(self.start + at)
        params = self.channel(raw.get("channel", "main"))
        amount = Wei(raw.get("amount", 0))
        is_ether = self.token == ZERO_ADDRESS
        value = Wei(raw.get("value", amount) if is_ether else raw.get("value", 0))
        if kind == "Open":
            expires = Timestamp(self.start + raw["expires_at"])
            return ci.Open(sender, now, params, amount, expires, value)
        if kind == "OpenFor":
            expires = Timestamp(self.start + raw["expires_at"])
            return ci.OpenFor(sender, now, params, amount, expires, value)
        if kind == "AssignRefund":
            return ci.AssignRefund(sender, now, params, self.assignee(raw["to"]))
        if kind == "AssignPayout":
            return ci.AssignPayout(sender, now, params, self.assignee(raw["to"]))
        if kind == "Collect":
            return ci.Collect(sender, now, params)
        if kind == "TopUp":
            expires = Timestamp(self.start + raw["expires_at"])
            return ci.TopUp(sender, now, params, amount, expires, value)
        if kind == "SubmitVoucher":
            return ci.SubmitVoucher(sender, now, params, amount, self.signature(raw["voucher"]))
        if kind == "CloseByRenter":
            return ci.CloseByRenter(sender, now, params, amount)
        if kind == "CloseByProvider":
            sig = self.signature(raw["voucher"]) if "voucher" in raw else b""
            return ci.CloseByProvider(sender, now, params, amount, sig)
        if kind == "CooperativeClose":
            renter_sig = self.signature(raw["renter_signature"], COOPERATIVE_CLOSE)
            provider_sig = self.signature(raw["provider_signature"], COOPERATIVE_CLOSE)
            return ci.CooperativeClose(sender, now, params, amount, renter_sig, provider_sig)
        if kind == "Settle":
            return ci.Settle(sender, now, params)
        raise ValueError(f"unknown step type {kind}")

    @staticmethod
    def assignee(role: str) -> Address:
        """A role's address; ``"nobody"`` is the zero address."""
        return ZERO_ADDRESS if role == "nobody" else key(role).address

    def describe(self, channel_name: str, channel: Any) -> dict[str, Any]:
        """A channel's state in vector form (times relative to the start; 0 stays 0)."""
        if channel is None:
            return {"status": "NONE"}

        def rel(t: int) -> int:
            return t - self.start if t else 0

        described = {
            "deposit": channel.deposit,
            "best": channel.best_amount,
            "expires_at": rel(channel.expires_at),
            "close_deadline": rel(channel.close_deadline),
            "status": channel.status.name,
        }
        # Assignments only where there are some: older vectors stay as they were.
        roles = {key(role).address: role for role in ROLES}
        for name in ("refund_to", "payout_to"):
            if getattr(channel, name) != ZERO_ADDRESS:
                described[name] = roles.get(getattr(channel, name), "unknown")
        for name in ("refund_owed", "payout_owed"):
            if getattr(channel, name):
                described[name] = getattr(channel, name)
        return described


def outcome_from_channel(ctx: Context, name: str, channel: Any) -> dict[str, Any]:
    """A step's outcome from the channel's post-state (payouts are added by the caller)."""
    return {"post": ctx.describe(name, channel)}


def outcome(ctx: Context, raw: dict[str, Any], state: ManagerState, events: list[Any]) -> dict:
    """What a step produced: the channel's post-state and any payouts."""
    name = raw.get("channel", "main")
    out = outcome_from_channel(ctx, name, state.get(ctx.channel(name).id))
    settled = [e for e in events if isinstance(e, ChannelSettled)]
    if settled:
        out["payouts"] = {
            "provider": settled[0].provider_payout,
            "renter": settled[0].renter_payout,
        }
    return out


def run_spec(vector: dict[str, Any], token: Address = ZERO_ADDRESS) -> list[dict[str, Any]]:
    """Run a vector on the Python machine; return one outcome per step."""
    ctx = Context(SPEC_CHAIN, SPEC_CONTRACT, token, SPEC_START)
    state = ManagerState(SPEC_CHAIN, SPEC_CONTRACT)
    results = []
    for step in vector["steps"]:
        try:
            state, events = state_transition(state, ctx.input(step["at"], step["input"]))
        except ChannelError as exc:
            results.append({"error": exc.reason})
            continue
        results.append(outcome(ctx, step["input"], state, events))
    return results


def assets(vector: dict[str, Any]) -> list[str]:
    """The assets a vector runs with: ether, token or both."""
    return ["ether", "token"] if vector.get("asset", "both") == "both" else [vector["asset"]]


def load_vectors() -> list[tuple[str, dict[str, Any]]]:
    """Every vector file, by name."""
    return [(p.stem, json.loads(p.read_text())) for p in sorted(VECTORS.glob("*.json"))]


def write_expected() -> None:
    """Fill each vector's steps with the spec's outcomes (post-state or error)."""
    for path in sorted(VECTORS.glob("*.json")):
        vector = json.loads(path.read_text())
        for asset in assets(vector):
            token = ZERO_ADDRESS if asset == "ether" else Address(b"\x33" * 20)
            results = run_spec(vector, token)
            for step, result in zip(vector["steps"], results, strict=True):
                step.pop("post", None)
                step.pop("error", None)
                step.pop("payouts", None)
                step.update(result)
        path.write_text(json.dumps(vector, indent=2) + "\n")
        print(f"wrote {path.name}")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_expected()
