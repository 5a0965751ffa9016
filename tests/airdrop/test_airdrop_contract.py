"""Airdrop.vy with real claim proofs: the faults issue 19 names, each a test, and the
contract checked call by call against its specification (``core/airdrop/claims``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from l2gpu.airdrop.claim_proof import ClaimProof, compile_claim, generate_identity, prove_claim
from l2gpu.airdrop.contract import (
    CONTRACT_SOURCE,
    AirdropClient,
    verifying_key_args,
    verifying_key_hash,
)
from l2gpu.core.airdrop import claims as spec
from l2gpu.core.airdrop.identity import Identity, airdrop_id_of
from l2gpu.core.airdrop.tree import CommitmentTree, NotInTree
from l2gpu.core.crypto.poseidon_constants import FIELD_MODULUS
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, compile_contract
from l2gpu.l1.errors import ContractRevert
from l2gpu.l1.keys import embedded_dev_accounts
from l2gpu.zk.prover import Proof
from l2gpu.zk.setup import Keys, dev_setup

REWARDS = (3 * 10**17, 10**17)
WEEK = 7 * 86400


@pytest.fixture(scope="module")
def keys() -> Keys:
    """The claim circuit's development keys (compiled and made once, cached by hash)."""
    return dev_setup(compile_claim())


@dataclass
class Drop:
    """A published airdrop: two tiers of members, their secrets and trees."""

    client: AirdropClient
    operator: LocalAccount
    relayer: LocalAccount
    treasury: Address
    members: tuple[tuple[Identity, ...], tuple[Identity, ...]]
    trees: tuple[CommitmentTree, CommitmentTree]
    keys: Keys

    def prove(self, who: Identity, tier: int, recipient: Address, fee: int = 0,
              relayer: LocalAccount | None = None) -> ClaimProof:  # fmt: skip
        sender = relayer or self.relayer
        return prove_claim(
            who, self.trees[tier], target=self.client.target(), recipient=recipient,
            relayer=Address.from_hex(sender.address), fee=fee, keys=self.keys,
        )  # fmt: skip


@pytest.fixture
def drop(chain: Chain, keys: Keys) -> Drop:
    operator, relayer, treasury = embedded_dev_accounts()[:3]
    members = (
        tuple(generate_identity() for _ in range(3)),
        tuple(generate_identity() for _ in range(2)),
    )
    trees = (
        CommitmentTree.build(sorted(m.commitment() for m in members[0])),
        CommitmentTree.build(sorted(m.commitment() for m in members[1])),
    )
    client = AirdropClient.deploy(
        chain, operator, keys=keys, treasury=Address.from_hex(treasury.address),
        airdrop_id=airdrop_id_of(chain.chain_id, "test drop", b"salt"),
        deadline=chain.timestamp() + WEEK,
    )  # fmt: skip
    tiers = [spec.Tier(t.root, r, len(m)) for t, r, m in zip(trees, REWARDS, members, strict=True)]
    client.publish(operator, tiers)
    return Drop(client, operator, relayer, Address.from_hex(treasury.address), members, trees, keys)


def fresh() -> Address:
    return Address.from_hex(Account.create().address)


def test_a_relayed_claim_pays_a_fresh_address_and_leaves_no_personal_data(
    chain: Chain, drop: Drop
) -> None:
    recipient, fee = fresh(), 10**15
    relayer_before = chain.balance(Address.from_hex(drop.relayer.address))
    claim = drop.prove(drop.members[0][1], 0, recipient, fee)
    receipt = drop.client.claim(drop.relayer, claim)
    assert chain.balance(recipient) == REWARDS[0] - fee
    assert drop.client.is_spent(claim.nullifier_hash)
    assert chain.balance(Address.from_hex(drop.relayer.address)) > relayer_before - 10**15
    # The chain learns the root, the nullifier hash and the recipient: no commitment.
    tx = chain.w3.eth.get_transaction(receipt.tx_hash)
    calldata = bytes(tx["input"])
    for member in drop.members[0]:
        assert member.commitment().to_bytes(32, "big") not in calldata
    assert [t.claimed for t in drop.client.tiers()] == [1, 0]


def test_a_proof_for_another_root_is_refused(drop: Drop) -> None:
    claim = drop.prove(drop.members[1][0], 1, fresh())
    moved = ClaimProof(claim.proof, drop.trees[0].root, claim.nullifier_hash, claim.recipient,
                       claim.relayer, claim.fee)  # fmt: skip
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        drop.client.claim(drop.relayer, moved)


def test_a_reused_nullifier_is_refused_even_to_another_recipient(drop: Drop) -> None:
    who = drop.members[0][0]
    drop.client.claim(drop.relayer, drop.prove(who, 0, fresh()))
    with pytest.raises(ContractRevert, match="already claimed"):
        drop.client.claim(drop.relayer, drop.prove(who, 0, fresh()))


@pytest.mark.parametrize("field", ["recipient", "fee", "relayer", "nullifier_hash"])
def test_tampered_public_inputs_are_refused(chain: Chain, drop: Drop, field: str) -> None:
    claim = drop.prove(drop.members[0][2], 0, fresh(), fee=10**15)
    sender = drop.relayer
    if field == "recipient":
        claim = ClaimProof(claim.proof, claim.root, claim.nullifier_hash, fresh(),
                           claim.relayer, claim.fee)  # fmt: skip
    elif field == "fee":
        claim = ClaimProof(claim.proof, claim.root, claim.nullifier_hash, claim.recipient,
                           claim.relayer, claim.fee * 10)  # fmt: skip
    elif field == "relayer":  # a front-runner sends the same claim from its own address
        sender = embedded_dev_accounts()[5]
    else:
        claim = ClaimProof(claim.proof, claim.root, claim.nullifier_hash + 1, claim.recipient,
                           claim.relayer, claim.fee)  # fmt: skip
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        drop.client.claim(sender, claim)
    assert chain.balance(claim.recipient) == 0


def test_a_claim_after_the_deadline_is_refused_and_the_rest_returns_to_the_treasury(
    chain: Chain, drop: Drop
) -> None:
    drop.client.claim(drop.relayer, drop.prove(drop.members[1][1], 1, fresh()))
    late = drop.prove(drop.members[0][0], 0, fresh())
    with pytest.raises(ContractRevert, match="the claim period has not ended"):
        drop.client.sweep(drop.relayer)
    chain.time_travel(WEEK + 1)
    with pytest.raises(ContractRevert, match="the claim period has ended"):
        drop.client.claim(drop.relayer, late)
    before = chain.balance(drop.treasury)
    drop.client.sweep(drop.relayer)
    assert chain.balance(drop.treasury) - before == 3 * REWARDS[0] + REWARDS[1]
    assert chain.balance(drop.client.address) == 0


def test_a_claimer_outside_the_set_cannot_prove_nor_claim_with_its_own_tree(drop: Drop) -> None:
    outsider = generate_identity()
    with pytest.raises(NotInTree):
        drop.prove(outsider, 0, fresh())
    own_tree = CommitmentTree.build([outsider.commitment()])
    claim = prove_claim(
        outsider, own_tree, target=drop.client.target(), recipient=fresh(),
        relayer=Address.from_hex(drop.relayer.address), fee=0, keys=drop.keys,
    )  # fmt: skip
    with pytest.raises(ContractRevert, match="unknown root"):
        drop.client.claim(drop.relayer, claim)


def test_a_proof_is_good_for_one_deployment_only(chain: Chain, drop: Drop) -> None:
    """A second deployment with the same airdrop id and the same roots (an operator's
    publication run twice) does not take the first one's claim."""
    twin = AirdropClient.deploy(
        chain, drop.operator, keys=drop.keys, treasury=drop.treasury,
        airdrop_id=drop.client.airdrop_id, deadline=drop.client.deadline,
    )  # fmt: skip
    tiers = [spec.Tier(t.root, r, len(m))
             for t, r, m in zip(drop.trees, REWARDS, drop.members, strict=True)]  # fmt: skip
    twin.publish(drop.operator, tiers)
    claim = drop.prove(drop.members[0][0], 0, fresh())
    drop.client.claim(drop.relayer, claim)
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        twin.claim(drop.relayer, claim)


def test_a_malformed_proof_is_refused(drop: Drop) -> None:
    claim = drop.prove(drop.members[0][0], 0, fresh())
    blob = bytearray(claim.proof.to_bytes())
    blob[0:32] = (2**256 - 1).to_bytes(32, "big")  # a.x not below the base field's p
    bad = Proof.from_bytes(bytes(blob), claim.proof.public)
    forged = ClaimProof(
        bad, claim.root, claim.nullifier_hash, claim.recipient, claim.relayer, claim.fee
    )
    with pytest.raises(ContractRevert, match="the proof is malformed"):
        drop.client.claim(drop.relayer, forged)
    # The claim itself was not spent: the honest proof still goes through.
    drop.client.claim(drop.relayer, claim)


def test_the_contract_follows_its_specification_call_by_call(chain: Chain, drop: Drop) -> None:
    """Seeded random claims, good and bad, to both; reasons and payments must agree."""
    rng = random.Random(19)
    state = spec.AirdropState(
        operator=Address.from_hex(drop.operator.address), treasury=drop.treasury,
        airdrop_id=drop.client.airdrop_id, deadline=drop.client.deadline,
        tiers=tuple(spec.Tier(t.root, r, len(m))
                    for t, r, m in zip(drop.trees, REWARDS, drop.members, strict=True)),
        balance=3 * REWARDS[0] + 2 * REWARDS[1], claimed=(0, 0),
    )  # fmt: skip
    relayer = Address.from_hex(drop.relayer.address)
    for _ in range(8):
        tier = rng.randrange(2)
        who = rng.choice(drop.members[tier])
        fee = rng.choice([0, 10**15, REWARDS[tier] + 1])
        claim = drop.prove(who, tier, fresh(), min(fee, REWARDS[tier]))
        tamper = rng.choice(["none", "none", "fee", "root"])
        if tamper == "fee":
            claim = ClaimProof(claim.proof, claim.root, claim.nullifier_hash, claim.recipient,
                               claim.relayer, fee)  # fmt: skip
        elif tamper == "root":
            claim = ClaimProof(claim.proof, drop.trees[1 - tier].root, claim.nullifier_hash,
                               claim.recipient, claim.relayer, claim.fee)  # fmt: skip
        valid = tamper == "none" or (tamper == "fee" and fee == min(fee, REWARDS[tier]))
        inp = spec.Claim(relayer, claim.root, claim.nullifier_hash, claim.recipient, claim.fee,
                         proof_valid=valid)  # fmt: skip
        state, events = spec.state_transition(state, inp, now=chain.timestamp() + 1)
        if isinstance(events[0], spec.Rejected):
            with pytest.raises(ContractRevert) as caught:
                drop.client.claim(drop.relayer, claim)
            assert caught.value.reason == events[0].reason
        else:
            drop.client.claim(drop.relayer, claim)
            paid = next(e for e in events if isinstance(e, spec.Paid) and e.to == claim.recipient)
            assert chain.balance(claim.recipient) == paid.amount
    assert chain.balance(drop.client.address) == state.balance
    assert [t.claimed for t in drop.client.tiers()] == list(state.claimed)


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Keys of another setup of the same circuit (its own cache: new secrets)."""
    return dev_setup(compile_claim(), cache_dir=tmp_path_factory.mktemp("other-setup"))


def test_the_contract_keeps_the_hash_of_the_verifying_key_it_checks_against(
    drop: Drop, other_keys: Keys
) -> None:
    assert drop.client.verifying_key_hash == verifying_key_hash(drop.keys.verifying_key)
    assert verifying_key_hash(other_keys.verifying_key) != drop.client.verifying_key_hash


def test_a_proof_made_with_other_keys_does_not_verify(drop: Drop, other_keys: Keys) -> None:
    claim = prove_claim(
        drop.members[0][0], drop.trees[0], target=drop.client.target(), recipient=fresh(),
        relayer=Address.from_hex(drop.relayer.address), fee=0, keys=other_keys,
    )  # fmt: skip
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        drop.client.claim(drop.relayer, claim)


def deploy_with(chain: Chain, key: tuple) -> None:  # type: ignore[type-arg]
    operator = embedded_dev_accounts()[0]
    chain.deploy(
        compile_contract(CONTRACT_SOURCE), operator.address, 1, chain.timestamp() + WEEK, *key,
        sender=operator,
    )  # fmt: skip


@pytest.mark.parametrize("broken", ["alpha", "ic", "ic3", "delta"])
def test_a_verifying_key_off_the_curve_is_refused_at_deployment(
    chain: Chain, keys: Keys, broken: str
) -> None:
    alpha, beta, gamma, delta, ic = verifying_key_args(keys.verifying_key)
    if broken == "alpha":
        alpha = [alpha[0], alpha[1] + 1]
    elif broken == "ic":
        ic = [*ic[:4], [ic[4][0], ic[4][1] + 1]]
    elif broken == "ic3":  # the airdrop id's point: folded into IC[0] by an ecMul
        ic = [*ic[:3], [ic[3][0], ic[3][1] + 1], ic[4]]
    else:
        delta = [delta[0], [delta[1][0], delta[1][1] + 1]]
    with pytest.raises(ContractRevert, match="the verifying key is not on the curve"):
        deploy_with(chain, (alpha, beta, gamma, delta, ic))


@pytest.mark.parametrize("at_infinity", ["alpha", "beta", "gamma", "delta", "ic0", "ic1", "ic2",
                                         "ic3", "ic4"])  # fmt: skip
def test_a_verifying_key_with_a_point_at_infinity_is_refused(
    chain: Chain, keys: Keys, at_infinity: str
) -> None:
    """With alpha, beta or gamma at infinity anyone forges a proof of anything; with
    delta the witness is unbound; with an IC point its public input is free."""
    key = list(verifying_key_args(keys.verifying_key))
    g1, g2 = [0, 0], [[0, 0], [0, 0]]
    if at_infinity.startswith("ic"):
        index = int(at_infinity[2:])
        key[4] = [g1 if i == index else p for i, p in enumerate(key[4])]
    else:
        position = ["alpha", "beta", "gamma", "delta"].index(at_infinity)
        key[position] = g1 if at_infinity == "alpha" else g2
    with pytest.raises(ContractRevert, match="the verifying key has a point at infinity"):
        deploy_with(chain, tuple(key))


def test_a_verifying_key_whose_delta_is_gamma_is_refused(chain: Chain, keys: Keys) -> None:
    """What snarkjs writes before the first phase-2 contribution: under it, (alpha,
    beta, -x) proves any public inputs x without a secret."""
    alpha, beta, gamma, _, ic = verifying_key_args(keys.verifying_key)
    with pytest.raises(ContractRevert, match="no phase-2 contribution"):
        deploy_with(chain, (alpha, beta, gamma, gamma, ic))


def test_the_tier_view_refuses_a_root_above_the_field(drop: Drop) -> None:
    root = drop.trees[0].root
    assert drop.client.contract.call("tier", root)[2] == 3
    with pytest.raises(ContractRevert, match="the root is not a field element"):
        drop.client.contract.call("tier", root + FIELD_MODULUS)


def test_more_than_eight_tiers_are_refused_before_sending(drop: Drop) -> None:
    tiers = [spec.Tier(i + 1, 1, 1) for i in range(9)]
    with pytest.raises(L2gpuError, match="one to 8 tiers, not 9"):
        drop.client.publish(drop.operator, tiers)
