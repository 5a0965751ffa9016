"""Client of the ChannelManager contract on L1.

Translates the core's channel inputs into contract calls, reads channel state
back in the core's terms, and recovers a channel's parameters from its
``ChannelOpened`` log (the contract stores only their hash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.channel import Channel, ChannelParams, ChannelStatus
from l2gpu.core.channel.inputs import (
    AssignPayout,
    AssignRefund,
    ChannelInput,
    CloseByProvider,
    CloseByRenter,
    Collect,
    CooperativeClose,
    Open,
    OpenFor,
    Settle,
    SubmitVoucher,
    TopUp,
)
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Timestamp, Wei
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum
from l2gpu.l1.contracts.channel_params import as_tuple
from l2gpu.l1.logs import LogPoller

CONTRACT_SOURCE = "channels/ChannelManager.vy"
# TestToken's ABI includes all of ERC-20's, so it serves to talk to any ERC-20.
ERC20_ABI_SOURCE = "tokens/TestToken.vy"


class ChannelManagerClient:
    """Typed access to one deployed ChannelManager."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address
        self.chain_id = ChainId(chain.chain_id)

    @classmethod
    def deploy(
        cls, chain: Chain, sender: LocalAccount, cache_dir: Path | None = None
    ) -> ChannelManagerClient:
        """Deploy a new manager; return its client."""
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        return cls(chain, chain.deploy(compiled, sender=sender))

    @classmethod
    def at(
        cls, chain: Chain, address: Address, cache_dir: Path | None = None
    ) -> ChannelManagerClient:
        """The manager already deployed at ``address``."""
        if not chain.w3.eth.get_code(checksum(address)):
            raise L1Error(
                f"no contract at {address} on {chain.description}",
                "deploy one with 'l2gpu channel deploy' or pass the right --manager",
            )
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        return cls(chain, chain.attach(compiled, address))

    @property
    def domain(self) -> Eip712Domain:
        """The EIP-712 domain that this manager's vouchers are signed under."""
        return channel_domain(self.chain_id, self.address)

    # -- reading ---------------------------------------------------------------

    def channel(self, params: ChannelParams) -> Channel | None:
        """The channel's state as the core models it; None if never opened."""
        deposit, best, expires_at, deadline, status = self.contract.call("channel", params.id)
        if status == ChannelStatus.NONE:
            return None
        refund_to, payout_to, refund_owed, payout_owed = self.contract.call("assignment", params.id)
        return Channel(
            params=params,
            deposit=Wei(deposit),
            expires_at=Timestamp(expires_at),
            best_amount=Wei(best),
            close_deadline=Timestamp(deadline),
            status=ChannelStatus(status),
            refund_to=refund_to,
            payout_to=payout_to,
            refund_owed=Wei(refund_owed),
            payout_owed=Wei(payout_owed),
        )

    def params_of(self, cid: Hash32, from_block: int = 0) -> ChannelParams:
        """Recover a channel's parameters from its ChannelOpened log."""
        poller = LogPoller(self.chain, [self.contract], from_block=from_block)
        for event in poller.poll():
            if event.name == "ChannelOpened" and event.args["channel_id"] == cid:
                return params_from_event(event.args)
        raise L1Error(
            f"no channel {cid} was opened at manager {self.address}",
            "check the channel id and the --manager address",
        )

    def opened_by(self, renter: Address, from_block: int = 0) -> list[ChannelParams]:
        """The terms of every channel ``renter`` opened at this manager (its
        ChannelOpened logs from ``from_block`` on), oldest first."""
        poller = LogPoller(self.chain, [self.contract], from_block=from_block)
        opened = [params_from_event(e.args) for e in poller.poll() if e.name == "ChannelOpened"]
        return [params for params in opened if params.renter == renter]

    # -- writing ---------------------------------------------------------------

    def apply(self, inp: ChannelInput, sender: LocalAccount) -> Receipt:
        """Carry out a core input as the matching contract call from ``sender``."""
        params = as_tuple(inp.params)
        match inp:
            case Open():
                return self.contract.transact(
                    "open", params, inp.amount, inp.expires_at, sender=sender, value=inp.value
                )
            case OpenFor():
                return self.contract.transact(
                    "open_for", params, inp.amount, inp.expires_at, sender=sender, value=inp.value
                )
            case AssignRefund():
                return self.contract.transact("assign_refund", params, inp.to, sender=sender)
            case AssignPayout():
                return self.contract.transact("assign_payout", params, inp.to, sender=sender)
            case Collect():
                return self.contract.transact("collect", params, sender=sender)
            case TopUp():
                return self.contract.transact(
                    "top_up", params, inp.amount, inp.expires_at, sender=sender, value=inp.value
                )
            case SubmitVoucher():
                return self.contract.transact(
                    "submit_voucher", params, inp.amount, inp.signature, sender=sender
                )
            case CloseByRenter():
                return self.contract.transact("close_by_renter", params, inp.amount, sender=sender)
            case CloseByProvider():
                return self.contract.transact(
                    "close_by_provider", params, inp.amount, inp.signature, sender=sender
                )
            case CooperativeClose():
                return self.contract.transact(
                    "cooperative_close",
                    params,
                    inp.amount,
                    inp.renter_signature,
                    inp.provider_signature,
                    sender=sender,
                )
            case Settle():
                return self.contract.transact("settle", params, sender=sender)
        raise L1Error(f"no contract call for {type(inp).__name__}")

    def submit_voucher(
        self, params: ChannelParams, voucher: Voucher, sender: LocalAccount
    ) -> Receipt:
        """Prove ``voucher`` on chain (a watcher's or provider's answer to a stale close)."""
        return self.contract.transact(
            "submit_voucher", as_tuple(params), voucher.amount, voucher.signature, sender=sender
        )

    def approve(self, params: ChannelParams, amount: int, sender: LocalAccount) -> None:
        """For a token channel: let the manager pull ``amount`` from ``sender`` (before open
        or top-up). Nothing to do for ether."""
        if params.is_ether or amount == 0:
            return
        token = self.chain.attach(compile_contract(ERC20_ABI_SOURCE), params.token)
        token.transact("approve", self.address, amount, sender=sender)


def params_from_event(args: Any) -> ChannelParams:
    """ChannelParams from the arguments of a ChannelOpened log."""
    return ChannelParams(
        renter=args["renter"],
        provider=args["provider"],
        token=args["token"],
        challenge_period=Seconds(args["challenge_period"]),
        salt=bytes(args["salt"]),
    )
