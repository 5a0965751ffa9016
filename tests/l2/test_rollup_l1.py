"""The rollup end to end on the embedded L1: deposits, batches, exits, forced inclusion, freeze."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.codec import Batch, decode_batch
from l2gpu.core.l2.commitment import apply_commitment
from l2gpu.core.l2.envelope import seal
from l2gpu.core.l2.segments import segments, segments_root
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    Deposit,
    OpenChannel,
    Transfer,
    UserTx,
    Withdraw,
)
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.rollup import SEVEN_DAYS, TWELVE_HOURS, RollupClient, address_of
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.sequencer import Sequencer

ETH = 10**18
FEE = Wei(10**12)


@dataclass
class Rollup:
    """An embedded chain, a deployed rollup, a sequencer, and users 1..4 (0 operates)."""

    chain: object = field(default_factory=start_embedded_chain)

    def __post_init__(self) -> None:
        chain = self.chain
        self.accounts = chain.accounts[:6]
        self.operator = self.accounts[0]
        self.keys = [PrivateKey(bytes(a.key)) for a in self.accounts]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        self.client = RollupClient.deploy(
            chain, self.operator, genesis_root=L2State(ChainId(1), Address(bytes(20))).root()
        )
        self.state = L2State(ChainId(chain.chain_id), self.client.address)
        self.cosigners: dict[int, LocalCoSigner] = {}
        self.sequencer = Sequencer(self.state, fee_recipient=0, cosigners=self.cosigners,
                                   clock=lambda: chain.timestamp())  # fmt: skip
        self.nonces: dict[int, int] = {}
        self.batches: list[Batch] = []
        self.client.stake(self.operator, ETH)

    def deposit(self, who: int, amount: int) -> None:
        self.client.deposit(self.accounts[who], self.bls[who], amount)

    def index(self, who: int) -> int:
        return self.state.by_address[self.keys[who].address]

    def send(self, who: int, tx: UserTx) -> None:
        index = self.index(who)
        self.cosigners.setdefault(index, LocalCoSigner(index, self.bls[who])).expect(tx)
        nonce = self.nonces.get(index, 0)
        self.sequencer.submit(seal(self.keys[who], self.sequencer.domain, tx, nonce))
        self.nonces[index] = nonce + 1

    def post(self, *, include_queue: bool = True) -> int:
        if include_queue:
            for operation in self.client.new_operations():
                self.sequencer.deposit(operation)
        report = self.sequencer.seal()
        assert report.batch is not None
        assert report.dropped == []
        self.batches.append(report.batch)
        contract = self.client.contract
        previous = bytes(contract.call("batch_root", int(contract.call("batch_count")) - 1))
        index, _ = self.client.submit(report.batch, self.state.deposits_processed, self.operator)
        # L1 parsed the batch into the same segments as the Python spec.
        expected = segments_root(segments(report.batch, previous))
        assert bytes(contract.call("batch_segments_root", index)) == expected
        assert contract.call("batch_segment_count", index) == len(report.batch.commitments) + 1
        return index

    def replay(self, batches: int) -> L2State:
        """The state after the first ``batches`` posted batches, rebuilt from L1 data."""
        state = L2State(self.state.chain_id, self.state.rollup)
        operations = list(self.client._queued)
        for batch in self.batches[:batches]:
            decoded = decode_batch(batch.encode())
            for _ in range(decoded.deposits):
                op = operations.pop(0)
                state_transition(state, op, BlockContext(Timestamp(0), 0))
            for commitment in decoded.commitments:
                apply_commitment(state, commitment, decoded.fee_recipient)
        return state


@pytest.fixture
def rollup() -> Rollup:
    return Rollup()


def test_deposit_transfer_withdraw_finalize(rollup: Rollup) -> None:
    for who in range(4):
        rollup.deposit(who, ETH)
    first = rollup.post()
    rollup.send(1, Transfer(rollup.index(1), rollup.index(2), Wei(25 * 10**16), FEE))
    rollup.send(2, Withdraw(rollup.index(2), Wei(30 * 10**16), FEE))
    second = rollup.post()
    assert (first, second) == (1, 2)
    assert rollup.replay(2).root() == rollup.state.root()  # L1 data alone rebuilds the state
    recipient = address_of(rollup.accounts[2])
    with pytest.raises(ContractRevert, match="batch not final"):
        rollup.client.withdraw(rollup.state, 2, 0, rollup.operator)
    rollup.chain.time_travel(SEVEN_DAYS)
    before = rollup.chain.balance(recipient)
    rollup.client.withdraw(rollup.state, 2, 0, rollup.operator)
    assert rollup.chain.balance(recipient) - before == 30 * 10**16
    with pytest.raises(ContractRevert, match="exit already claimed"):
        rollup.client.withdraw(rollup.state, 2, 0, rollup.operator)


def test_a_wrong_exit_proof_is_refused(rollup: Rollup) -> None:
    rollup.deposit(0, ETH)
    rollup.deposit(1, ETH)
    rollup.post()
    rollup.send(1, Withdraw(rollup.index(1), Wei(10**17), FEE))
    rollup.post()
    rollup.chain.time_travel(SEVEN_DAYS)
    exit_ = rollup.state.exits[0]
    parts = rollup.state.parts()
    with pytest.raises(ContractRevert, match="bad exit proof"):
        rollup.client.contract.transact(
            "withdraw", 2, 0, exit_.address, exit_.amount * 2, rollup.state.exit_tree.proof(0),
            parts.accounts_root, parts.channels_root, parts.deposits_processed,
            parts.exit_count, sender=rollup.operator,
        )  # fmt: skip


def test_censorship_is_answered_by_the_freeze_and_everyone_exits(rollup: Rollup) -> None:
    for who in range(4):
        rollup.deposit(who, ETH)
    rollup.post()
    rollup.send(1, Transfer(rollup.index(1), rollup.index(3), Wei(2 * 10**17), FEE))
    expires = Timestamp(rollup.chain.timestamp() + 10**6)
    rollup.send(
        1, OpenChannel(rollup.index(1), rollup.index(2), Wei(3 * 10**17), expires, Seconds(600))
    )
    rollup.send(2, Withdraw(rollup.index(2), Wei(10**17), FEE))
    final_batch = rollup.post()
    rollup.chain.time_travel(SEVEN_DAYS)
    assert rollup.client.is_final(final_batch)
    # User 3 asks from L1 to withdraw; user 4 deposits late. The sequencer ignores both.
    rollup.client.force_withdraw(rollup.accounts[3], ETH)
    rollup.deposit(4, ETH)
    rollup.send(3, Transfer(rollup.index(3), rollup.index(1), Wei(10**17), FEE))
    rollup.post(include_queue=False)
    with pytest.raises(ContractRevert, match="the sequencer still has time"):
        rollup.client.freeze(rollup.operator)
    rollup.chain.time_travel(TWELVE_HOURS + 1)
    rollup.client.freeze(rollup.operator)
    with pytest.raises(ContractRevert, match="rollup: frozen"):
        rollup.client.submit(rollup.batches[-1], rollup.state.deposits_processed, rollup.operator)
    # Everyone leaves with what the last final root says (a third party pays the gas).
    caller = rollup.accounts[5]
    final = rollup.replay(final_batch)
    paid: dict[Address, int] = {}

    def collect(address: Address, action) -> None:
        before = rollup.chain.balance(address)
        action()
        paid[address] = paid.get(address, 0) + rollup.chain.balance(address) - before

    for account in final.accounts:
        collect(account.address, lambda a=account: rollup.client.exit_account(final, a, caller))
    channel = final.channels[0]
    renter = final.accounts[channel.renter].address
    collect(renter, lambda: rollup.client.exit_channel(final, channel, caller))
    exit_ = final.exits[0]
    collect(exit_.address, lambda: rollup.client.withdraw(final, final_batch, 0, caller))
    rollup.client.new_operations()  # what was queued while the sequencer looked away
    late = [op for op in rollup.client._queued if op.queue_index >= final.deposits_processed]
    assert len(late) == 2
    for op in late:
        collect(op.address, lambda o=op: rollup.client.refund_queued(o, caller))
    for account in final.accounts:
        expected = account.balance
        if account.index == channel.renter:
            expected += channel.channel.deposit  # nothing proven for the provider: all back
        if account.address == exit_.address:
            expected += exit_.amount
        assert paid[account.address] == expected
    late_deposit = next(op for op in late if isinstance(op, Deposit))
    assert paid[late_deposit.address] == late_deposit.amount
    deposited = 5 * ETH
    assert sum(paid.values()) == deposited
    assert rollup.chain.balance(rollup.client.address) == ETH  # only the proposer's bond is left
    with pytest.raises(ContractRevert, match="account already exited"):
        rollup.client.exit_account(final, final.accounts[1], caller)


def test_an_honest_sequencer_includes_a_forced_withdrawal(rollup: Rollup) -> None:
    rollup.deposit(0, ETH)
    rollup.deposit(1, ETH)
    rollup.post()
    rollup.client.force_withdraw(rollup.accounts[1], 5 * ETH)  # more than it has: capped
    batch = rollup.post()
    assert rollup.state.exits[0].amount == ETH
    assert rollup.state.accounts[rollup.index(1)].balance == 0
    rollup.chain.time_travel(SEVEN_DAYS)
    recipient = address_of(rollup.accounts[1])
    before = rollup.chain.balance(recipient)
    rollup.client.withdraw(rollup.state, batch, 0, rollup.accounts[5])
    assert rollup.chain.balance(recipient) - before == ETH
    with pytest.raises(ContractRevert, match="nothing is waiting"):
        rollup.client.freeze(rollup.operator)


def test_batches_go_to_l1_as_blobs_or_calldata(rollup: Rollup, tmp_path) -> None:
    from l2gpu.core.l2.blob import BlobError, from_blob, to_blob
    from l2gpu.db import open_database
    from l2gpu.node.node import RollupNode

    # Blob batches are not fraud-provable yet: a default deployment refuses them.
    refusing = RollupNode(rollup.client, open_database(f"sqlite:///{tmp_path / 'r.db'}"),
                          rollup.operator, cosigners={}, posting="blob")  # fmt: skip
    rollup.deposit(0, ETH)
    refusing.follow_l1()
    refusing.seal_and_post()  # sealed and logged; L1 refuses the post: kept, and said
    assert refusing.health.degraded
    assert "blob batches are off on this deployment" in refusing.health.reason
    assert len(refusing.unposted) == 1
    assert refusing.posted == []
    # A deployment that allows them (for measurements) never lets one become final.
    client = RollupClient.deploy(rollup.chain, rollup.operator, genesis_root=bytes(
        rollup.client.contract.call("batch_root", 0)), allow_blobs=True)  # fmt: skip
    client.stake(rollup.operator, ETH)
    node = RollupNode(client, open_database(f"sqlite:///{tmp_path / 'n.db'}"),
                      rollup.operator, cosigners={}, posting="blob")  # fmt: skip
    client.deposit(rollup.accounts[0], rollup.bls[0], ETH)
    node.follow_l1()
    report = node.seal_and_post()
    index = node.posted[-1]
    rollup.chain.time_travel(SEVEN_DAYS + 1)
    assert client.contract.call("is_final", index) is False
    assert node.post_modes[index] == "blob"
    posted = node.post_receipts[index].event("BatchPosted").args
    assert posted["data_hash"][0] == 1  # an EIP-4844 versioned hash, not keccak of calldata
    # L1 cannot read the blob: the segment leaves came as calldata, and give the same root.
    genesis = bytes(client.contract.call("batch_root", 0))
    assert posted["segments_root"] == segments_root(segments(report.batch, genesis))
    assert posted["segment_count"] == 1
    assert from_blob(to_blob(report.batch.encode())) == report.batch.encode()
    with pytest.raises(BlobError, match="do not fit one blob"):
        to_blob(bytes(130_000))
    auto = RollupNode(rollup.client, open_database(f"sqlite:///{tmp_path / 'm.db'}"),
                      rollup.operator, cosigners={})  # fmt: skip
    # auto posts calldata, the fraud-provable form, even where a blob would be cheaper.
    assert auto.choose_posting(report.batch, 1) == "calldata"


def test_batches_are_due_by_size_or_by_age(rollup: Rollup, tmp_path) -> None:
    from l2gpu.db import open_database
    from l2gpu.node.node import RollupNode

    node = RollupNode(rollup.client, open_database(f"sqlite:///{tmp_path / 'n.db'}"),
                      rollup.operator, cosigners={})  # fmt: skip
    assert not node.batch_due(max_transactions=2, max_age=5, now=100.0)  # nothing waits
    rollup.deposit(0, ETH)
    node.follow_l1()
    assert not node.batch_due(max_transactions=2, max_age=5, now=100.0)  # one input, young
    assert node.batch_due(max_transactions=2, max_age=5, now=105.0)  # old enough
    rollup.deposit(1, ETH)
    node.follow_l1()
    assert node.batch_due(max_transactions=2, max_age=60, now=101.0)  # big enough
    node.seal_and_post()
    assert not node.batch_due(max_transactions=2, max_age=5, now=200.0)


def test_a_deposit_key_must_be_a_curve_point(rollup: Rollup) -> None:
    from l2gpu.core.crypto.bls_points import g2_point

    key = rollup.bls[1]
    contract = rollup.client.contract
    bogus = bytes([0x80]) + bytes(95)  # x = 0: no G2 point; a fraud proof could not use it
    with pytest.raises(ContractRevert, match="the BLS key is not a curve point"):
        contract.transact("deposit", bogus, key.prove_possession(), bytes(256),
                          sender=rollup.accounts[1], value=ETH)  # fmt: skip
    stale = g2_point(rollup.bls[2].public_key)
    with pytest.raises(ContractRevert, match="the BLS key is not a curve point"):
        contract.transact("deposit", key.public_key, key.prove_possession(), stale,
                          sender=rollup.accounts[1], value=ETH)  # fmt: skip
    # No key at all is fine (the account can co-sign once a later deposit sets one).
    contract.transact("deposit", b"", b"", b"", sender=rollup.accounts[1], value=ETH)
