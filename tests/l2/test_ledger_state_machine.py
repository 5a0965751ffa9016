"""The L2 ledger under any sequence of deposits, transfers, withdrawals and channel
operations (a Hypothesis state machine over the pure state transition): every wei
deposited is on a balance, locked in a live channel, or in an exit; a refused
transaction changes nothing."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from l2gpu.core.channel import ChannelStatus
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseByRenter,
    CooperativeClose,
    OpenChannel,
    SettleChannel,
    Transfer,
    Withdraw,
)
from l2gpu.core.types import Seconds, Timestamp, Wei

from .helpers import T0, World

ACCOUNTS = 4
AMOUNTS = st.integers(0, 2 * 10**18).map(round_up)
WHO = st.integers(0, ACCOUNTS - 1)


class Ledger(RuleBasedStateMachine):
    """Four funded accounts; account 0 collects the fees."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World(n=ACCOUNTS)
        self.state = self.world.state
        self.now = T0
        self.deposited = sum(a.balance for a in self.state.accounts)
        self.refused = 0

    def _apply(self, tx: object) -> None:
        root = self.state.root()
        try:
            state_transition(self.state, tx, BlockContext(Timestamp(self.now), 0))  # type: ignore[arg-type]
        except L2Error:
            self.refused += 1
            assert self.state.root() == root  # refused: nothing changed

    # short steps, and jumps past a challenge period (3,600 s) or a channel's expiry
    @rule(seconds=st.integers(0, 100) | st.sampled_from([3601, 20_001]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(who=WHO, to=WHO, amount=AMOUNTS, fee=st.sampled_from([0, 10**12]))
    def transfer(self, who: int, to: int, amount: int, fee: int) -> None:
        self._apply(Transfer(who, to, Wei(amount), Wei(fee)))

    @rule(who=WHO, amount=AMOUNTS)
    def withdraw(self, who: int, amount: int) -> None:
        self._apply(Withdraw(who, Wei(amount), Wei(0)))

    @rule(who=WHO, to=WHO, amount=AMOUNTS, life=st.integers(0, 20_000))
    def open_channel(self, who: int, to: int, amount: int, life: int) -> None:
        self._apply(OpenChannel(who, to, Wei(amount), Timestamp(self.now + life), Seconds(3600)))

    @rule(data=st.data(), amount=AMOUNTS)
    def close_together(self, data: st.DataObject, amount: int) -> None:
        if self.state.channels:
            index = data.draw(st.integers(0, len(self.state.channels) - 1))
            sender = self.state.channels[index].provider
            self._apply(CooperativeClose(sender, index, Wei(amount)))

    @rule(data=st.data(), amount=AMOUNTS)
    def renter_starts_closing(self, data: st.DataObject, amount: int) -> None:
        if self.state.channels:
            index = data.draw(st.integers(0, len(self.state.channels) - 1))
            self._apply(CloseByRenter(self.state.channels[index].renter, index, Wei(amount)))

    @rule(data=st.data(), who=WHO)
    def anyone_settles(self, data: st.DataObject, who: int) -> None:
        if self.state.channels:
            index = data.draw(st.integers(0, len(self.state.channels) - 1))
            self._apply(SettleChannel(who, index))

    @invariant()
    def every_wei_is_somewhere(self) -> None:
        balances = sum(a.balance for a in self.state.accounts)
        locked = sum(c.channel.deposit for c in self.state.channels
                     if c.channel.status != ChannelStatus.SETTLED)  # fmt: skip
        exits = sum(e.amount for e in self.state.exits)
        assert balances + locked + exits == self.deposited

    @invariant()
    def no_balance_is_negative(self) -> None:
        assert all(a.balance >= 0 for a in self.state.accounts)


Ledger.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_the_ledger = Ledger.TestCase
