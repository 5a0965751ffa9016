"""The embedded Plasma child chain of ``L2GPU_SETTLEMENT=plasma make demo``: a Plasma
contract on a fresh embedded chain, its operator sealing a block a second and serving
its API on loopback, and the renter's and provider's rails into it (the renter has
deposited 1 ETH: its coins).

After the market's lease, :func:`exit_to_l1` takes the provider's earnings out: it
exits its coins with the history the operator served and, the exit period passed
(the chain's time travel), finalizes the exit, which pays it on L1.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from l2gpu.config import Settings
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.root_chain import Rules
from l2gpu.core.types import Address, format_wei
from l2gpu.scenarios.market import Parties

DAY = 86_400
DEPOSIT = 10**18
BOND = 10**16


@dataclass
class PlasmaMarket:
    """The embedded Plasma contract, its operator, served, and the parties' rails."""

    parties: Parties
    chain: Any
    client: Any
    operator: Any
    url: str
    server: Any
    folder: tempfile.TemporaryDirectory[str]
    accounts: tuple[Any, Any]  # the renter's and the provider's L1 accounts

    def close(self) -> None:
        """Stop sealing and serving; drop the operator's folder."""
        self.operator.stop.set()
        self.server.should_exit = True
        self.folder.cleanup()


def plasma_market(settings: Settings, out: Console) -> PlasmaMarket:
    """Deploy Plasma on a fresh embedded chain, serve its operator, deposit for the
    renter; return once the operator has recorded the deposit."""
    from l2gpu.clock import l1_clock
    from l2gpu.db import open_database
    from l2gpu.designs import RailParts, lease_rail
    from l2gpu.l1 import open_chain
    from l2gpu.l1.contracts.plasma import PlasmaClient
    from l2gpu.node.plasma.api import create_plasma_app
    from l2gpu.node.plasma.operator import PlasmaOperator
    from l2gpu.payments.channel_check import ChannelCheck
    from l2gpu.serving.loopback import serve_on_loopback

    started = time.perf_counter()
    chain = open_chain(settings)
    operator_l1, renter_l1, provider_l1 = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    rules = Rules(Address.from_hex(operator_l1.address), 7 * DAY, DAY, BOND, BOND)
    client = PlasmaClient.deploy(chain, operator_l1, rules, cache_dir=settings.cache_dir)
    client.contract.transact("deposit", sender=renter_l1, value=DEPOSIT)
    folder = tempfile.TemporaryDirectory(prefix="l2gpu-plasma-operator-")
    operator = PlasmaOperator(
        client,
        operator_l1,
        open_database(f"sqlite:///{Path(folder.name) / 'operator.db'}"),
        l1_clock(chain),
    )
    operator.follow_l1()
    operator.start(interval=1.0)
    try:
        server, url = serve_on_loopback(create_plasma_app(operator), "Plasma operator API")
    except L2gpuError:
        operator.stop.set()
        raise
    renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))
    out.print(
        f"  plasma    contract {client.address}, operator API on {url}; the renter "
        f"deposited {format_wei(DEPOSIT)} (its coins); exit period 7 days; ready in "
        f"{time.perf_counter() - started:.1f} s"
    )
    parties = Parties(
        chain.chain_id,
        renter,
        provider,
        lease_rail("plasma", RailParts(node_url=url, key=renter)),
        lease_rail("plasma", RailParts(node_url=url, key=provider)),
        ChannelCheck(node_url=url),
    )
    return PlasmaMarket(
        parties, chain, client, operator, url, server, folder, (renter_l1, provider_l1)
    )


def exit_to_l1(market: PlasmaMarket, out: Console) -> str:
    """The provider exits every coin it earned, waits out the exit period (time travel)
    and finalizes: its earnings and bond are paid on L1. Returns the summary line."""
    from l2gpu.core.plasma.watch import judge
    from l2gpu.designs import DesignWorld
    from l2gpu.designs.plasma import PlasmaDesign

    chain, client = market.chain, market.client
    _, provider_l1 = market.accounts
    design = PlasmaDesign(DesignWorld(chain, plasma=client, plasma_node_url=market.url))
    earned = design.balance(provider_l1)
    if earned == 0:
        return "plasma: the provider earned no coins to exit"
    first_exit = int(client.contract.call("exit_count"))
    started = design.withdraw(provider_l1)
    gas = sum(int(chain.w3.eth.get_transaction_receipt(h)["gasUsed"]) for h in started.l1_txs)
    # A watcher looks at every open exit with the operator's blocks: nothing to challenge.
    view_blocks = {n: design.node.block(n) for n in range(1, client.height() + 1)}
    for exit_id in range(first_exit, int(client.contract.call("exit_count"))):
        stored = client.exit(exit_id)
        assert (
            judge(
                client.domain,
                exit_id,
                _spec_exit(stored),
                design.node.deposits(),
                view_blocks,
                client.height(),
                me=Address(bytes(20)),
                now=0,
                challenge_bond=BOND,
            )
            is None
        )
    chain.time_travel(7 * DAY + 1)
    before = int(chain.balance(Address.from_hex(provider_l1.address)))
    exited: list[tuple[int, int]] = []
    for exit_id in range(first_exit, int(client.contract.call("exit_count"))):
        stored = client.exit(exit_id)
        # The hint: 1 + the first coin of the exited range just before these (0: none).
        hint = max((s + 1 for s, _ in exited if s <= int(stored["start"])), default=0)
        receipt = client.contract.transact("finalize_exit", exit_id, hint, sender=provider_l1)
        gas += receipt.gas_used
        exited.append((int(stored["start"]), int(stored["end"])))
    gained = int(chain.balance(Address.from_hex(provider_l1.address))) - before
    out.print(
        f"  exit      the provider exited {earned} coins (wei) with the operator's "
        f"history; 7 days later L1 paid it {format_wei(gained)} net of gas "
        f"(coins and bond back); exit gas {gas:,}"
    )
    return (
        f"plasma: provider exited {earned} wei of earnings to L1 after the exit period; "
        f"exit and finalize gas {gas:,}; {client.height()} block root(s) on L1"
    )


def _spec_exit(stored: dict[str, Any]) -> Any:
    from l2gpu.core.plasma.root_chain import Exit

    return Exit(
        stored["owner"],
        int(stored["start"]),
        int(stored["end"]),
        int(stored["block"]),
        int(stored["prev_block"]),
        stored["parent_owner"],
        bool(stored["is_deposit"]),
        int(stored["deposit_start"]),
        int(stored["deadline"]),
        int(stored["finalizable_at"]),
        int(stored["bond"]),
    )
