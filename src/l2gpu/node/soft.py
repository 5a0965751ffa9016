"""Soft-confirmed channels: opened in the node's log, not yet sealed into a batch.

A renter's OpenChannel is acknowledged with a signed receipt as soon as it is in the
write-ahead log (:mod:`l2gpu.core.l2.receipts`). Its channel id is known then: the
state transition salts the id with the renter's nonce, which the envelope carries.
The node shows such a channel as ``pending`` until a seal includes it (then the
state shows it ``open``) or drops it (then it is gone, and the renter's deposit
was never locked). A provider may start serving a lease on a pending channel and
stops if it disappears: its exposure is the seconds until the next seal, well
inside its grace period.

Only an open the renter's balance covers is shown: the balance less what the
renter's earlier waiting transactions take from it (transfers, withdrawals, other
opens and top-ups), which run before it. Without that, an account with any deposit
could show channels of any size as pending, and a market that reads pending
channels would let it hold offers with opens that must fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.receipts import SequencerReceipt
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import OpenChannel, TopUpChannel, Transfer, UserTx, Withdraw
from l2gpu.core.market.channel_description import virtual_terms_json
from l2gpu.core.types import ZERO_ADDRESS, Hash32


@dataclass(frozen=True, slots=True)
class SoftChannel:
    """An OpenChannel in the log, with the channel it will open."""

    envelope: Envelope
    params: ChannelParams
    renter_index: int
    provider_index: int
    receipt: SequencerReceipt

    def to_json(self) -> dict[str, Any]:
        """The channel as the node's API shows a pending one (no index yet)."""
        tx = self.envelope.tx
        assert isinstance(tx, OpenChannel)
        return {
            "channel_id": str(self.params.id),
            "renter": self.params.renter.checksum,
            "provider": self.params.provider.checksum,
            "renter_index": self.renter_index,
            "provider_index": self.provider_index,
            "challenge_period": self.params.challenge_period,
            "salt": "0x" + self.params.salt.hex(),
            "deposit": str(tx.amount),
            "best_amount": "0",
            "provider_payout": "0",
            "expires_at": tx.expires_at,
            "close_deadline": 0,
            "status": "pending",
            "receipt": self.receipt.to_json(),
        } | ({"virtual": virtual_terms_json(self.params.virtual)} if self.params.virtual else {})


def predicted_params(state: L2State, envelope: Envelope) -> ChannelParams | None:
    """The channel ``envelope`` opens if it runs at its nonce; None if it is not an
    OpenChannel or names accounts the state does not have."""
    tx = envelope.tx
    if not isinstance(tx, OpenChannel):
        return None
    renter, provider = state.account(tx.sender), state.account(tx.provider)
    if renter is None or provider is None:
        return None
    return ChannelParams(renter.address, provider.address, ZERO_ADDRESS,
                         tx.challenge_period, envelope.nonce.to_bytes(32, "big"),
                         tx.virtual)  # fmt: skip


def debit(tx: UserTx) -> int:
    """What ``tx`` takes from its sender's L2 balance when it runs."""
    if isinstance(tx, Transfer | Withdraw):
        return int(tx.amount) + int(tx.fee)
    if isinstance(tx, OpenChannel | TopUpChannel):
        return int(tx.amount)
    return 0


class SoftChannels:
    """The pending channels of one node (the caller holds the node's lock)."""

    def __init__(self) -> None:
        self._by_id: dict[Hash32, SoftChannel] = {}

    def note(self, state: L2State, envelope: Envelope, receipt: SequencerReceipt,
             earlier: Callable[[], Iterable[Envelope]] = tuple) -> None:  # fmt: skip
        """Remember ``envelope``'s channel if it opens one that the renter's balance
        covers after ``earlier()`` (the transactions waiting before it; asked only for
        an OpenChannel)."""
        params = predicted_params(state, envelope)
        if params is None:
            return
        tx = envelope.tx
        assert isinstance(tx, OpenChannel)
        renter = state.account(tx.sender)
        owed = sum(debit(e.tx) for e in earlier() if e is not envelope and e.tx.sender == tx.sender)
        if renter is None or renter.balance < owed + int(tx.amount):
            return  # the open cannot succeed: it is never shown as pending
        self._by_id[params.id] = SoftChannel(envelope, params, tx.sender, tx.provider, receipt)

    def prune(self, state: L2State, waiting: Iterable[Envelope]) -> None:
        """After a seal: forget channels the state now has, and those whose envelope no
        longer waits (dropped)."""
        still = {id(e) for e in waiting}
        for cid, soft in list(self._by_id.items()):
            if state.channel(cid) is not None or id(soft.envelope) not in still:
                del self._by_id[cid]

    def get(self, cid: Hash32) -> SoftChannel | None:
        """The pending channel ``cid``, if there is one."""
        return self._by_id.get(cid)

    def of_renter(self, renter_index: int) -> list[SoftChannel]:
        """The pending channels an account pays from."""
        return [s for s in self._by_id.values() if s.renter_index == renter_index]

    def of_party(self, index: int, *, renter: bool, provider: bool) -> list[SoftChannel]:
        """The pending channels where account ``index`` is the renter or the provider
        (as the flags ask)."""
        return [s for s in self._by_id.values()
                if (renter and s.renter_index == index)
                or (provider and s.provider_index == index)]  # fmt: skip

    def __len__(self) -> int:
        return len(self._by_id)
