"""Leases paid with borrowed ether: ``l2gpu rent --credit POOL``.

A credit lease's channel is an ordinary channel on L1 (``channel-l1``): the
provider's agent checks it, the renter's vouchers pay it, the provider closes it,
all as on :class:`~l2gpu.payments.rails.L1ChannelRail`. Only the opening differs:
the renter borrows the deposit from a lending pool, which opens the channel with
it (``LendingPool.borrow_for_lease``) and so holds the channel's refund. Once the
channel settles, ``settle_lease`` (the renter's ``rent`` calls it, anyone may)
collects the refund and repays the loan with it first.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel import ChannelParams, ChannelStatus
from l2gpu.core.credit.rates import BPS, collateral_value
from l2gpu.core.designs import OpenedChannel
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.settlement import ChannelDescription, describe_channel
from l2gpu.core.types import Address, Timestamp, Wei, format_wei
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.payments.rails import CHALLENGE_PERIOD, L1ChannelRail


@dataclass
class CreditChannelRail(L1ChannelRail):
    """Channels on L1 whose deposit a lending pool lends (see the module)."""

    pool: LendingPoolClient | None = None

    def __post_init__(self) -> None:
        if self.pool is None:
            raise L2gpuError("a credit lease needs a lending pool", "pass --credit POOL_ADDRESS")
        funds = self.pool.channels()
        if funds != self.manager.address:
            raise L2gpuError(
                f"pool {self.pool.address} funds channels in ChannelManager {funds}, not in "
                f"{self.manager.address} where this lease's channel must live",
                "pass the --manager the pool was deployed with, or another --credit pool",
            )

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Borrow ``deposit`` into a new channel to ``provider`` (one L1 transaction)."""
        assert self.pool is not None  # __post_init__ refused a rail without one
        renter = Address(bytes.fromhex(self.account.address[2:]))
        # The pool funds the channel (ChannelManager.open_for): its address leads the salt.
        params = ChannelParams(renter, provider, challenge_period=CHALLENGE_PERIOD,
                               salt=bytes(self.pool.address) + self.salt()[:12])  # fmt: skip
        expires = Timestamp(self.manager.chain.timestamp() + lifetime)
        self._check_credit(renter, deposit)
        receipt = self.pool.borrow_for_lease(self.account, params, deposit, expires)
        description = describe_channel(
            params, deposit, self.manager.chain_id, self.manager.address, self.settlement
        )
        return OpenedChannel(params, deposit, description, receipt.gas_used, receipt.tx_bytes,
                             bytes(receipt.tx_hash))  # fmt: skip

    def _check_credit(self, renter: Address, deposit: Wei) -> None:
        """Refuse, before any transaction, a loan the pool would refuse for its size."""
        assert self.pool is not None
        state = self.pool.state([renter])
        position = state.positions.get(renter)
        value = collateral_value(position.collateral if position else 0, state.price)
        room = max(value * state.params.ltv_bps // BPS - state.debt(renter), 0)
        if deposit > room:
            raise L2gpuError(
                f"the lease's deposit is {format_wei(deposit)} and pool {self.pool.address} "
                f"lends you at most {format_wei(Wei(room))} more against your collateral",
                "post more collateral ('l2gpu credit collateral add'), rent for fewer hours, "
                "or pay without --credit",
            )
        if deposit > state.cash:
            raise L2gpuError(
                f"pool {self.pool.address} has {format_wei(Wei(state.cash))} to lend, less "
                f"than the lease's deposit of {format_wei(deposit)}",
                "rent for fewer hours, or use another pool",
            )

    def settle_loan(self, channel: ChannelDescription) -> str:
        """Once the channel has settled, collect its refund into the loan; say what
        happened, or what to run later."""
        assert self.pool is not None
        params = channel.params
        found = self.manager.channel(params)
        if found is None or found.status != ChannelStatus.SETTLED:
            return (
                f"when channel {params.id} settles, its refund repays your loan: run 'l2gpu "
                f"credit settle-lease {params.id} --pool {self.pool.address}' (anyone may)"
            )
        if self.pool.lease_borrower(params.id) != Address.from_hex(self.account.address):
            return f"the loan of channel {params.id} was settled already"
        receipt = self.pool.settle_lease(self.account, params)
        settled = receipt.event("LeaseSettled").args
        refund, repaid = int(settled["refund"]), int(settled["repaid"])
        debt = self.pool.debt_of(Address.from_hex(self.account.address))
        return (
            f"the channel's refund of {format_wei(Wei(refund))} repaid "
            f"{format_wei(Wei(repaid))} of your loan"
            + (
                f" and {format_wei(Wei(refund - repaid))} came back to you"
                if refund > repaid
                else ""
            )
            + f"; you owe pool {self.pool.address} {format_wei(Wei(debt))}"
        )
