"""The books of a rollup, rebuilt from L1 alone: an honest watcher replays every posted
batch (checking each against its posted roots and co-signatures), then the same
transactions run again on a fresh state to record what each channel did with its
deposit (a settled channel keeps no amounts in the state: its leaf is zeroed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from l2gpu.core.channel import ChannelStatus
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import OpenChannel, TopUpChannel
from l2gpu.core.types import Address, ChainId
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key


@dataclass
class ChannelBook:
    """One channel's money: what was locked, and at its settlement who got what, how."""

    channel_id: str
    renter: Address
    provider: Address
    deposit: int
    payout: int = 0  # to the provider, once settled
    refund: int = 0  # to the renter, once settled
    closed_by: str = ""  # the transaction that settled it; "" while live

    @property
    def settled(self) -> bool:
        return bool(self.closed_by)


@dataclass
class Ledger:
    """The L2 as L1 tells it."""

    state: L2State
    channels: dict[str, ChannelBook] = field(default_factory=dict)
    batches: int = 0
    transactions: int = 0
    problems: list[str] = field(default_factory=list)

    def balance(self, address: Address) -> int:
        account = self.state.account_of(address)
        return 0 if account is None else int(account.balance)


def replay(anvil_url: str, rollup: str, watcher_key: str) -> Ledger:
    """Replay every batch posted to the rollup at ``rollup`` on the L1 at ``anvil_url``."""
    account = account_from_private_key(watcher_key)
    chain = connect_jsonrpc(anvil_url, [account])
    contract = chain.attach(compile_contract("rollup/Rollup.vy"), Address.from_hex(rollup))
    client = RollupClient(chain, contract)
    watcher = Watcher(client, DisputeClient(chain, client.game), account, defend=False)
    watcher.poll()
    watcher.poll()  # anything the first read left for the next
    state = L2State(ChainId(chain.chain_id), contract.address)
    ledger = Ledger(state, batches=len(watcher.accepted))
    if watcher.blocked_at is not None:
        ledger.problems.append(f"batch {watcher.blocked_at} posted to L1 does not replay: "
                               f"{watcher.log}")  # fmt: skip
    posted_count = int(contract.call("batch_count")) - 1
    if posted_count != len(watcher.accepted):
        ledger.problems.append(f"{posted_count} batches on L1, {len(watcher.accepted)} replayed")
    by_index: dict[int, ChannelBook] = {}
    for posted in watcher.accepted:
        for segment in range(len(posted.segments)):
            txs, block, _ = watcher.segment_inputs(posted, segment)
            for tx in txs:
                index = getattr(tx, "channel", None)
                before = state.channel_at(index) if isinstance(index, int) else None
                applied = state_transition(state, tx, block)
                ledger.transactions += 1
                if isinstance(tx, OpenChannel):
                    opened = state.channels[-1]
                    renter, provider = (state.accounts[opened.renter],
                                        state.accounts[opened.provider])  # fmt: skip
                    book = ChannelBook(str(opened.channel.params.id), renter.address,
                                       provider.address, int(opened.channel.deposit))  # fmt: skip
                    by_index[opened.index] = book
                    ledger.channels[book.channel_id] = book
                elif before is not None and isinstance(index, int):
                    after = state.channels[index]
                    book = by_index[index]
                    if isinstance(tx, TopUpChannel):
                        book.deposit = int(after.channel.deposit)
                    if before.live and after.channel.status == ChannelStatus.SETTLED:
                        book.payout = sum(a for i, a in applied.deltas
                                          if i == before.provider and a > 0)  # fmt: skip
                        book.refund = sum(a for i, a in applied.deltas
                                          if i == before.renter and a > 0)  # fmt: skip
                        book.closed_by = type(tx).__name__
            # (the watcher checked every segment's root and co-signature already)
    if state.root() != watcher.state.root():
        ledger.problems.append("the ledger's replay and the watcher's disagree")
    return ledger
