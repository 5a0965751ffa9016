"""Client of a lender's advances desk (``contracts/credit/Advances.vy``) on L1.

One method per call of the specification (``core/credit/advances``);
:meth:`AdvancesClient.facts` reads what the ChannelManager says of a channel in the
specification's terms, and :meth:`AdvancesClient.state` the desk's storage, so
that the same calls can be made to both and the states compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from eth_account.signers.local import LocalAccount

from l2gpu.core.channel.state import ChannelParams, ChannelStatus
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.credit.advances import (
    Advance,
    ChannelFacts,
    DeskState,
    Fund,
    Input,
    Release,
    RepayDebt,
    SetShare,
    SettleAdvance,
    TakeAdvance,
    Withdraw,
)
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.contracts.channel_params import as_tuple

CONTRACT_SOURCE = "credit/Advances.vy"


class AdvancesClient:
    """Typed access to one deployed advances desk and the ChannelManager it buys from."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address
        self.manager = ChannelManagerClient.at(chain, Address(contract.call("CHANNELS")))

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        deployer: LocalAccount,
        *,
        channels: Address,
        lender: Address,
        fee_bps: int,
        max_share_bps: int,
        cache_dir: Path | None = None,
    ) -> AdvancesClient:
        """Deploy a desk advancing on ``channels``' channels with ``lender``'s ether."""
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        contract = chain.deploy(compiled, channels, lender, fee_bps, max_share_bps,
                                sender=deployer)  # fmt: skip
        return cls(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: Address, cache_dir: Path | None = None) -> AdvancesClient:
        """The desk already deployed at ``address``."""
        if not chain.w3.eth.get_code(checksum(address)):
            raise L1Error(
                f"no contract at {address} on {chain.description}",
                "pass the address that 'l2gpu credit desk deploy' printed",
            )
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        return cls(chain, chain.attach(compiled, address))

    # -- reading ---------------------------------------------------------------------

    def lender(self) -> Address:
        """Who funds the desk and takes its returns."""
        return Address(self.contract.call("LENDER"))

    def terms(self) -> tuple[int, int]:
        """``(fee_bps, max_share_bps)``, fixed at deployment."""
        return int(self.contract.call("FEE_BPS")), int(self.contract.call("MAX_SHARE_BPS"))

    def advance_of(self, channel_id: Hash32) -> Advance | None:
        """The open advance on a channel, if any."""
        provider, advanced, owed = self.contract.call_fast("advance_of", channel_id)
        if Address(provider) == ZERO_ADDRESS:
            return None
        return Advance(Address(provider), int(advanced), int(owed))

    def facts(self, params: ChannelParams) -> ChannelFacts:
        """What the ChannelManager says of the channel, in the specification's terms."""
        deposit, best, expires_at, _, status = self.manager.contract.call_fast("channel", params.id)
        refund_to, payout_to, refund_owed, payout_owed = self.manager.contract.call_fast(
            "assignment", params.id
        )
        return ChannelFacts(int(deposit), int(best), int(expires_at), ChannelStatus(status),
                            Address(payout_to), int(payout_owed), Address(refund_to),
                            int(refund_owed))  # fmt: skip

    def state(self, accounts: Iterable[Address], channel_ids: Iterable[Hash32]) -> DeskState:
        """The desk's storage as the specification's state, with the shares and debts
        of ``accounts`` (zero ones left out) and the open advances among
        ``channel_ids``."""
        fee_bps, max_share_bps = self.terms()
        accounts = list(accounts)
        shares = {who: int(self.contract.call_fast("share_bps", who)) for who in accounts}
        debts = {who: int(self.contract.call_fast("provider_debt", who)) for who in accounts}
        advances = {cid: a for cid in channel_ids if (a := self.advance_of(cid)) is not None}
        return DeskState(
            desk=self.address,
            lender=self.lender(),
            fee_bps=fee_bps,
            max_share_bps=max_share_bps,
            cash=int(self.contract.call_fast("cash")),
            outstanding=int(self.contract.call_fast("outstanding")),
            losses=int(self.contract.call_fast("losses")),
            shares={who: bps for who, bps in shares.items() if bps},
            advances=advances,
            provider_debt={who: debt for who, debt in debts.items() if debt},
        )

    # -- writing ---------------------------------------------------------------------

    def fund(self, sender: LocalAccount, amount: int) -> Receipt:
        """The lender adds ``amount`` wei."""
        return self.contract.transact("fund", sender=sender, value=amount)

    def withdraw(self, sender: LocalAccount, amount: int) -> Receipt:
        """The lender takes ``amount`` wei of the cash."""
        return self.contract.transact("withdraw", amount, sender=sender)

    def set_share(self, sender: LocalAccount, renter: Address, bps: int) -> Receipt:
        """The lender advances ``bps`` of the remaining value of ``renter``'s leases."""
        return self.contract.transact("set_share", renter, bps, sender=sender)

    def assign_payout(self, sender: LocalAccount, params: ChannelParams) -> Receipt:
        """As the provider: assign the channel's payout to this desk (before an advance)."""
        return self.manager.contract.transact(
            "assign_payout", as_tuple(params), self.address, sender=sender
        )

    def advance(
        self, sender: LocalAccount, params: ChannelParams, voucher: Voucher | None
    ) -> Receipt:
        """As the provider: take an advance on ``voucher`` (None: on the best proven)."""
        amount, signature = (voucher.amount, voucher.signature) if voucher else (0, b"")
        return self.contract.transact("advance", as_tuple(params), amount, signature,
                                      sender=sender)  # fmt: skip

    def settle(self, sender: LocalAccount, params: ChannelParams) -> Receipt:
        """Anyone: collect a settled channel's payout for the lender, the rest to the
        provider."""
        return self.contract.transact("settle", as_tuple(params), sender=sender)

    def repay(self, sender: LocalAccount, provider: Address, amount: int) -> Receipt:
        """Pay ``amount`` wei towards ``provider``'s debt to the desk (the excess returns)."""
        return self.contract.transact("repay", provider, sender=sender, value=amount)

    def release(self, sender: LocalAccount, params: ChannelParams) -> Receipt:
        """As the provider: take back a payout assigned here without an advance."""
        return self.contract.transact("release", as_tuple(params), sender=sender)

    def apply(self, input_: Input, sender: LocalAccount, voucher: Voucher | None = None) -> Receipt:
        """Carry out a specification call as the matching contract call from ``sender``
        (an advance proves ``voucher`` first, when given)."""
        match input_:
            case Fund():
                return self.fund(sender, input_.amount)
            case Withdraw():
                return self.withdraw(sender, input_.amount)
            case SetShare():
                return self.set_share(sender, input_.renter, input_.bps)
            case TakeAdvance():
                return self.advance(sender, input_.params, voucher)
            case SettleAdvance():
                return self.settle(sender, input_.params)
            case Release():
                return self.release(sender, input_.params)
            case RepayDebt():
                return self.repay(sender, input_.provider, input_.amount)
        raise L1Error(f"no contract call for {type(input_).__name__}")
