"""The ``leverage`` suite: what the lending pool costs on L1 and what the stress finds.

- **Gas** of every call of ``LendingPool.vy`` (with the parameters the stress chose,
  ``credit_stress.CHOSEN_PARAMS``), read from the receipts of a scripted run on the
  embedded EVM: a supplier, ``BORROWERS`` borrowers, a price feed, a liquidation bot;
  medians per call, with the signed transactions' bytes.
- **Liquidation latency**: the true price falls 50 % at once; the feed posts it every
  hour, moved at most the step bound; the bot checks every position after every
  update and liquidates what is profitable at the true price. Feed updates (blocks,
  where a feed posts every block) from the first update that makes a position
  liquidatable to its last liquidation, and from the shock to the last liquidation.
- **Credit leases and advances**, on a fresh chain with a ChannelManager: the gas of
  ``borrow_for_lease`` against its baseline (``borrow`` then ``open``, two
  transactions), of the provider's close of a channel whose refund the pool holds,
  of ``settle_lease``, and of an advance's three calls (``assign_payout``,
  ``advance`` with its voucher proof, the desk's ``settle``), with one advance's
  figures.
- **Stress** (``analytics/credit_stress``, the pool's specification): bad debt over
  the real GPU price paths and per shock size under the chosen parameters, the first
  shock that leaves bad debt, and the lender's yearly return, median over the paths.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from l2gpu.analytics import credit_stress
from l2gpu.bench import environment
from l2gpu.core.credit.rates import WAD, PoolParams
from l2gpu.core.types import Address
from l2gpu.l1 import Receipt, compile_contract
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.l1.embedded import start_embedded_chain

ETHER = 10**18
HOUR = 3_600
BORROWERS = 4
START_PRICE = 2 * ETHER


def run() -> dict[str, Any]:
    """Measure the suite."""
    chain = start_embedded_chain()
    deployer, oracle, treasury, supplier, bot, *borrowers = chain.accounts[: 5 + BORROWERS]
    token = chain.deploy(
        compile_contract("tokens/TestToken.vy"), "Collateral", "COL", 18, sender=deployer
    )
    params = credit_stress.CHOSEN_PARAMS
    pool = LendingPoolClient.deploy(
        chain, deployer, token=token.address, oracle=Address.from_hex(oracle.address),
        treasury=Address.from_hex(treasury.address), params=params,
    )  # fmt: skip
    gas: dict[str, list[int]] = defaultdict(list)
    sizes: dict[str, list[int]] = defaultdict(list)

    def record(name: str, receipt: Receipt) -> None:
        gas[name].append(receipt.gas_used)
        sizes[name].append(receipt.tx_bytes)

    record("set_price", pool.set_price(oracle, START_PRICE))
    record("supply", pool.supply(supplier, 100 * ETHER))
    start_value = _share_value(pool, supplier.address)
    started = int(chain.timestamp())
    for i, who in enumerate(borrowers):
        token.transact("mint", who.address, 10 * ETHER, sender=who)
        token.transact("approve", pool.address, 2**256 - 1, sender=who)
        record("add_collateral", pool.add_collateral(who, 10 * ETHER))
        limit = 10 * START_PRICE * params.ltv_bps // 10_000
        record("borrow", pool.borrow(who, limit * (96 - i) // 100))
    chain.time_travel(10 * 86_400)
    record("set_price", pool.set_price(oracle, START_PRICE))
    for who in borrowers[:2]:
        record("repay", pool.repay(who, Address.from_hex(who.address), ETHER))
    latency = _shock(chain, pool, params, (oracle, bot), borrowers, record)
    chain.time_travel(HOUR)
    record("set_price", pool.set_price(oracle, START_PRICE // 2))
    reserves = pool.state([]).reserves
    if reserves:
        record("collect_reserves", pool.collect_reserves(treasury, reserves))
    end_value = _share_value(pool, supplier.address)
    record("withdraw", pool.withdraw(supplier, end_value // 2))
    years = (int(chain.timestamp()) - started) / (365 * 86_400)

    forwards_gas = _forwards(chain, (deployer, oracle, supplier, bot))
    leases = _credit_leases()
    paths = credit_stress.real_price_paths()
    (stressed,) = credit_stress.stress(paths, [params])
    return {
        "suite": "leverage",
        "params": {
            "ltv_bps": params.ltv_bps,
            "liquidation_threshold_bps": params.liquidation_threshold_bps,
            "liquidation_bonus_bps": params.liquidation_bonus_bps,
            "close_factor_bps": params.close_factor_bps,
            "max_price_step_bps": params.max_price_step_bps,
        },
        "gas_median": {name: int(statistics.median(v)) for name, v in sorted(gas.items())},
        "forwards_gas": forwards_gas,
        **leases,
        "l1_bytes_median": {name: int(statistics.median(v)) for name, v in sorted(sizes.items())},
        **latency,
        "scripted_lender_return": round(end_value / start_value - 1, 6),
        "scripted_days": round(years * 365, 2),
        "stress_real_paths": len(paths),
        "stress_real_bad_debt_wei": stressed.real_bad_debt_wei,
        "stress_real_liquidations": stressed.real_liquidations,
        "stress_lender_return_per_year_median": round(stressed.lender_return_median, 6),
        "stress_shock_bad_debt_ether": {
            f"{s:.0%}": round(b / ETHER, 3) for s, b in stressed.shock_bad_debt_wei.items()
        },
        "stress_first_bad_shock": stressed.first_bad_shock,
        **environment(),
    }


def _share_value(pool: LendingPoolClient, who: str) -> int:
    state = pool.state([Address.from_hex(who)])
    return state.share_value(Address.from_hex(who))


def _shock(
    chain: Any, pool: LendingPoolClient, params: PoolParams, feed_and_bot: tuple[Any, Any],
    borrowers: list[Any], record: Any,
) -> dict[str, Any]:  # fmt: skip
    """The true price halves; the feed walks to it an hour a block; the bot liquidates
    what pays at the true price. Returns the latency figures."""
    oracle, bot = feed_and_bot
    true_price = START_PRICE // 2
    first_unhealthy: dict[str, int] = {}
    liquidated_at: dict[str, int] = {}
    for update in range(1, 13):  # the feed's updates after the shock, an hour apart
        chain.time_travel(HOUR)
        record("set_price", pool.set_price(oracle, true_price))
        for who in borrowers:
            address = Address.from_hex(who.address)
            for _ in range(20):  # each call repays at most the close factor
                if not pool.debt_of(address) or pool.health_factor(address) >= WAD:
                    break
                first_unhealthy.setdefault(who.address, update)
                debt, price = pool.debt_of(address), pool.state([]).price
                repaid = debt * params.close_factor_bps // 10_000
                seized = repaid * (10_000 + params.liquidation_bonus_bps) * WAD // (10_000 * price)
                if seized * true_price // WAD < repaid:
                    break  # not profitable at the true price: the bot waits
                receipt = pool.liquidate(bot, address, debt)
                record("liquidate", receipt)
                liquidated_at[who.address] = update
        if pool.state([]).price == true_price and not any(
            pool.debt_of(Address.from_hex(w.address))
            and pool.health_factor(Address.from_hex(w.address)) < WAD
            for w in borrowers
        ):
            break
    waits = [liquidated_at[w] - first_unhealthy[w] for w in liquidated_at]
    return {
        "shock": "true price -50 % at once",
        "positions_liquidated": len(liquidated_at),
        # In feed updates: with a feed that posts every block, these are blocks.
        "liquidation_latency_updates_median": statistics.median(waits) if waits else None,
        "liquidation_latency_updates_max": max(waits) if waits else None,
        "shock_to_last_liquidation_updates": max(liquidated_at.values(), default=None),
        "feed_update_seconds": HOUR,
    }


def _forwards(chain: Any, accounts: tuple[Any, Any, Any, Any]) -> dict[str, int]:
    """A forwards market with the chosen margins: a forward opened, marked down by the
    index and liquidated; another settled after expiry. Gas per call."""
    from l2gpu.analytics.forward_stress import CHOSEN_FORWARD_MARGINS
    from l2gpu.core.credit.forwards import ForwardParams
    from l2gpu.l1.contracts.forwards import ForwardsClient, offer_id

    deployer, feed, long_, short = accounts
    initial, maintenance = CHOSEN_FORWARD_MARGINS
    expiry = int(chain.timestamp()) + 7 * 86_400
    market = ForwardsClient.deploy(
        chain, deployer, feed=Address.from_hex(feed.address),
        params=ForwardParams(expiry, initial, maintenance, maintenance // 10),
    )  # fmt: skip
    price, hours = 2 * 10**15, 1_000  # 0.002 ether a GPU-hour
    margin = price * hours * initial // 10_000
    out = {"post_index": market.post_index(feed, price).gas_used}
    opened = market.open_offer(long_, "long", hours, price, margin)
    out["open_offer"] = opened.gas_used
    first = offer_id(opened)
    out["take"] = market.take(short, first, margin).gas_used
    chain.time_travel(3_600)  # the index moves 20 % an hour at most
    market.post_index(feed, price * 8 // 10)  # -20 %: the long falls below maintenance
    out["liquidate"] = market.liquidate(deployer, first).gas_used
    price = price * 8 // 10  # the second forward is struck at the index
    margin = price * hours * initial // 10_000
    second = offer_id(market.open_offer(short, "short", hours, price, margin))
    market.take(long_, second, margin)
    chain.time_travel(8 * 86_400)
    market.post_index(feed, price * 8 // 10)
    out["settle"] = market.settle(deployer, second).gas_used
    return out


def _credit_leases() -> dict[str, Any]:
    """Gas of a credit lease and of an advance on it, on a fresh chain."""
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.channel.vouchers import sign_voucher
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.types import Seconds, Wei
    from l2gpu.l1.contracts.advances import AdvancesClient
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.contracts.channel_params import as_tuple

    chain = start_embedded_chain()
    deployer, lender, renter, provider = chain.accounts[:4]
    me, them = Address.from_hex(renter.address), Address.from_hex(provider.address)
    manager = ChannelManagerClient.deploy(chain, deployer)
    token = chain.deploy(
        compile_contract("tokens/TestToken.vy"), "Collateral", "COL", 18, sender=deployer
    )
    pool = LendingPoolClient.deploy(
        chain, deployer, token=token.address, oracle=Address.from_hex(deployer.address),
        treasury=Address.from_hex(deployer.address), params=credit_stress.CHOSEN_PARAMS,
        channels=manager.address,
    )  # fmt: skip
    pool.set_price(deployer, START_PRICE)
    pool.supply(lender, 50 * ETHER)
    token.transact("mint", renter.address, 10 * ETHER, sender=renter)
    token.transact("approve", pool.address, 2**256 - 1, sender=renter)
    pool.add_collateral(renter, 10 * ETHER)
    desk = AdvancesClient.deploy(chain, deployer, channels=manager.address,
                                 lender=Address.from_hex(lender.address), fee_bps=100,
                                 max_share_bps=5_000)  # fmt: skip
    desk.fund(lender, 10 * ETHER)
    desk.set_share(lender, me, 1_000)

    def terms(salt: int) -> ChannelParams:  # the pool's address leads a funder's salt
        return ChannelParams(me, them, challenge_period=Seconds(HOUR),
                             salt=bytes(pool.address) + salt.to_bytes(12, "big"))  # fmt: skip

    expires = int(chain.timestamp()) + 2 * HOUR
    pool.borrow(renter, ETHER // 10)  # both measured borrows then update a live loan
    baseline = (
        pool.borrow(renter, ETHER).gas_used
        + manager.contract.transact(
            "open", as_tuple(terms(0)), ETHER, expires, sender=renter, value=ETHER
        ).gas_used
    )
    key = PrivateKey(bytes(renter.key))

    def provider_closes(params: ChannelParams, amount: int) -> Receipt:
        final = sign_voucher(key, manager.domain, params.id, Wei(amount))
        return manager.contract.transact("close_by_provider", as_tuple(params), final.amount,
                                         final.signature, sender=provider)  # fmt: skip

    lent = terms(1)  # the credit lease: the pool holds its refund
    funded = pool.borrow_for_lease(renter, lent, ETHER, expires)
    closed = provider_closes(lent, ETHER * 6 // 10)
    settled = pool.settle_lease(deployer, lent)
    # The advance, on the channel the renter funded itself (terms(0)): vouched and share.
    own = terms(0)
    assigned = desk.assign_payout(provider, own)
    voucher = sign_voucher(key, manager.domain, own.id, Wei(ETHER * 3 // 10))
    advanced = desk.advance(provider, own, voucher)
    taken = advanced.event("Advanced").args
    provider_closes(own, ETHER * 6 // 10)
    desk_settled = desk.settle(deployer, own)
    paid = desk_settled.event("AdvanceSettled").args
    return {
        "credit_lease_gas": {
            "borrow_for_lease": funded.gas_used,
            "baseline_borrow_then_open": baseline,
            "close_by_provider_assigned": closed.gas_used,
            "settle_lease": settled.gas_used,
        },
        "advance_gas": {
            "assign_payout": assigned.gas_used,
            "advance_with_voucher_proof": advanced.gas_used,
            "settle": desk_settled.gas_used,
        },
        "advance_example_wei": {
            "deposit": ETHER,
            "vouched": int(taken["vouched"]),
            "advanced": int(taken["advanced"]),
            "owed": int(taken["owed"]),
            "payout": int(paid["received"]),
            "to_lender": int(paid["to_lender"]),
        },
    }
