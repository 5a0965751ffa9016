"""ZkRollup.vy's queue: deposits as core/zk/pubdata.py lays them out, account indices
given by L1 in the tree's lower half (the upper half is the lease channels'), and the
freeze that refunds deposits no batch took; and the checks of a batch that come
before its proof (the timestamp, each section's length)."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.zk.pubdata import BatchShape, encode_deposit
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.contracts.zk_rollup import Groth16Proof, ZkRollupClient, section_sizes
from l2gpu.zk.setup import Keys, dev_setup
from l2gpu.zk.toolchain import CompiledCircuit
from l2gpu.zk.verifier_contract import compile_verifier

ETH = 10**18
DELAY = 3600


@pytest.fixture(scope="module")
def preimage_keys(preimage_circuit: CompiledCircuit) -> Keys:
    return dev_setup(preimage_circuit)


SHAPE = BatchShape(2, 4, 1, 3, 2, 5, 2)


def deploy(chain: Chain, keys: Keys, depth: int) -> ZkRollupClient:
    # A verifier of one public input: the queue's rules do not reach it.
    built = compile_verifier(keys.verifying_key, title="preimage")
    verifier = chain.deploy(CompiledContract("Verifier", built.abi, built.bytecode, "generated"),
                            sender=chain.accounts[0])  # fmt: skip
    return ZkRollupClient.deploy(
        chain, chain.accounts[0], genesis_root=123, verifier=verifier,
        circuit_hash=bytes(32), shape=SHAPE, depth=depth, force_delay=DELAY,
    )  # fmt: skip


@pytest.fixture
def rollup(chain: Chain, preimage_keys: Keys) -> ZkRollupClient:
    return deploy(chain, preimage_keys, 8)


def key(seed: int) -> tuple[int, int]:
    point = eddsa.public_key(seed.to_bytes(32, "big"))
    return point.x, point.y


def test_a_deposit_is_queued_as_its_pubdata_slot(rollup: ZkRollupClient, chain: Chain) -> None:
    alice, bob = chain.accounts[1], chain.accounts[2]
    rollup.deposit(alice, key(1), ETH)
    rollup.deposit(bob, key(2), 2 * ETH)
    rollup.deposit(alice, key(1), 3 * ETH)  # the same account: the same index
    queued = rollup.queued_deposits()
    assert [(d.position, d.slot.index, d.slot.amount) for d in queued] == [
        (0, 1, ETH), (1, 2, 2 * ETH), (2, 1, 3 * ETH)]  # fmt: skip
    assert queued[0].slot.eth_address == bytes.fromhex(alice.address[2:])
    assert (queued[1].slot.ax, queued[1].slot.ay) == key(2)
    for deposit in queued:  # L1 stores the keccak256 of exactly the slot's 103 bytes
        assert rollup.entry_matches(deposit)
        stored = bytes(rollup.contract.call("queue", deposit.position))
        assert stored == keccak256(encode_deposit(deposit.slot))
    assert rollup.contract.call("account_count") == 2


def test_the_deployed_shape_reads_back_with_its_channel_sections(rollup: ZkRollupClient) -> None:
    assert rollup.shape() == SHAPE
    assert rollup.depth() == 8
    assert rollup.section_sizes() == (2 * 103, 4 * 12, 39, 3 * 29, 2 * 19, 5 * 3, 2 * 19)
    assert rollup.contract.call("MAX_ACCOUNT_INDEX") == 127
    assert rollup.contract.call("CHANNEL_BASE") == 128


def test_account_indices_stay_in_the_lower_half(chain: Chain, preimage_keys: Keys) -> None:
    """At depth 3, accounts are 1 to 3; leaves 4 to 7 are the channels'."""
    rollup = deploy(chain, preimage_keys, 3)
    for who in (1, 2, 3):
        rollup.deposit(chain.accounts[who], key(who), ETH)
    assert [d.slot.index for d in rollup.queued_deposits()] == [1, 2, 3]
    with pytest.raises(ContractRevert, match="no account index is left in the tree's lower half"):
        rollup.deposit(chain.accounts[4], key(4), ETH)
    assert rollup.account_index(chain.accounts[4].address) == 0
    rollup.deposit(chain.accounts[3], key(3), ETH)  # an account L1 knows still deposits
    assert [d.slot.index for d in rollup.queued_deposits()] == [1, 2, 3, 3]


NO_PROOF = Groth16Proof((0, 0), ((0, 0), (0, 0)), (0, 0))


def test_a_batch_dated_after_its_block_or_misshaped_is_refused_before_its_proof(
    rollup: ZkRollupClient, chain: Chain
) -> None:
    """Checks that need no proof: each refusal comes before the verifier is called
    (a batch dated before the last accepted one needs an accepted batch, hence a
    proof: test_zk_rollup_batches.py)."""
    good = tuple(bytes(size) for size in section_sizes(SHAPE))

    def submit(timestamp: int, sections: tuple[bytes, ...] = good, fee_account: int = 1):
        d, t, w, o, c, r, f = sections
        return rollup.submit_batch(
            new_root=5, fee_account=fee_account, timestamp=timestamp, deposit_count=0,
            sections=(d, t, w, o, c, r, f), proof=NO_PROOF, sender=chain.accounts[0],
            gas=3_000_000,
        )  # fmt: skip

    assert rollup.last_timestamp() == 0
    with pytest.raises(ContractRevert, match="after this block's"):
        submit(chain.timestamp() + 3600)
    for position, name in enumerate(("open", "close", "reclaim", "forced-exit"), start=3):
        bad = list(good)
        bad[position] += b"\0"
        with pytest.raises(ContractRevert, match=f"the {name} section has the wrong length"):
            submit(chain.timestamp(), tuple(bad))
    with pytest.raises(ContractRevert, match="the fee account is not an account index"):
        submit(chain.timestamp(), fee_account=128)  # the first channel index
    # Everything L1 checks itself holds: only the proof is left to refuse it.
    with pytest.raises(ContractRevert, match="verifier|does not verify"):
        submit(chain.timestamp())
    assert rollup.batch_count() == 0


def test_bad_deposits_are_refused_with_reasons(rollup: ZkRollupClient, chain: Chain) -> None:
    alice = chain.accounts[1]
    rollup.deposit(alice, key(1), ETH)
    with pytest.raises(ContractRevert, match="the key of your first deposit"):
        rollup.deposit(alice, key(2), ETH)
    with pytest.raises(ContractRevert, match="deposit some wei"):
        rollup.deposit(alice, key(1), 0)
    with pytest.raises(ContractRevert, match="field elements"):
        rollup.deposit(chain.accounts[2], (2**254, 1), ETH)
    with pytest.raises(ContractRevert, match="not a Baby Jubjub point"):
        rollup.deposit(chain.accounts[2], (1, 2), ETH)  # its money could never move
    assert len(rollup.queued_deposits()) == 1


def test_an_overdue_deposit_freezes_the_rollup_and_is_refunded(
    rollup: ZkRollupClient, chain: Chain
) -> None:
    alice, anyone = chain.accounts[1], chain.accounts[3]
    rollup.deposit(alice, key(1), ETH)
    with pytest.raises(ContractRevert, match="no queued deposit or forced exit is overdue yet"):
        rollup.freeze(anyone)
    (deposit,) = rollup.queued_deposits()
    with pytest.raises(ContractRevert, match="only when the rollup is frozen"):
        rollup.refund_deposit(deposit, anyone)
    chain.time_travel(DELAY + 1)
    rollup.freeze(anyone)
    with pytest.raises(ContractRevert, match="frozen"):
        rollup.deposit(alice, key(1), ETH)
    rollup.refund_deposit(deposit, anyone)  # anyone may trigger it; alice is credited
    with pytest.raises(ContractRevert, match="refunded already"):
        rollup.refund_deposit(deposit, anyone)
    assert rollup.credit(alice.address) == ETH
    before = chain.balance(alice.address)
    receipt = rollup.withdraw_credit(alice)
    assert receipt.gas_used > 0
    assert chain.balance(alice.address) > before + ETH - 10**16  # less its gas
    assert rollup.credit(alice.address) == 0
