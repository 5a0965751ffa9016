"""``l2gpu bench fraud``: what a fraud proof costs on L1, and how fast the watcher replays.

- ``fraud_proof_gas``: the worst case, over every L2 transaction type and the
  co-signature, of the gas of the proof transaction that wins a game. Each figure
  is a real game on the embedded L1: a proposer lies about the root right after a
  transaction of that type, the watcher challenges, the proposer reveals its roots,
  the watcher proves the step.
- ``fraud_proof_l1_bytes``: the largest such proof transaction, signed, in bytes.
- ``challenge_rounds``, ``challenge_l1_transactions``: the most proposer replies, and
  L1 transactions from challenge to proof, over the games played (each game checks
  on L1 that the watcher won).
- ``watcher_replay_tps``: transactions per second the watcher re-executes (every
  step through the specification, every co-signature checked), on 1,000 transfers.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.proofs.replay import run_segment
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseByProvider,
    CloseByRenter,
    CooperativeClose,
    OpenChannel,
    SettleChannel,
    SubmitVoucher,
    TopUpChannel,
    Transfer,
    UserTx,
    Withdraw,
)
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.l1.keys import account_from_private_key
from l2gpu.scenarios.arena import Arena, Lie

SIGNERS = 32
"""Co-signers of the commitment whose forged signature is proven: the most one commitment
may have (commitment.MAX_SIGNERS), so the figure is the worst case."""


def _game(arena: Arena, setup: list[list[tuple[int, UserTx]]], lie: Lie) -> dict[str, Any]:
    """Post the deposits and honest batches for ``setup``, then lie about the last one
    (with no setup and a lie in segment 0: about the deposits themselves)."""
    arena.reset()
    batches: list[list[tuple[int, UserTx]]] = [[], *setup]
    for number, traffic in enumerate(batches):
        for who, tx in traffic:
            arena.send(who, tx)
        batch = arena.seal()
        if number < len(batches) - 1:
            arena.post(batch)
    index, claimed = arena.post(batch, lie)
    return _fight(arena, index, claimed, lie)


def _fight(arena: Arena, index: int, claimed: list[list[bytes]], lie: Lie) -> dict[str, Any]:
    """Let the watcher fight the lie on batch ``index``; check on L1 that it won (the
    batch reverted, the liar slashed, no stray funds) and count what the game took:
    the proposer's replies (rounds) and every L1 transaction from the first challenge
    to the proof (read from the blocks mined meanwhile)."""
    first_block, replies = arena.chain.block_number() + 1, len(arena.responses)
    log = arena.fight(index, claimed, silent=False)
    if not arena.outcome(index, lie, log).honest_watcher_won:
        raise AssertionError(f"the watcher lost the {lie.kind} game on batch {index}: {log}")
    w3 = arena.chain.w3
    transactions = sum(len(w3.eth.get_block(n)["transactions"])
                       for n in range(first_block, arena.chain.block_number() + 1))  # fmt: skip
    return {
        **arena.watcher.proofs[-1],
        "response_gas": arena.responses[-1].gas_used,
        "rounds": len(arena.responses) - replies,
        "l1_transactions": transactions,
    }


def _channel_games(arena: Arena, open_tx: OpenChannel) -> dict[str, dict[str, Any]]:
    """Games on each operation of channel 0 (opened by account 1 to account 2)."""
    opened: list[list[tuple[int, UserTx]]] = [[(1, open_tx)]]
    cases: dict[str, UserTx] = {
        "TopUpChannel": TopUpChannel(1, 0, Wei(10**15), Timestamp(open_tx.expires_at + 60)),
        "CloseByRenter": CloseByRenter(1, 0, Wei(10**14)),
        "CooperativeClose": CooperativeClose(1, 0, Wei(10**15)),
    }
    results = {name: _on_channel(arena, opened, tx) for name, tx in cases.items()}
    # Vouchers: the provider proves the renter's signed voucher (an ecrecover on L1).
    domain = channel_domain(ChainId(arena.chain.chain_id), arena.client.contract.address)
    cid = _channel_id(arena, opened)
    voucher = sign_voucher(arena.keys[1], domain, cid, Wei(2 * 10**15))
    for name, cls in (("SubmitVoucher", SubmitVoucher), ("CloseByProvider", CloseByProvider)):
        results[name] = _on_channel(arena, opened, cls(2, 0, voucher.amount, voucher.signature))
    return results


def _channel_id(arena: Arena, opened: list[list[tuple[int, UserTx]]]) -> Any:
    arena.reset()
    for traffic in [[], *opened]:
        for who, tx in traffic:
            arena.send(who, tx)
        arena.post(arena.seal())
    return arena.state.channels[0].channel.params.id


def _on_channel(arena: Arena, opened: list[list[tuple[int, UserTx]]], tx: UserTx) -> dict[str, Any]:
    return _game(arena, [*opened, [(tx.sender, tx)]], Lie("root", 1, 0))


def measure_games() -> dict[str, dict[str, Any]]:
    """One won game per transaction type (and one for a forged co-signature)."""
    chain = start_embedded_chain()
    funder = chain.accounts[0]
    while len(chain.accounts) < SIGNERS + 2:
        account = account_from_private_key(
            "0x" + (len(chain.accounts) + 1000).to_bytes(32, "big").hex()
        )
        chain.send_ether(Address.from_hex(account.address), 100 * 10**18, sender=funder)
        chain.accounts.append(account)
    arena = Arena(chain, users=SIGNERS)
    expires = Timestamp(arena.chain.timestamp() + 3600)
    open_tx = OpenChannel(1, 2, Wei(10**16), expires, Seconds(600))
    games: dict[str, dict[str, Any]] = {}
    games["Deposit"] = _game(arena, [], Lie("root", 0, 0))
    games["Transfer"] = _game(arena, [[(1, Transfer(1, 2, Wei(10**15), Wei(10**9)))]],
                              Lie("root", 1, 0))  # fmt: skip
    games["Withdraw"] = _game(arena, [[(1, Withdraw(1, Wei(10**15), Wei(10**9)))]],
                              Lie("root", 1, 0))  # fmt: skip
    games["OpenChannel"] = _game(arena, [[(1, open_tx)]], Lie("root", 1, 0))
    games.update(_channel_games(arena, open_tx))
    # Settle: after the channel's deadline (expiry plus its challenge period).
    short = OpenChannel(1, 2, Wei(10**16), Timestamp(arena.chain.timestamp() + 120), Seconds(1))
    arena.reset()
    for traffic in ([], [(1, short)]):
        for who, tx in traffic:
            arena.send(who, tx)
        arena.post(arena.seal())
    arena.chain.time_travel(200)
    arena.send(1, SettleChannel(1, 0))
    lie = Lie("root", 1, 0)
    index, claimed = arena.post(arena.seal(), lie)
    games["SettleChannel"] = _fight(arena, index, claimed, lie)
    # Forced withdrawal: queued on L1, processed in the next batch's L1 operations.
    arena.reset()
    arena.post(arena.seal())
    arena.client.force_withdraw(arena.users[0], 10**15)
    lie = Lie("root", 0, 0)
    index, claimed = arena.post(arena.seal(), lie)
    games["ForcedWithdraw"] = _fight(arena, index, claimed, lie)
    # A forged co-signature over a commitment signed by every user.
    senders: list[tuple[int, UserTx]] = [
        (i, Transfer(i, 0, Wei(10**15), Wei(0))) for i in range(1, SIGNERS + 1)
    ]
    games["signature"] = _game(arena, [senders], Lie("signature", 1, 0))
    # The heaviest co-signature: 16 cooperative closes, each needing both parties (32
    # signers) and a channel read before it.
    half = SIGNERS // 2
    opens: list[tuple[int, UserTx]] = [
        (i, OpenChannel(i, i + half, Wei(10**16), expires, Seconds(600)))
        for i in range(1, half + 1)
    ]
    closes: list[tuple[int, UserTx]] = [
        (i, CooperativeClose(i, i - 1, Wei(10**15))) for i in range(1, half + 1)
    ]
    games["signature_of_closes"] = _game(arena, [opens, closes], Lie("signature", 1, 0))
    return games


def watcher_replay_tps(transfers: int = 1_000, rounds: int = 5) -> float:
    """Median transactions per second re-executed by the watcher's replay loop."""
    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.l2.envelope import seal
    from l2gpu.core.l2.transactions import Deposit
    from l2gpu.core.types import Address
    from l2gpu.node.cosigners import LocalCoSigner
    from l2gpu.node.sequencer import Sequencer

    chain, rollup, users = ChainId(1), Address(b"\x11" * 20), 64
    keys = [PrivateKey((i + 9).to_bytes(32, "big")) for i in range(users)]
    bls = [BlsSecretKey.from_seed(k.secret) for k in keys]

    def deposits() -> L2State:
        state = L2State(chain, rollup)
        from l2gpu.core.l2.stf import state_transition

        for i in range(users):
            op = Deposit(i, keys[i].address, Wei(10**21), bls[i].public_key,
                         bls[i].prove_possession())  # fmt: skip
            state_transition(state, op, BlockContext(Timestamp(0), 0))
        return state

    state = deposits()
    cosigners = {i: LocalCoSigner(i, bls[i]) for i in range(users)}
    sequencer = Sequencer(state, fee_recipient=0, cosigners=cosigners, clock=lambda: Timestamp(1))
    for n in range(transfers):
        sender = 1 + n % (users - 1)
        tx = Transfer(sender, (sender + 1) % users, Wei(amounts.round_down(10**15 + n)), Wei(0))
        cosigners[sender].expect(tx)
        sequencer.submit(seal(keys[sender], sequencer.domain, tx, n // (users - 1)))
    commitments: list[Commitment] = list(sequencer.seal().commitments)
    rates = []
    for _ in range(rounds):
        replica = deposits()
        start = time.perf_counter()
        for commitment in commitments:
            run = run_segment(replica, commitment.txs, BlockContext(commitment.timestamp, 0),
                              commitment)  # fmt: skip
            assert run.post_root() == commitment.post_root
        rates.append(transfers / (time.perf_counter() - start))
    return round(statistics.median(rates))


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    games = measure_games()
    worst = max(games.items(), key=lambda item: item[1]["gas"])
    return {
        "fraud_proof_gas": worst[1]["gas"],
        "fraud_proof_gas_worst_type": worst[0],
        "fraud_proof_l1_bytes": max(g["l1_bytes"] for g in games.values()),
        "games_won_by_the_watcher": len(games),
        "challenge_rounds": max(g["rounds"] for g in games.values()),
        "challenge_l1_transactions": max(g["l1_transactions"] for g in games.values()),
        "response_gas": max(g.get("response_gas", 0) for g in games.values()),
        "watcher_replay_tps": watcher_replay_tps(),
        "fraud_proof_gas_by_type": {name: g["gas"] for name, g in games.items()},
        "signature_proof_signers": SIGNERS,
        "l1": "embedded py-evm (Prague)",
    }
