"""A lease's payment channel in the zk ledger: OPEN, CLOSE and RECLAIM, the executable
spec that ``circuits/channel.circom`` matches.

A renter pays a provider every second with a signed voucher off chain; the ledger
sees only the channel's open and its end. A channel is a leaf in the channels' half
of the state tree (``state.Channel``, from ``ZkState.channel_base`` up), named for
ever by ``(renter, open_nonce)``: the renter's account index and the nonce its open
used, which no other operation of that account can use again.

**OPEN**, signed by the renter::

    Poseidon([OPEN_TAG, renter, provider, deposit, expiry, nonce])

moves ``deposit`` from the renter's balance into a new channel leaf at
``channel_index``, which the sequencer picks among the empty channel slots (the
signature does not cover it: where the leaf lies is bookkeeping; what the renter
agreed to is who, how much and until when). Rules, in order, each a
:class:`ZkError` whose reason names it:

1. ``channel_index`` lies in the channels' half (``zk: not a channel index``),
   ``renter`` and ``provider`` are account indices, not 0 (``zk: index out of range``,
   ``zk: index 0 is not an account``); deposit below 2^128 (``zk: amount out of
   range``), expiry and nonce below 2^32 (``zk: expiry out of range``, ``zk: nonce out
   of range``);
2. the deposit is not zero (``zk: zero amount``) and the expiry is after the batch's
   timestamp (``zk: channel already expired``);
3. the renter's slot holds an account that signed with its nonce (``zk: unknown
   sender``, ``zk: bad signature``, ``zk: wrong nonce``), holding the deposit
   (``zk: insufficient balance``), whose nonce can grow (``zk: nonce overflow``);
4. the channel's slot is empty (``zk: channel slot taken``).

Updates: the renter's leaf (``balance -= deposit; nonce += 1``), then the channel's
(``0 -> Channel(renter, nonce, provider, deposit, expiry)``). The provider's account
is not read: a channel to an index that holds no account can only be reclaimed.

**CLOSE** pays ``amount`` (cumulative, the renter's best voucher) to the provider and
the rest of the deposit back to the renter, and empties the leaf. It carries two
signatures over the channel's name and the amount: the renter's voucher::

    Poseidon([VOUCHER_TAG, renter, open_nonce, amount])

(what the renter signs every second), and the provider's close::

    Poseidon([CLOSE_TAG, renter, open_nonce, amount])

The provider's signature is what stops a renter from closing with an old, smaller
voucher; the renter's is what stops a provider from taking more than it was paid
for. A cooperative close before the lease's end is the same operation: the renter
signs a voucher for what the lease used, the provider closes with it. Rules:

1. the channel's slot holds a channel (``zk: unknown channel``), ``amount <=
   deposit`` (``zk: amount above the deposit``);
2. the renter's account signed the voucher (``zk: bad voucher signature``) and the
   provider's account signed the close (``zk: unknown provider``, ``zk: bad close
   signature``);
3. balances stay below 2^128 (``zk: balance overflow``).

Updates: the channel's leaf (``-> 0``), then the provider's (``+= amount``), then the
renter's (``+= deposit - amount``), each read after the one before (a channel to
oneself is well defined). No nonce moves: the channel's name cannot come back, since
its open nonce is used.

**RECLAIM** returns a channel's whole deposit to its renter once the batch's
timestamp has reached the channel's expiry (``zk: channel not expired``). Nobody
signs it: the money can go only to the renter, so the sequencer includes it for
any expired channel, and a provider must close before the expiry. Updates: the
channel's leaf (``-> 0``), then the renter's (``+= deposit``).

None of the three carries a fee: the operator's fees come from transfers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.zk.pubdata import CloseSlot, OpenSlot, ReclaimSlot
from l2gpu.core.zk.state import (
    MAX_BALANCE,
    MAX_EXPIRY,
    MAX_NONCE,
    Account,
    Channel,
    ZkError,
    ZkState,
    require,
    signed_by_account,
)

OPEN_TAG = 3
VOUCHER_TAG = 4
CLOSE_TAG = 5


@dataclass(frozen=True, slots=True)
class OpenChannelTx:
    """A renter's open, as signed (unchecked integers); ``channel_index`` is where the
    sequencer puts the leaf."""

    channel_index: int
    renter: int
    provider: int
    deposit: int
    expiry: int
    nonce: int

    @property
    def slot(self) -> OpenSlot:
        """The open as the batch's public data carries it."""
        return OpenSlot(self.channel_index, self.renter, self.provider, self.deposit,
                        self.expiry)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CloseChannelTx:
    """A close: ``amount`` to the provider, with the renter's voucher signature and the
    provider's close signature over it."""

    channel_index: int
    amount: int
    voucher: eddsa.Signature
    provider_signature: eddsa.Signature

    @property
    def slot(self) -> CloseSlot:
        """The close as the batch's public data carries it."""
        return CloseSlot(self.channel_index, self.amount)


@dataclass(frozen=True, slots=True)
class ReclaimTx:
    """An expired channel's deposit back to its renter (nobody signs it)."""

    channel_index: int

    @property
    def slot(self) -> ReclaimSlot:
        """The reclaim as the batch's public data carries it."""
        return ReclaimSlot(self.channel_index)


@dataclass(frozen=True, slots=True)
class ChannelSteps:
    """The states a channel operation passes through, one per leaf it updates (the
    circuit's intermediate roots): ``states[0]`` before, ``states[-1]`` after."""

    states: tuple[ZkState, ...]
    channel: Channel

    @property
    def after(self) -> ZkState:
        """The state after the operation."""
        return self.states[-1]


def open_message(renter: int, provider: int, deposit: int, expiry: int, nonce: int) -> int:
    """The field element a renter signs to open a channel. Raises :class:`ZkError` for
    fields out of range."""
    require(0 <= deposit <= MAX_BALANCE, "zk: amount out of range", "a deposit is below 2^128")
    require(0 <= expiry <= MAX_EXPIRY, "zk: expiry out of range", "an expiry is below 2^32")
    require(0 <= nonce <= MAX_NONCE, "zk: nonce out of range", "a nonce is below 2^32")
    for name, index in (("renter", renter), ("provider", provider)):
        require(0 <= index < 2**24, "zk: index out of range", f"{name} must be an account index")
    return poseidon.hash([OPEN_TAG, renter, provider, deposit, expiry, nonce])


def voucher_message(renter: int, open_nonce: int, amount: int) -> int:
    """The field element a renter signs to pay ``amount`` in all on its channel
    ``(renter, open_nonce)``."""
    _require_name(renter, open_nonce, amount)
    return poseidon.hash([VOUCHER_TAG, renter, open_nonce, amount])


def close_message(renter: int, open_nonce: int, amount: int) -> int:
    """The field element a provider signs to close channel ``(renter, open_nonce)``
    with ``amount`` to itself."""
    _require_name(renter, open_nonce, amount)
    return poseidon.hash([CLOSE_TAG, renter, open_nonce, amount])


def sign_open(private_key: bytes, tx: OpenChannelTx) -> eddsa.Signature:
    """The renter's signature of ``tx``."""
    return eddsa.sign(private_key, open_message(tx.renter, tx.provider, tx.deposit, tx.expiry,
                                                tx.nonce))  # fmt: skip


def sign_voucher(private_key: bytes, renter: int, open_nonce: int, amount: int) -> eddsa.Signature:
    """The renter's voucher: ``amount`` paid in all on channel ``(renter, open_nonce)``."""
    return eddsa.sign(private_key, voucher_message(renter, open_nonce, amount))


def sign_close(private_key: bytes, renter: int, open_nonce: int, amount: int) -> eddsa.Signature:
    """The provider's consent to close channel ``(renter, open_nonce)`` at ``amount``."""
    return eddsa.sign(private_key, close_message(renter, open_nonce, amount))


def open_steps(
    state: ZkState, tx: OpenChannelTx, signature: eddsa.Signature, timestamp: int
) -> ChannelSteps:
    """Check every rule of OPEN and make both updates (renter, then channel)."""
    require(
        state.is_channel_index(tx.channel_index),
        "zk: not a channel index",
        f"channels lie at [{state.channel_base}, {state.capacity})",
    )
    for name, index in (("renter", tx.renter), ("provider", tx.provider)):
        require(
            0 <= index < state.channel_base,
            "zk: index out of range",
            f"{name} must be an account index in [1, {state.channel_base})",
        )
        require(index != 0, "zk: index 0 is not an account", "index 0 marks a no-op slot")
    digest = open_message(tx.renter, tx.provider, tx.deposit, tx.expiry, tx.nonce)
    require(tx.deposit > 0, "zk: zero amount", "a channel holds at least 1 wei")
    require(
        tx.expiry > timestamp,
        "zk: channel already expired",
        f"the expiry {tx.expiry} is not after the batch's time {timestamp}",
    )
    renter = signed_by_account(state, tx.renter, digest, signature, tx.nonce, "open")
    require(
        tx.deposit <= renter.balance,
        "zk: insufficient balance",
        f"the deposit is {tx.deposit}, the balance {renter.balance}",
    )
    require(renter.nonce < MAX_NONCE, "zk: nonce overflow", "the account's nonces are used up")
    require(
        state.leaf(tx.channel_index) == 0,
        "zk: channel slot taken",
        f"slot {tx.channel_index} holds a channel: open in an empty one",
    )
    paid = replace(renter, balance=renter.balance - tx.deposit, nonce=renter.nonce + 1)
    middle = state.with_account(tx.renter, paid)
    channel = Channel(tx.renter, tx.nonce, tx.provider, tx.deposit, tx.expiry)
    return ChannelSteps((state, middle, middle.with_channel(tx.channel_index, channel)), channel)


def close_steps(state: ZkState, tx: CloseChannelTx) -> ChannelSteps:
    """Check every rule of CLOSE and make the three updates (channel, provider, renter)."""
    channel = _channel_at(state, tx.channel_index)
    require(
        0 <= tx.amount <= channel.deposit,
        "zk: amount above the deposit",
        f"the channel holds {channel.deposit}, the close pays {tx.amount}",
    )
    renter = state.account(channel.renter)
    require(
        renter is not None
        and eddsa.verify(
            voucher_message(channel.renter, channel.open_nonce, tx.amount),
            tx.voucher,
            renter.public_key,
        ),
        "zk: bad voucher signature",
        f"the renter (account {channel.renter}) must sign a voucher for {tx.amount}",
    )
    provider = state.account(channel.provider)
    require(provider is not None, "zk: unknown provider", f"slot {channel.provider} is empty")
    assert provider is not None
    require(
        eddsa.verify(
            close_message(channel.renter, channel.open_nonce, tx.amount),
            tx.provider_signature,
            provider.public_key,
        ),
        "zk: bad close signature",
        f"the provider (account {channel.provider}) must sign the close",
    )
    emptied = state.without_leaf(tx.channel_index)
    paid = _credit(emptied, channel.provider, tx.amount)
    refunded = _credit(paid, channel.renter, channel.deposit - tx.amount)
    return ChannelSteps((state, emptied, paid, refunded), channel)


def reclaim_steps(state: ZkState, tx: ReclaimTx, timestamp: int) -> ChannelSteps:
    """Check every rule of RECLAIM and make both updates (channel, renter)."""
    channel = _channel_at(state, tx.channel_index)
    require(
        timestamp >= channel.expiry,
        "zk: channel not expired",
        f"the channel expires at {channel.expiry}, the batch's time is {timestamp}",
    )
    emptied = state.without_leaf(tx.channel_index)
    require(state.account(channel.renter) is not None, "zk: unknown sender",
            f"slot {channel.renter} is empty")  # fmt: skip
    return ChannelSteps((state, emptied, _credit(emptied, channel.renter, channel.deposit)),
                        channel)  # fmt: skip


def _channel_at(state: ZkState, index: int) -> Channel:
    require(
        state.is_channel_index(index),
        "zk: not a channel index",
        f"channels lie at [{state.channel_base}, {state.capacity})",
    )
    channel = state.channel(index)
    require(channel is not None, "zk: unknown channel", f"slot {index} holds no channel")
    assert channel is not None
    return channel


def _credit(state: ZkState, index: int, amount: int) -> ZkState:
    account: Account | None = state.account(index)
    if account is None:
        raise ZkError("zk: unknown recipient", f"slot {index} is empty")
    require(
        account.balance + amount <= MAX_BALANCE,
        "zk: balance overflow",
        f"account {index} would hold 2^128 wei or more",
    )
    return state.with_account(index, replace(account, balance=account.balance + amount))


def _require_name(renter: int, open_nonce: int, amount: int) -> None:
    require(0 <= renter < 2**24, "zk: index out of range", "renter must be an account index")
    require(0 <= open_nonce <= MAX_NONCE, "zk: nonce out of range", "a nonce is below 2^32")
    require(0 <= amount <= MAX_BALANCE, "zk: amount out of range", "an amount is below 2^128")
