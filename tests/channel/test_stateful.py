"""Stateful fuzzing: random channel histories run on the spec and the contract at once.

Invariants after every step:
- the spec and the contract agree on every channel and on every rejection reason;
- funds are conserved: the manager holds exactly the deposits of live channels, and
  every settled channel paid out exactly its deposit;
- with an honest provider and an online watcher, a provider receives exactly its best
  signed voucher capped at the deposit (never more, never less), unless both parties
  agreed otherwise in a cooperative close;
- a voucher never validates on another channel, chain or contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from l2gpu.core.channel import (
    ChannelError,
    ChannelParams,
    ChannelStatus,
    ManagerState,
    state_transition,
)
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.events import ChannelSettled
from l2gpu.core.channel.vouchers import channel_domain, sign_cooperative_close, sign_voucher
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.embedded import start_embedded_chain

from .runner import key

RENTER, PROVIDER, WATCHER = key("renter"), key("provider"), key("watcher")
PERIOD = 50
SALTS = st.integers(0, 3)


@dataclass
class Ledger:
    """What the model remembers about one channel beyond the spec state."""

    deposited: int = 0
    best_signed: int = 0
    cooperative: bool = False
    provider_paid: int | None = None
    renter_paid: int | None = None
    best_signed_at_settle: int = 0


class ChannelDifferential(RuleBasedStateMachine):
    """Drives the spec and the contract with the same inputs."""

    @initialize()
    def deploy(self) -> None:
        self.chain = start_embedded_chain()
        self.manager = ChannelManagerClient.deploy(self.chain, self.chain.accounts[0])
        self.accounts = {
            RENTER.address: self.chain.accounts[1],
            PROVIDER.address: self.chain.accounts[2],
            WATCHER.address: self.chain.accounts[4],
        }
        self.spec = ManagerState(self.manager.chain_id, self.manager.address)
        self.now = int(self.chain.timestamp()) + 10
        self.ledgers: dict[int, Ledger] = {}

    # -- helpers -----------------------------------------------------------------

    def params(self, salt: int) -> ChannelParams:
        return ChannelParams(
            RENTER.address, PROVIDER.address, challenge_period=Seconds(PERIOD),
            salt=salt.to_bytes(32, "big"),
        )  # fmt: skip

    def ledger(self, salt: int) -> Ledger:
        return self.ledgers.setdefault(salt, Ledger())

    def step(self, make) -> list:
        """Apply one input (built for the current time) to both; compare outcomes."""
        self.watch_deadlines(within=3)
        self.now += 1
        inp = make(Timestamp(self.now))
        try:
            self.spec, events = state_transition(self.spec, inp)
            spec_error = None
        except ChannelError as exc:
            events, spec_error = [], exc.reason
        self.chain.set_next_block_timestamp(self.now)
        try:
            self.manager.apply(inp, self.accounts[inp.sender])
            contract_error = None
        except ContractRevert as exc:
            contract_error = exc.reason
        assert contract_error == spec_error
        self.compare(inp.params)
        for event in events:
            if isinstance(event, ChannelSettled):
                salt = int.from_bytes(inp.params.salt, "big")
                ledger = self.ledger(salt)
                ledger.provider_paid = event.provider_payout
                ledger.renter_paid = event.renter_payout
                ledger.best_signed_at_settle = ledger.best_signed
        return events

    def compare(self, params: ChannelParams) -> None:
        assert self.manager.channel(params) == self.spec.get(params.id)

    def live(self, salt: int) -> bool:
        channel = self.spec.get(self.params(salt).id)
        return channel is not None and channel.status in (ChannelStatus.OPEN, ChannelStatus.CLOSING)

    # -- rules -----------------------------------------------------------------------

    @rule(salt=SALTS, deposit=st.integers(1, 10**6), lifetime=st.integers(1, 400))
    def open(self, salt: int, deposit: int, lifetime: int) -> None:
        params = self.params(salt)
        events = self.step(
            lambda now: ci.Open(RENTER.address, now, params, Wei(deposit),
                                Timestamp(now + lifetime), Wei(deposit))
        )  # fmt: skip
        if events:
            self.ledger(salt).deposited += deposit

    @rule(salt=SALTS, amount=st.integers(0, 10**5), extend=st.integers(0, 300))
    def top_up(self, salt: int, amount: int, extend: int) -> None:
        params = self.params(salt)
        channel = self.spec.get(params.id)
        expires = (channel.expires_at if channel else self.now) + extend
        events = self.step(
            lambda now: ci.TopUp(RENTER.address, now, params, Wei(amount), Timestamp(expires),
                                 Wei(amount))
        )  # fmt: skip
        if events:
            self.ledger(salt).deposited += amount

    @rule(salt=SALTS, increment=st.integers(1, 10**6))
    def renter_signs_more(self, salt: int, increment: int) -> None:
        # A renter pays for service as it is delivered; none is delivered in the last
        # seconds before a channel's deadline or after it, so no voucher is signed then.
        channel = self.spec.get(self.params(salt).id)
        if channel is not None and self.now + 3 >= channel.deadline():
            return
        self.ledger(salt).best_signed += increment

    @rule(salt=SALTS, submitter=st.sampled_from([PROVIDER, WATCHER]), stale=st.booleans())
    def submit_voucher(self, salt: int, submitter, stale: bool) -> None:
        params, best = self.params(salt), self.ledger(salt).best_signed
        amount = best // 2 if stale else best
        voucher = sign_voucher(RENTER, self.manager.domain, params.id, Wei(amount))
        self.step(
            lambda now: ci.SubmitVoucher(submitter.address, now, params, voucher.amount,
                                         voucher.signature)
        )  # fmt: skip

    @rule(salt=SALTS, fraction=st.floats(0, 1))
    def renter_closes_with_a_stale_amount(self, salt: int, fraction: float) -> None:
        params = self.params(salt)
        amount = int(self.ledger(salt).best_signed * fraction)
        self.step(lambda now: ci.CloseByRenter(RENTER.address, now, params, Wei(amount)))

    @rule(salt=SALTS)
    def provider_closes_with_best(self, salt: int) -> None:
        params, best = self.params(salt), self.ledger(salt).best_signed
        voucher = sign_voucher(RENTER, self.manager.domain, params.id, Wei(best))
        self.step(
            lambda now: ci.CloseByProvider(PROVIDER.address, now, params, voucher.amount,
                                           voucher.signature)
        )  # fmt: skip

    @rule(salt=SALTS, agreed=st.integers(0, 10**6))
    def cooperative_close(self, salt: int, agreed: int) -> None:
        params = self.params(salt)
        sigs = [sign_cooperative_close(k, self.manager.domain, params.id, Wei(agreed))
                for k in (RENTER, PROVIDER)]  # fmt: skip
        events = self.step(
            lambda now: ci.CooperativeClose(WATCHER.address, now, params, Wei(agreed), *sigs)
        )
        if events:
            self.ledger(salt).cooperative = True

    @rule(salt=SALTS)
    def settle(self, salt: int) -> None:
        params = self.params(salt)
        self.step(lambda now: ci.Settle(WATCHER.address, now, params))

    @rule(seconds=st.integers(1, 200))
    def time_passes_with_an_online_watcher(self, seconds: int) -> None:
        self.watch_deadlines(within=seconds + 1)
        self.now += seconds

    def watch_deadlines(self, within: int) -> None:
        """The online watcher: before a deadline comes within ``within`` seconds, it
        proves the best voucher the renter signed (once per model step)."""
        if getattr(self, "_watching", False) or not hasattr(self, "chain"):
            return
        self._watching = True
        try:
            for salt in range(4):
                channel = self.spec.get(self.params(salt).id)
                if (
                    channel is not None
                    and channel.status != ChannelStatus.SETTLED
                    and self.ledger(salt).best_signed > channel.best_amount
                    and self.now + within >= channel.deadline()
                    and self.now + 1 < channel.deadline()
                ):
                    self.submit_voucher(salt, WATCHER, stale=False)
        finally:
            self._watching = False

    @precondition(lambda self: any(self.live(s) for s in range(4)))
    @rule(salt=SALTS, where=st.sampled_from(["other_channel", "other_chain", "other_contract"]))
    def replayed_voucher_is_rejected(self, salt: int, where: str) -> None:
        params = self.params(salt)
        other = self.params((salt + 1) % 4)
        domain = self.manager.domain
        target = params.id
        if where == "other_channel":
            target = other.id
        elif where == "other_chain":
            domain = channel_domain(ChainId(self.manager.chain_id + 1), self.manager.address)
        else:
            domain = channel_domain(self.manager.chain_id, Address(b"\x22" * 20))
        amount = Wei(self.ledger(salt).best_signed + 1)
        voucher = sign_voucher(RENTER, domain, target, amount)
        before = self.spec.get(params.id)
        self.step(
            lambda now: ci.SubmitVoucher(PROVIDER.address, now, params, amount, voucher.signature)
        )
        after = self.spec.get(params.id)
        assert before is None or after.best_amount == before.best_amount

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def funds_are_conserved(self) -> None:
        if not hasattr(self, "chain"):
            return
        assert self.chain.balance(self.manager.address) == self.spec.total_locked(ZERO_ADDRESS)
        for salt, ledger in self.ledgers.items():
            channel = self.spec.get(self.params(salt).id)
            if channel is not None and channel.status == ChannelStatus.SETTLED:
                assert ledger.provider_paid + ledger.renter_paid == ledger.deposited

    @invariant()
    def an_honest_watched_provider_gets_its_best_voucher(self) -> None:
        for ledger in self.ledgers.values():
            if ledger.provider_paid is None or ledger.cooperative:
                continue
            assert ledger.provider_paid == min(ledger.best_signed_at_settle, ledger.deposited)


TestChannelDifferential = ChannelDifferential.TestCase
TestChannelDifferential.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
