"""The ``hybrid`` lease of ``l2gpu demo``: a lease whose channel lives inside the rollup.

Renter and provider deposit on L1; the renter opens a channel with an L2
transaction; the lease is paid every second with vouchers that never leave the
two parties; both co-sign a cooperative close; the provider withdraws and, after
the challenge window (time travel), claims its money on L1. The summary shows
what the lease cost on L1.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from typing import Any

from rich.console import Console

from l2gpu.clock import SimulatedClock, l1_clock
from l2gpu.config import Settings
from l2gpu.core.channel.stream import PayeeState
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.envelope import seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import CooperativeClose, OpenChannel, Transfer, UserTx, Withdraw
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei, format_wei
from l2gpu.db import open_database
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1 import open_chain
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import SEVEN_DAYS, RollupClient
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.node import RollupNode
from l2gpu.payments.payee import Payee
from l2gpu.payments.payer import Payer
from l2gpu.payments.store import VoucherStore
from l2gpu.scenarios.stream import stream_service

LEASE_SECONDS = 30
PRICE_PER_SECOND = Wei(10**14)


def run_hybrid(settings: Settings, out: Console) -> str:
    """Run the hybrid lease; return the one-line summary."""
    started = time.perf_counter()
    chain = open_chain(settings)
    if settings.l1_rpc or len(chain.accounts) < 3:
        raise L2gpuError("the demo runs on the embedded chain", "unset L2GPU_L1_RPC")
    operator, renter_l1, provider_l1 = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    keys = {who: PrivateKey(bytes(a.key)) for who, a in (("op", operator), ("renter", renter_l1),
                                                         ("provider", provider_l1))}  # fmt: skip
    bls = {who: BlsSecretKey.from_seed(k.secret) for who, k in keys.items()}
    out.print(f"  L1        {chain.description}, chain id {chain.chain_id}")
    genesis = L2State(ChainId(chain.chain_id), Address(bytes(20))).root()
    rollup = RollupClient.deploy(
        chain, operator, genesis_root=genesis, cache_dir=settings.cache_dir
    )
    rollup.stake(operator, 10**18)
    out.print(
        f"  deploy    Rollup at {rollup.address} (7-day challenge window, 12 h forced inclusion)"
    )
    workdir = tempfile.TemporaryDirectory(prefix="l2gpu-demo-")
    cosigners: dict[int, LocalCoSigner] = {}
    node = RollupNode(rollup, open_database(f"sqlite:///{workdir.name}/node.db"), operator,
                      cosigners=cosigners)  # fmt: skip
    posts: list[tuple[int, int]] = []  # (gas, signed L1 transaction bytes) of each batch

    def post() -> None:
        node.follow_l1()
        report = node.seal_and_post()
        assert report.batch is not None, report.dropped
        receipt = node.post_receipts[node.posted[-1]]
        posts.append((receipt.gas_used, receipt.tx_bytes))

    for who, account in (("op", operator), ("renter", renter_l1), ("provider", provider_l1)):
        rollup.deposit(account, bls[who], 10**18 if who != "op" else 10**15)
    post()
    index = {who: node.state.by_address[keys[who].address] for who in keys}
    for who, i in index.items():
        cosigners[i] = LocalCoSigner(i, bls[who])
    out.print(f"  deposit   renter and provider deposit 1 ETH each on L1 (batch {node.posted[-1]})")

    def send(who: str, tx: UserTx, *also: str) -> None:
        nonce = (
            node.sequencer.pending_per_sender.get(tx.sender, 0)
            + node.state.accounts[tx.sender].nonce
        )
        node.submit(seal(keys[who], node.sequencer.domain, tx, nonce))
        for signer in (who, *also):
            cosigners[index[signer]].expect(tx)

    deposit = Wei(PRICE_PER_SECOND * LEASE_SECONDS * 2)
    now = l1_clock(chain)()
    open_tx = OpenChannel(
        index["renter"], index["provider"], deposit, Timestamp(now + 3600), Seconds(3600)
    )
    send("renter", open_tx)
    post()
    channel = node.state.channels[0]
    cid = channel.channel.params.id
    open_bytes = len(encode_tx(kind_of(open_tx), open_tx))
    out.print(
        f"  open      channel {str(cid)[:18]}... inside the rollup, deposit "
        f"{format_wei(deposit)} (batch {node.posted[-1]}, {open_bytes} bytes on L1)"
    )

    domain = channel_domain(ChainId(chain.chain_id), rollup.address)
    clock = SimulatedClock(now)
    payer = Payer(keys["renter"], domain, cid, price_per_second=PRICE_PER_SECOND, cap=deposit,
                  started_at=now, clock=clock)  # fmt: skip
    payee = Payee(PayeeState(cid, keys["renter"].address, domain, deposit, PRICE_PER_SECOND),
                  VoucherStore(open_database(f"sqlite:///{workdir.name}/vouchers.db")),
                  manager=rollup.address)  # fmt: skip
    vouchers = stream_service(payer, payee, clock, LEASE_SECONDS)
    owed = payee.state.best_amount
    out.print(f"  stream    {LEASE_SECONDS} s of GPU time, {vouchers} vouchers, none on L1 or L2; "
              f"owed {format_wei(owed)}")  # fmt: skip

    close_tx = CooperativeClose(index["provider"], channel.index, owed)
    send("provider", close_tx, "renter")
    post()
    close_bytes = len(encode_tx(kind_of(close_tx), close_tx))
    out.print(f"  close     both co-sign a cooperative close for {format_wei(owed)} "
              f"(batch {node.posted[-1]}, {close_bytes} bytes)")  # fmt: skip
    earned = node.state.accounts[index["provider"]].balance - 10**18
    send("provider", Withdraw(index["provider"], Wei(earned), Wei(0)))
    post()
    withdraw_batch = node.posted[-1]
    chain.time_travel(SEVEN_DAYS)
    before = chain.balance(keys["provider"].address)
    rollup.withdraw(node.state, withdraw_batch, 0, operator)
    claimed = chain.balance(keys["provider"].address) - before
    out.print(f"  withdraw  provider withdraws {format_wei(earned)}; after 7 days (time travel) "
              f"claims {format_wei(claimed)} on L1")  # fmt: skip
    _fraud_round(chain, rollup, node, send, index, out)
    lease_bytes = len(encode_tx(kind_of(open_tx), open_tx)) + len(
        encode_tx(kind_of(close_tx), close_tx)
    )
    lease_gas, lease_l1_bytes = posts[1][0] + posts[2][0], posts[1][1] + posts[2][1]
    elapsed = time.perf_counter() - started
    return (f"hybrid lease of {LEASE_SECONDS} s paid with {vouchers} vouchers; provider got "
            f"{claimed} wei on L1 of {owed} wei owed; its L2 transactions {lease_bytes} bytes; "
            f"its two batches on L1 (carrying nothing else) {lease_l1_bytes:,} bytes, "
            f"gas {lease_gas:,}; took {elapsed:.1f} s")  # fmt: skip


def _fraud_round(
    chain: Any,
    rollup: RollupClient,
    node: RollupNode,
    send: Any,
    index: dict[str, int],
    out: Console,
) -> None:
    """An honest watcher verifies every batch from L1 alone; then the operator lies once
    and loses its bond."""
    watcher = Watcher(rollup, DisputeClient(chain, rollup.game), chain.accounts[3])
    watcher.poll()
    out.print(f"  watch     an honest watcher rebuilt the L2 from L1 alone: "
              f"{len(watcher.accepted)} batches verified, {watcher.replayed_txs} "
              "transactions re-executed")  # fmt: skip
    send("renter", Transfer(index["renter"], index["provider"], Wei(10**15), Wei(0)))
    node.follow_l1()
    batch = node.sequencer.seal().batch
    assert batch is not None
    lie = b"\xee" * 32
    commitments = (replace(batch.commitments[0], post_root=lie), *batch.commitments[1:])
    bad = replace(batch, commitments=commitments)
    last = node.posted[-1]
    queue_end = int(rollup.contract.call("batch_queue_end", last))
    bad_index, _ = rollup.submit(bad, queue_end, node.proposer)
    watcher.poll()
    game = next(iter(watcher.games.values()))
    DisputeClient(chain, rollup.game).respond(game.id, [lie], bad.commitments[0].encode(),
                                              node.proposer)  # fmt: skip
    watcher.poll()
    proof = watcher.proofs[-1]
    reverted = int(rollup.contract.call("batch_count")) == bad_index
    burned = int(rollup.contract.call("burned"))
    if not reverted:
        raise L2gpuError("the demo's wrong root was not reverted", "report this as a bug")
    out.print(f"  fraud     the operator posts a wrong root (batch {bad_index}); the watcher "
              f"challenges, the operator reveals its roots, the watcher proves the step on "
              f"L1 ({proof['gas']:,} gas): batch reverted, the operator's bond slashed, "
              f"{format_wei(burned)} burned and as much paid to the watcher")  # fmt: skip
