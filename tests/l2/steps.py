"""Random L2 steps for differential tests of the one-step fraud verifier.

A :class:`StepWorld` holds a full L2 state and draws transactions of every type,
valid and invalid (unknown indices, overspends, forged vouchers, wrong senders,
expired channels, deposits with bad proofs of possession, forced withdrawals of
strangers). Each step yields what a fraud proof needs: the pre-state root parts,
the transaction, the block, the witness and the L1 account index; then the
transaction is applied to the full state by the specification.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.channel.vouchers import VirtualVoucherDomain, channel_domain, sign_voucher
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.proofs.step import NO_ACCOUNT, StepWitness
from l2gpu.core.l2.proofs.witness import l1_account_index, step_witness
from l2gpu.core.l2.state import L2State, RootParts
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseByProvider,
    CloseByRenter,
    CooperativeClose,
    Deposit,
    ForcedWithdraw,
    L2Tx,
    OpenChannel,
    SettleChannel,
    SubmitVoucher,
    TopUpChannel,
    Transfer,
    Withdraw,
)
from l2gpu.core.types import ZERO_ADDRESS, Hash32, Seconds, Timestamp, Wei

from .helpers import CHAIN, ROLLUP, T0

KINDS = ("deposit", "forced", "transfer", "withdraw", "open", "open", "open", "top_up",
         "cooperative_close", "close_by_renter", "submit_voucher", "submit_voucher",
         "close_by_provider", "settle")  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One step: inputs of the verifier, and what the specification did."""

    pre: RootParts
    tx: L2Tx
    block: BlockContext
    witness: StepWitness
    l1_index: int
    post_root: bytes | None
    fault: str | None


class StepWorld:
    """A full L2 state and a pool of users; ``step()`` draws and applies one transaction."""

    def __init__(self, seed: int, users: int = 6) -> None:
        self.rng = random.Random(seed)
        self.state = L2State(CHAIN, ROLLUP)
        self.keys = [PrivateKey((seed * 1000 + i + 7).to_bytes(32, "big")) for i in range(users)]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        self.now = T0
        self.queued = 0
        self.domain = channel_domain(CHAIN, ROLLUP)

    def _amount(self, limit: int) -> Wei:
        if self.rng.random() < 0.75:
            value = self.rng.randrange(1, max(2, limit // 2))
        else:
            value = self.rng.choice([0, 1, limit, limit + 1, 10**30])
        return Wei(amounts.round_down(max(0, value)))

    def _index(self, count: int) -> int:
        if count and self.rng.random() < 0.85:
            return self.rng.randrange(count)
        return self.rng.choice([count, (1 << 24) - 1, 0])

    def _user_index(self) -> int:
        return self._index(len(self.state.accounts))

    def draw(self) -> L2Tx:
        """A random transaction, often valid, sometimes not."""
        kind = self.rng.choice(KINDS) if self.state.accounts else "deposit"
        s = self.state
        if kind in ("deposit", "forced"):
            user = self.rng.randrange(len(self.keys))
            address = self.keys[user].address
            if kind == "forced":
                return ForcedWithdraw(self.queued, address, Wei(self.rng.randrange(1, 10**19)))
            bls = self.bls[user]
            proof = bls.prove_possession() if self.rng.random() < 0.85 else self.bls[0].sign(b"x")
            return Deposit(self.queued, address, Wei(self.rng.randrange(1, 10**19)),
                           bls.public_key, proof)  # fmt: skip
        sender = self._user_index()
        balance = s.accounts[sender].balance if sender < len(s.accounts) else 10**18
        if kind == "transfer":
            return Transfer(
                sender,
                self._user_index(),
                self._amount(balance),
                Wei(amounts.round_down(self.rng.randrange(0, 10**9), amounts.FEE)),
            )
        if kind == "withdraw":
            return Withdraw(sender, self._amount(balance), Wei(0))
        if kind == "open":
            return OpenChannel(sender, self._user_index(), self._amount(balance),
                               Timestamp(self.now + self.rng.choice([-5, 3600, 7200])),
                               Seconds(self.rng.choice([0, 30, 600, 600])),
                               self._virtual_terms())  # fmt: skip
        live_ones = [c.index for c in s.channels if c.live]
        if live_ones and self.rng.random() < 0.8:
            channel = self.rng.choice(live_ones)
        else:
            channel = self._index(len(s.channels))
        live = s.channel_at(channel)
        if live is not None and self.rng.random() < 0.8:
            # Usually the right party acts.
            sender = live.provider if kind == "close_by_provider" else live.renter
        deposit = live.channel.deposit if live is not None else 10**18
        if kind == "top_up":
            return TopUpChannel(sender, channel, self._amount(balance),
                                Timestamp(self.now + self.rng.choice([-5, 7200])))  # fmt: skip
        if kind == "cooperative_close":
            return CooperativeClose(sender, channel, self._amount(deposit))
        if kind == "close_by_renter":
            return CloseByRenter(sender, channel, self._amount(deposit))
        if kind == "settle":
            return SettleChannel(sender, channel)
        best = live.channel.best_amount if live is not None else 0
        choices = [1, best + 1, (best + deposit) // 2 + 1, deposit, deposit + 1, 2**128 - 1]
        amount = Wei(min(2**128 - 1, self.rng.choice(choices)))  # a voucher's 16 bytes
        signature = self._voucher(live, amount)
        if kind == "submit_voucher":
            return SubmitVoucher(sender, channel, amount, signature)
        return CloseByProvider(sender, channel, amount, signature)

    def _virtual_terms(self) -> VirtualTerms | None:
        """Often none; else one end of a virtual channel, its terms sometimes bad (a
        zero signer or id, a fee above a million parts per million)."""
        if self.rng.random() < 0.6:
            return None
        signer = self.rng.choice(self.keys).address
        virtual_id = Hash32(self.rng.randbytes(32))
        fee = self.rng.choice([0, 2_500, 2_500, 10**6, 10**6 + 1])
        roll = self.rng.random()
        if roll < 0.05:
            signer = ZERO_ADDRESS
        elif roll < 0.1:
            virtual_id = Hash32(bytes(32))
        return VirtualTerms(signer, virtual_id, fee)

    def _voucher(self, live: object, amount: Wei) -> bytes:
        if live is None or self.rng.random() < 0.15:
            return bytes(65) if self.rng.random() < 0.5 else b"\x01" * 65
        params = live.channel.params  # type: ignore[attr-defined]
        v = params.virtual
        signer = params.renter if v is None else v.signer
        key = next((k for k in self.keys if k.address == signer), self.keys[0])
        if self.rng.random() < 0.1:
            key = self.keys[-1]
        if v is not None and self.rng.random() < 0.9:
            return VirtualVoucherDomain(CHAIN, v.virtual_id).sign(key, params.id, amount).signature
        return sign_voucher(key, self.domain, params.id, amount).signature

    def step(self) -> Step:
        """Draw a transaction, record its witness, apply it to the full state."""
        self.now += self.rng.choice([0, 1, 5, 700])
        tx = self.draw()
        block = BlockContext(
            Timestamp(self.now), self.rng.choice([0] * 8 + [1, len(self.keys) + 3])
        )
        pre = self.state.parts()
        witness = step_witness(self.state, tx, block)
        l1_index = NO_ACCOUNT
        if isinstance(tx, Deposit | ForcedWithdraw):
            l1_index = l1_account_index(self.state, tx)
            self.queued += 1
        try:
            state_transition(self.state, tx, block)
        except L2Error as exc:
            return Step(pre, tx, block, witness, l1_index, None, exc.reason)
        return Step(pre, tx, block, witness, l1_index, self.state.root(), None)
