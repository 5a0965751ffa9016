"""Client of a GPU-hour forwards market (``contracts/credit/Forwards.vy``) on L1.

One method per call of the specification (``core/credit/forwards``), and
:meth:`ForwardsClient.apply` to make any specification input as its contract call;
:meth:`ForwardsClient.state` reads the contract's storage back as a
:class:`~l2gpu.core.credit.forwards.ForwardsState`, so that the same calls can be
made to both and the whole states compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from eth_account.signers.local import LocalAccount

from l2gpu.core.credit.forwards import (
    AddMargin,
    CancelOffer,
    Forward,
    ForwardParams,
    ForwardsState,
    Input,
    Liquidate,
    Offer,
    OpenOffer,
    PostIndex,
    Settle,
    Side,
    Take,
)
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum

CONTRACT_SOURCE = "credit/Forwards.vy"

# ForwardParams' fields after the expiry, in the constructor's order, each with the
# immutable that keeps it.
_PARAMS = (
    ("initial_margin_bps", "INITIAL_MARGIN_BPS"),
    ("maintenance_margin_bps", "MAINTENANCE_MARGIN_BPS"),
    ("liquidation_fee_bps", "LIQUIDATION_FEE_BPS"),
    ("max_price_age", "MAX_PRICE_AGE"),
    ("max_price_step_bps", "MAX_PRICE_STEP_BPS"),
)


class ForwardsClient:
    """Typed access to one deployed forwards market."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        deployer: LocalAccount,
        *,
        feed: Address,
        params: ForwardParams,
        cache_dir: Path | None = None,
    ) -> ForwardsClient:
        """Deploy a market expiring at ``params.expiry``, its index posted by ``feed``;
        return its client. The constructor refuses the parameters
        :meth:`ForwardParams.problems` names, and an expiry not in the future."""
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        values = [getattr(params, field) for field, _ in _PARAMS]
        contract = chain.deploy(compiled, feed, params.expiry, *values, sender=deployer)
        return cls(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: Address, cache_dir: Path | None = None) -> ForwardsClient:
        """The forwards market already deployed at ``address``."""
        if not chain.w3.eth.get_code(checksum(address)):
            raise L1Error(
                f"no contract at {address} on {chain.description}",
                "pass the address the market's deployment printed",
            )
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        return cls(chain, chain.attach(compiled, address))

    # -- reading ---------------------------------------------------------------------

    def params(self) -> ForwardParams:
        """What the market was deployed with."""
        fields = {field: int(self.contract.call(name)) for field, name in _PARAMS}
        return ForwardParams(expiry=int(self.contract.call("EXPIRY")), **fields)

    def feed(self) -> Address:
        """The index feed, the only sender of :meth:`post_index`."""
        return Address(self.contract.call("FEED"))

    def index(self) -> int:
        """The index in force, in wei per GPU-hour (0: none yet)."""
        return int(self.contract.call_fast("index"))

    def index_at(self) -> int:
        """When the index in force was posted (L1 time)."""
        return int(self.contract.call_fast("index_at"))

    def next_id(self) -> int:
        """The id the next offer gets."""
        return int(self.contract.call_fast("next_id"))

    def bad_debt(self) -> int:
        """What losers' margins have not covered, in wei, in all."""
        return int(self.contract.call_fast("bad_debt"))

    def offer(self, offer_id: int) -> Offer | None:
        """Open offer ``offer_id`` (None: none, or taken or cancelled)."""
        maker, maker_long, gpu_hours, price, margin = self.contract.call_fast("offers", offer_id)
        if maker == Address(bytes(20)):
            return None
        side: Side = "long" if maker_long else "short"
        return Offer(Address(maker), side, int(gpu_hours), int(price), int(margin))

    def forward(self, forward_id: int) -> Forward | None:
        """Forward ``forward_id`` (None: none, or settled)."""
        long, short, gpu_hours, price, long_margin, short_margin = self.contract.call_fast(
            "forwards", forward_id
        )
        if long == Address(bytes(20)):
            return None
        return Forward(
            Address(long),
            Address(short),
            int(gpu_hours),
            int(price),
            int(long_margin),
            int(short_margin),
        )

    def equity(self, forward_id: int, side: Side) -> int:
        """``side``'s margin plus its profit at the index in force (may be negative)."""
        return int(self.contract.call_fast("equity", forward_id, side == "long"))

    def maintenance(self, forward_id: int) -> int:
        """The equity each side must keep at the index in force."""
        return int(self.contract.call_fast("maintenance", forward_id))

    def credit(self, who: Address) -> int:
        """Wei owed to ``who`` because it refused a payout (to pull with
        :meth:`withdraw_credit`)."""
        return int(self.contract.call_fast("credit", who))

    def state(
        self,
        ids: Iterable[int] | None = None,
        *,
        params: ForwardParams | None = None,
        feed: Address | None = None,
    ) -> ForwardsState:
        """The contract's storage as the specification's state, with the offers and
        forwards among ``ids`` (all ids issued so far unless given). ``params`` and
        ``feed`` are read from the contract unless given (they never change)."""
        return read_state(
            self,
            ids,
            params=params if params is not None else self.params(),
            feed=feed if feed is not None else self.feed(),
        )

    # -- writing ---------------------------------------------------------------------

    def post_index(self, sender: LocalAccount, price: int) -> Receipt:
        """Post the index in wei per GPU-hour (the feed only; moved one step at most)."""
        return self.contract.transact("post_index", price, sender=sender)

    def open_offer(
        self, sender: LocalAccount, side: Side, gpu_hours: int, price: int, margin: int
    ) -> Receipt:
        """Offer to be ``side`` of ``gpu_hours`` at ``price`` wei per GPU-hour, with
        ``margin`` wei; the offer's id is :func:`offer_id` of the receipt."""
        return self.contract.transact(
            "open_offer", side == "long", gpu_hours, price, sender=sender, value=margin
        )

    def cancel_offer(self, sender: LocalAccount, offer_id: int) -> Receipt:
        """Withdraw the sender's open offer and its margin."""
        return self.contract.transact("cancel_offer", offer_id, sender=sender)

    def take(self, sender: LocalAccount, offer_id: int, margin: int) -> Receipt:
        """Take offer ``offer_id`` whole as the other side, with ``margin`` wei."""
        return self.contract.transact("take", offer_id, sender=sender, value=margin)

    def add_margin(self, sender: LocalAccount, forward_id: int, margin: int) -> Receipt:
        """Add ``margin`` wei to the sender's side of forward ``forward_id``."""
        return self.contract.transact("add_margin", forward_id, sender=sender, value=margin)

    def liquidate(self, sender: LocalAccount, forward_id: int) -> Receipt:
        """Settle a forward with a side below maintenance early, for the fee."""
        return self.contract.transact("liquidate", forward_id, sender=sender)

    def settle(self, sender: LocalAccount, forward_id: int) -> Receipt:
        """Settle a forward after expiry, on an index posted after it."""
        return self.contract.transact("settle", forward_id, sender=sender)

    def withdraw_credit(self, sender: LocalAccount) -> Receipt:
        """Pull the payouts the sender refused when they were pushed."""
        return self.contract.transact("withdraw_credit", sender=sender)

    def apply(self, input_: Input, sender: LocalAccount) -> Receipt:
        """Carry out a specification call as the matching contract call from ``sender``."""
        match input_:
            case PostIndex():
                return self.post_index(sender, input_.price)
            case OpenOffer():
                return self.open_offer(
                    sender, input_.side, input_.gpu_hours, input_.price, input_.margin
                )
            case CancelOffer():
                return self.cancel_offer(sender, input_.offer_id)
            case Take():
                return self.take(sender, input_.offer_id, input_.margin)
            case AddMargin():
                return self.add_margin(sender, input_.forward_id, input_.margin)
            case Liquidate():
                return self.liquidate(sender, input_.forward_id)
            case Settle():
                return self.settle(sender, input_.forward_id)
        raise L1Error(f"no contract call for {type(input_).__name__}")


def offer_id(receipt: Receipt) -> int:
    """The id of the offer an :meth:`ForwardsClient.open_offer` receipt opened."""
    return int(receipt.event("OfferOpened").args["offer_id"])


def read_state(
    client: ForwardsClient,
    ids: Iterable[int] | None,
    *,
    params: ForwardParams,
    feed: Address,
) -> ForwardsState:
    """``client``'s contract read as a :class:`ForwardsState` (see
    :meth:`ForwardsClient.state`): one call for the market, two per id."""
    index, index_at, next_id, bad_debt, settlement = (
        int(n) for n in client.contract.call_fast("market_state")
    )
    offers: dict[int, Offer] = {}
    forwards: dict[int, Forward] = {}
    for n in dict.fromkeys(ids if ids is not None else range(1, next_id)):
        offer = client.offer(n)
        if offer is not None:
            offers[n] = offer
        forward = client.forward(n)
        if forward is not None:
            forwards[n] = forward
    return ForwardsState(
        params,
        feed,
        index=index,
        index_at=index_at,
        next_id=next_id,
        offers=offers,
        forwards=forwards,
        bad_debt=bad_debt,
        settlement_index=settlement,
    )
