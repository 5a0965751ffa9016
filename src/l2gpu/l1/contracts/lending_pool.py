"""Client of the lending pool (``contracts/credit/LendingPool.vy``) on L1.

One method per call of the specification (``core/credit/pool``), and
:meth:`LendingPoolClient.apply` to make any specification input as its contract
call; :meth:`LendingPoolClient.state` reads the contract's storage back as a
:class:`~l2gpu.core.credit.pool.PoolState`, so that the same calls can be made to
both and the whole states compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from eth_account.signers.local import LocalAccount

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.credit.pool import (
    AddCollateral,
    Borrow,
    BorrowForLease,
    CollectReserves,
    Input,
    Liquidate,
    PoolState,
    Position,
    RemoveCollateral,
    Repay,
    SetPrice,
    SettleLease,
    Supply,
    Withdraw,
)
from l2gpu.core.credit.rates import PoolParams
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum
from l2gpu.l1.contracts.channel_params import as_tuple

CONTRACT_SOURCE = "credit/LendingPool.vy"

# PoolParams' fields in the constructor's order, each with the immutable that keeps it.
_PARAMS = (
    ("ltv_bps", "LTV_BPS"),
    ("liquidation_threshold_bps", "LIQUIDATION_THRESHOLD_BPS"),
    ("liquidation_bonus_bps", "LIQUIDATION_BONUS_BPS"),
    ("close_factor_bps", "CLOSE_FACTOR_BPS"),
    ("reserve_factor_bps", "RESERVE_FACTOR_BPS"),
    ("base_rate", "BASE_RATE"),
    ("slope_low", "SLOPE_LOW"),
    ("slope_high", "SLOPE_HIGH"),
    ("kink_bps", "KINK_BPS"),
    ("max_price_age", "MAX_PRICE_AGE"),
    ("max_price_step_bps", "MAX_PRICE_STEP_BPS"),
    ("max_term", "MAX_TERM"),
)


class LendingPoolClient:
    """Typed access to one deployed LendingPool."""

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
        token: Address,
        oracle: Address,
        treasury: Address,
        params: PoolParams,
        channels: Address = ZERO_ADDRESS,
        cache_dir: Path | None = None,
    ) -> LendingPoolClient:
        """Deploy a pool lending ether against ``token``, priced by ``oracle``, its
        reserves collected by ``treasury``, funding credit leases' channels in the
        ChannelManager ``channels`` (zero: no credit leases); return its client. The
        constructor refuses the parameters :meth:`PoolParams.problems` names."""
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        values = [getattr(params, field) for field, _ in _PARAMS]
        contract = chain.deploy(
            compiled, token, oracle, treasury, *values, channels, sender=deployer
        )
        return cls(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: Address, cache_dir: Path | None = None) -> LendingPoolClient:
        """The LendingPool already deployed at ``address``."""
        if not chain.w3.eth.get_code(checksum(address)):
            raise L1Error(
                f"no contract at {address} on {chain.description}",
                "pass the address the pool's deployment printed",
            )
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        return cls(chain, chain.attach(compiled, address))

    # -- reading ---------------------------------------------------------------------

    def params(self) -> PoolParams:
        """What the pool was deployed with."""
        return PoolParams(**{field: int(self.contract.call(name)) for field, name in _PARAMS})

    def token(self) -> Address:
        """The collateral token."""
        return Address(self.contract.call("COLLATERAL"))

    def oracle(self) -> Address:
        """The price feed, the only sender of :meth:`set_price`."""
        return Address(self.contract.call("ORACLE"))

    def treasury(self) -> Address:
        """Where the reserves go, the only sender of :meth:`collect_reserves`."""
        return Address(self.contract.call("TREASURY"))

    def channels(self) -> Address:
        """The ChannelManager of this pool's credit leases (zero: it funds none)."""
        return Address(self.contract.call("CHANNELS"))

    def lease_borrower(self, channel_id: Hash32) -> Address:
        """The renter whose loan funds channel ``channel_id`` (zero: none, or settled)."""
        return Address(self.contract.call_fast("lease_borrower", channel_id))

    def position(self, who: Address) -> Position:
        """``who``'s collateral, scaled debt and due time (0: no loan)."""
        collateral, scaled_debt, due = self.contract.call_fast("positions", who)
        return Position(int(collateral), int(scaled_debt), int(due))

    def shares(self, who: Address) -> int:
        """``who``'s shares of the pool."""
        return int(self.contract.call_fast("shares", who))

    def credit(self, who: Address) -> int:
        """Wei owed to ``who`` because it refused a payout (to pull with
        :meth:`withdraw_credit`)."""
        return int(self.contract.call_fast("credit", who))

    def debt_of(self, who: Address) -> int:
        """What ``who`` owes at the latest block's time, interest included."""
        return int(self.contract.call_fast("debt_of", who))

    def health_factor(self, who: Address) -> int:
        """``who``'s health factor (WAD; below 10**18: liquidatable)."""
        return int(self.contract.call_fast("health_factor", who))

    def state(
        self,
        addresses: Iterable[Address],
        *,
        params: PoolParams | None = None,
        oracle: Address | None = None,
        treasury: Address | None = None,
        channels: Address | None = None,
        lease_ids: Iterable[Hash32] = (),
    ) -> PoolState:
        """The contract's storage as the specification's state, with the shares and
        positions of ``addresses`` (those without either left out, as a state that
        never saw them) and the unsettled credit leases among ``lease_ids``.
        ``params``, ``oracle``, ``treasury`` and ``channels`` are read from the
        contract unless given (they never change)."""
        state = read_state(
            self,
            addresses,
            params=params if params is not None else self.params(),
            oracle=oracle if oracle is not None else self.oracle(),
            treasury=treasury if treasury is not None else self.treasury(),
        )
        leases = {cid: self.lease_borrower(cid) for cid in dict.fromkeys(lease_ids)}
        return replace(
            state,
            channels=channels if channels is not None else self.channels(),
            leases={cid: who for cid, who in leases.items() if who != ZERO_ADDRESS},
        )

    # -- writing ---------------------------------------------------------------------

    def supply(self, sender: LocalAccount, amount: int) -> Receipt:
        """Deposit ``amount`` wei for shares."""
        return self.contract.transact("supply", sender=sender, value=amount)

    def withdraw(self, sender: LocalAccount, amount: int) -> Receipt:
        """Take ``amount`` wei out, burning shares worth it (rounded up)."""
        return self.contract.transact("withdraw", amount, sender=sender)

    def add_collateral(self, sender: LocalAccount, amount: int) -> Receipt:
        """Post ``amount`` of the collateral token (the sender approves the pool first)."""
        return self.contract.transact("add_collateral", amount, sender=sender)

    def remove_collateral(self, sender: LocalAccount, amount: int) -> Receipt:
        """Take back ``amount`` of the sender's collateral."""
        return self.contract.transact("remove_collateral", amount, sender=sender)

    def borrow(self, sender: LocalAccount, amount: int) -> Receipt:
        """Borrow ``amount`` wei against the sender's collateral."""
        return self.contract.transact("borrow", amount, sender=sender)

    def repay(self, sender: LocalAccount, borrower: Address, amount: int) -> Receipt:
        """Pay ``amount`` wei towards ``borrower``'s debt (the excess returns)."""
        return self.contract.transact("repay", borrower, sender=sender, value=amount)

    def borrow_for_lease(
        self, sender: LocalAccount, params: ChannelParams, amount: int, expires_at: int
    ) -> Receipt:
        """Borrow ``amount`` wei into a new channel of ``params`` (the sender is its
        renter) that the pool opens with its refund assigned to the pool."""
        return self.contract.transact(
            "borrow_for_lease", as_tuple(params), amount, expires_at, sender=sender
        )

    def settle_lease(self, sender: LocalAccount, params: ChannelParams) -> Receipt:
        """Collect a settled credit lease's refund: it repays the renter's debt first."""
        return self.contract.transact("settle_lease", as_tuple(params), sender=sender)

    def liquidate(self, sender: LocalAccount, borrower: Address, amount: int) -> Receipt:
        """Offer ``amount`` wei to repay ``borrower``'s debt for its collateral."""
        return self.contract.transact("liquidate", borrower, sender=sender, value=amount)

    def set_price(self, sender: LocalAccount, price: int) -> Receipt:
        """Post a price in wei per whole collateral token (the feed only)."""
        return self.contract.transact("set_price", price, sender=sender)

    def collect_reserves(self, sender: LocalAccount, amount: int) -> Receipt:
        """Take ``amount`` wei of the reserves (the treasury only)."""
        return self.contract.transact("collect_reserves", amount, sender=sender)

    def withdraw_credit(self, sender: LocalAccount) -> Receipt:
        """Pull the payouts the sender refused when they were pushed."""
        return self.contract.transact("withdraw_credit", sender=sender)

    def apply(self, input_: Input, sender: LocalAccount) -> Receipt:
        """Carry out a specification call as the matching contract call from ``sender``."""
        match input_:
            case Supply():
                return self.supply(sender, input_.amount)
            case Withdraw():
                return self.withdraw(sender, input_.amount)
            case AddCollateral():
                return self.add_collateral(sender, input_.amount)
            case RemoveCollateral():
                return self.remove_collateral(sender, input_.amount)
            case Borrow():
                return self.borrow(sender, input_.amount)
            case Repay():
                return self.repay(sender, input_.borrower, input_.amount)
            case Liquidate():
                return self.liquidate(sender, input_.borrower, input_.amount)
            case SetPrice():
                return self.set_price(sender, input_.price)
            case CollectReserves():
                return self.collect_reserves(sender, input_.amount)
            case BorrowForLease():
                return self.borrow_for_lease(
                    sender, input_.params, input_.amount, input_.expires_at
                )
            case SettleLease():
                return self.settle_lease(sender, input_.params)
        raise L1Error(f"no contract call for {type(input_).__name__}")


def read_state(
    client: LendingPoolClient,
    addresses: Iterable[Address],
    *,
    params: PoolParams,
    oracle: Address,
    treasury: Address,
) -> PoolState:
    """``client``'s contract read as a :class:`PoolState` (see
    :meth:`LendingPoolClient.state`): one call for the pool, one per address."""
    shares: dict[Address, int] = {}
    positions: dict[Address, Position] = {}
    for who in dict.fromkeys(addresses):
        held, collateral, scaled_debt, due, _ = client.contract.call_fast("account", who)
        if held:
            shares[who] = int(held)
        position = Position(int(collateral), int(scaled_debt), int(due))
        if position != Position():
            positions[who] = position
    cash, total_shares, total_scaled_debt, index, last_accrual, price, price_at, reserves, bad = (
        int(n) for n in client.contract.call_fast("pool_state")
    )
    return PoolState(
        params,
        oracle,
        treasury,
        last_accrual=last_accrual,
        price=price,
        price_at=price_at,
        cash=cash,
        total_shares=total_shares,
        shares=shares,
        positions=positions,
        total_scaled_debt=total_scaled_debt,
        borrow_index=index,
        reserves=reserves,
        bad_debt=bad,
    )
