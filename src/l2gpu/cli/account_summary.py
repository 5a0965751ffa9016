"""``l2gpu account show``'s figures: :class:`Summary` of one account's money, and what
its channels lock, read from every rail it can reach as
:class:`~l2gpu.core.channel.locked.Holding` records.

One reader per rail, each a thin shell over the rail's own reads (the sums are the
core's: :func:`~l2gpu.core.channel.locked.compute_locked`):

- ``hybrid``: the rollup node's ``/l2/accounts/{a}/channels`` (``--node``); a routed
  lease's inbound channel to its hub is one of them;
- ``zk``: the zk node's ``/zk/accounts/{index}/channels`` (``--node`` naming a zk node);
- ``plasma``: the operator's coins of the account under live lease locks (``--node``
  naming a Plasma operator), one holding per lock;
- ``channel-l1``: the ChannelManager's ChannelOpened logs of the account as renter and
  each channel's state on L1 (``--l1-rpc``, the manager of ``--manager`` or the one
  recorded for the chain); a loan's channel is one of them.

A rail that cannot be read leaves a note, never an error: ``show`` says what it read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Wei, format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from pathlib import Path

    from l2gpu.config import Settings
    from l2gpu.core.channel.locked import Holding

MAX_PLASMA_LOCKS = 1000
"""Locks walked at most on a Plasma operator (one request each)."""


def locked_in_channels(address: str, channels: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Wei locked in the rollup's channels ``address`` pays from, and how many: the
    deposits of its channels as renter that are not settled (pending, open or closing:
    a closing channel's deposit is paid out only at its settlement)."""
    from l2gpu.core.channel.locked import compute_locked, rollup_holdings

    locked = compute_locked(rollup_holdings(address, channels))
    return locked.total, locked.channels


def market_totals(address: str, jobs: Iterable[tuple[str, str, int]]) -> tuple[int, int]:
    """Wei spent (as renter) and earned (as provider) to date, from the market's jobs as
    ``(renter, provider, amount_due)``: the sums of ``amount_due``."""
    spent = earned = 0
    for renter, provider, amount_due in jobs:
        if renter.lower() == address.lower():
            spent += amount_due
        if provider.lower() == address.lower():
            earned += amount_due
    return spent, earned


@dataclass
class Summary:
    """One account's money, in wei; None where it was not read (``notes`` say why)."""

    account: str
    address: str
    l1_balance: int | None = None
    l2_balance: int | None = None
    l2_nonce: int | None = None
    locked_in_channels: int | None = None
    channels: int | None = None
    spent: int | None = None
    earned: int | None = None
    notes: list[str] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    rails_read: list[str] = field(default_factory=list)
    """The rails whose channels were read (``locked_in_channels`` sums them all)."""

    def add_holdings(self, rail: str, holdings: Iterable[Holding]) -> None:
        """Count ``holdings``, read from ``rail``, in what the channels lock."""
        from l2gpu.core.channel.locked import compute_locked

        self.holdings.extend(holdings)
        if rail not in self.rails_read:
            self.rails_read.append(rail)
        locked = compute_locked(self.holdings)
        self.locked_in_channels, self.channels = locked.total, locked.channels

    def locked_by_rail(self) -> dict[str, tuple[int, int]]:
        """Wei locked and channels, per rail read (0 in 0 for a rail with none)."""
        from l2gpu.core.channel.locked import compute_locked

        found = compute_locked(self.holdings).by_rail
        return {rail: found.get(rail, (0, 0)) for rail in self.rails_read}

    def read_node(self, node: Any) -> None:
        """Fill the L2 figures from ``node`` (an :class:`L2Client`); a node that does
        not answer, or knows no such account, leaves a note instead."""
        from l2gpu.node.client import NodeError

        try:
            found = node.account(_address(self.address))
        except NodeError as exc:
            if exc.status == 404:
                self.l2_balance, self.l2_nonce = 0, 0
                self.add_holdings("hybrid", [])
                self.notes.append("no L2 account yet: deposit with 'l2gpu l2 deposit AMOUNT'")
            else:
                self.notes.append(f"L2 skipped: {exc.what}")
            return
        self.l2_balance, self.l2_nonce = int(found["balance"]), int(found["nonce"])
        try:
            channels = node.channels(_address(self.address))
        except NodeError as exc:
            self.notes.append(f"channels skipped: {exc.what}")
            return
        from l2gpu.core.channel.locked import rollup_holdings

        self.add_holdings("hybrid", rollup_holdings(self.address, channels))

    def read_rail(self, rail: str, read: Callable[[], list[Holding]]) -> None:
        """Count the channels ``read`` finds on ``rail``; a rail that does not answer
        leaves a note (what failed), not an error."""
        try:
            found = read()
        except L2gpuError as exc:
            self.notes.append(f"{rail} channels skipped: {exc.what}")
            return
        self.add_holdings(rail, found)

    def to_json(self) -> dict[str, Any]:
        """For --json: amounts in wei, as integers; null where not read."""
        return {
            "account": self.account,
            "address": self.address,
            "l1_balance_wei": self.l1_balance,
            "l2_balance_wei": self.l2_balance,
            "l2_nonce": self.l2_nonce,
            "locked_in_channels_wei": self.locked_in_channels,
            "channels": self.channels,
            "locked_by_rail": {
                rail: {"wei": wei, "channels": count}
                for rail, (wei, count) in self.locked_by_rail().items()
            },
            "spent_wei": self.spent,
            "earned_wei": self.earned,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """For people: ETH (or gwei, wei for small sums)."""

        def money(value: int | None, why: str) -> str:
            return format_wei(value) if value is not None else why

        out = [
            f"account   {self.account}",
            f"address   {self.address}",
            f"L1        {money(self.l1_balance, 'not read: pass --l1-rpc URL')}",
        ]
        l2 = money(self.l2_balance, "not read (see below)")
        if self.l2_nonce is not None:
            l2 += f" (nonce {self.l2_nonce})"
        out.append(f"L2        {l2}")
        if self.locked_in_channels is not None:
            out.append(
                f"locked    {format_wei(self.locked_in_channels)} in {self.channels} channel(s)"
            )
            for rail, (wei, count) in self.locked_by_rail().items():
                out.append(f"  {rail:<11} {format_wei(Wei(wei))} in {count}")
        spent = money(self.spent, "not read: pass --api-url URL")
        out.append(f"spent     {spent}")
        out.append(f"earned    {money(self.earned, 'not read: pass --api-url URL')}")
        out.extend(f"note: {note}" for note in self.notes)
        return out


def _address(text: str) -> Any:
    from l2gpu.core.types import Address

    return Address.from_hex(text)


def read_zk(client: Any, address: Address) -> list[Holding]:
    """The zk channels ``address`` opened as renter (``client``: a ZkNodeClient); none
    when it has no zk account."""
    from l2gpu.core.channel.locked import zk_holdings

    account = client.account_of(address)
    if account is None:
        return []
    index = int(account["index"])
    return zk_holdings(index, client.channels_of(index))


def read_plasma(client: Any, address: Address) -> list[Holding]:
    """The live lease locks on ``address``'s Plasma coins (``client``: a
    PlasmaNodeClient): each lock's coins are its deposit."""
    from l2gpu.core.channel.locked import Holding, plasma_locked_ranges

    held = [(start, end) for start, end, _ in client.coins(address)]
    free = [(start, end) for start, end, _ in client.coins(address, free=True)]
    out: list[Holding] = []
    for start, end in plasma_locked_ranges(held, free):
        at = start
        while at < end and len(out) < MAX_PLASMA_LOCKS:
            lock = client.lock_at(at)
            if lock is None:  # the lock ended between the two reads: free now
                break
            lock_end = min(int(lock["end"]), end)
            out.append(Holding("plasma", f"coins {at}-{lock_end}", Wei(lock_end - at), "open"))
            at = lock_end
    return out


def read_l1(manager: Any, address: Address, from_block: int = 0) -> list[Holding]:
    """The ChannelManager channels ``address`` opened as renter (``manager``: a
    ChannelManagerClient), with their deposits and statuses on L1."""
    from l2gpu.core.channel import ChannelStatus
    from l2gpu.core.channel.locked import Holding

    out: list[Holding] = []
    for params in manager.opened_by(address, from_block):
        channel = manager.channel(params)
        if channel is None:
            continue
        status = ChannelStatus(channel.status).name.lower()
        out.append(Holding("channel-l1", str(params.id), channel.deposit, status))
    return out


def l1_manager(rpc: str, manager: str | None, data_dir: Any) -> tuple[Any, int]:
    """The ChannelManager to read on the L1 at ``rpc`` (read only: no key is loaded):
    ``manager``, else the one recorded for the chain; and the block to read logs from."""
    from l2gpu.cli.session import MANAGER
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.payments import deployments

    chain = connect_jsonrpc(rpc, [])
    if manager:
        address, from_block = Address.from_hex(manager), 0
    else:
        address, from_block = deployments.lookup(data_dir, chain.chain_id, MANAGER)
    return ChannelManagerClient.at(chain, address), from_block


def read_node_channels(settings: Settings, url: str, summary: Summary) -> None:
    """The node's figures: a rollup node's balance, nonce and channels, or the channels
    of a zk node or a Plasma operator (which kind it is, it says itself)."""
    from l2gpu.cli.lease_rails import rail_design
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    design = rail_design(settings, url)
    who = _address(summary.address)
    if design == "zk":
        from l2gpu.node.zk.client import ZkNodeClient

        summary.read_rail("zk", lambda: read_zk(ZkNodeClient(url, timeout=5.0), who))
    elif design == "plasma":
        from l2gpu.node.plasma.client import PlasmaNodeClient

        summary.read_rail("plasma", lambda: read_plasma(PlasmaNodeClient(url, timeout=5.0), who))
    else:
        from l2gpu.node.client import L2Client

        summary.read_node(L2Client(url, PrivateKey((1).to_bytes(32, "big")), timeout=5.0))


def read_l1_channels(rpc: str, manager: str | None, data_dir: Path, summary: Summary) -> None:
    """The account's ChannelManager channels on the L1 at ``rpc`` (``manager``, else
    the one recorded in ``data_dir`` for the chain), or a note saying why not."""

    def read() -> list[Holding]:
        found, from_block = l1_manager(rpc, manager, data_dir)
        return read_l1(found, _address(summary.address), from_block)

    summary.read_rail("channel-l1", read)
