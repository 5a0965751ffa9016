"""Registering commitments (the pure rules and the operator's folder), the tiers' trees,
and the secrets file."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.airdrop.claim_proof import generate_identity
from l2gpu.airdrop.operator import AirdropOperator
from l2gpu.airdrop.vault import Erased
from l2gpu.core.airdrop import registration as reg
from l2gpu.core.airdrop.eligibility import Eligible
from l2gpu.core.airdrop.identity import BadIdentity, Identity
from l2gpu.core.airdrop.tree import CommitmentTree, NotInTree, empty_roots, root_of
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
ACCOUNTS = [k.address for k in KEYS]


def registry() -> reg.RegistryState:
    return reg.RegistryState(
        airdrop_id=7, domain=reg.registration_domain(31337),
        eligible={ACCOUNTS[0]: "innovators", ACCOUNTS[1]: "early_adopters",
                  ACCOUNTS[2]: "early_adopters"},
    )  # fmt: skip


def register(state: reg.RegistryState, who: int, commitment: int, signer: int | None = None):
    key = KEYS[who if signer is None else signer]
    signature = reg.sign_registration(key, state.domain, state.airdrop_id, commitment)
    return reg.state_transition(state, reg.Register(ACCOUNTS[who], commitment, signature))


def refusal(events: list) -> str:
    assert len(events) == 1, events
    assert isinstance(events[0], reg.Refused), events
    return str(events[0].problem)


def test_an_eligible_account_registers_once_and_the_tiers_are_sorted() -> None:
    state = registry()
    state, events = register(state, 0, 11)
    assert events == [reg.Registered(ACCOUNTS[0], "innovators")]
    state, _ = register(state, 2, 33)
    state, _ = register(state, 1, 22)
    state, events = reg.state_transition(state, reg.Publish())
    assert events == [reg.TiersFixed((("early_adopters", (22, 33)), ("innovators", (11,))))]
    assert "already published" in refusal(register(state, 3, 44)[1])


@pytest.mark.parametrize(
    ("who", "commitment", "signer", "problem"),
    [
        (3, 44, None, "not eligible"),
        (1, 44, 0, "not signed by the account"),
        (1, 0, None, "nonzero element"),
        (1, poseidon.FIELD_MODULUS, None, "nonzero element"),
    ],
)
def test_bad_registrations_are_refused(who: int, commitment: int, signer, problem: str) -> None:
    state = registry()
    after, events = register(state, who, commitment, signer)
    assert problem in refusal(events)
    assert after == state


def test_a_commitment_registered_twice_is_refused_as_is_a_second_commitment() -> None:
    state, _ = register(registry(), 0, 11)
    assert "already registered a commitment" in refusal(register(state, 0, 12)[1])
    assert "commitment is already registered" in refusal(register(state, 1, 11)[1])


def test_erasure_forgets_the_link_and_publication_needs_a_registration() -> None:
    state, _ = register(registry(), 0, 11)
    state, events = reg.state_transition(state, reg.Erase(ACCOUNTS[0]))
    assert events == [reg.Forgotten(ACCOUNTS[0], False)]
    assert ACCOUNTS[0] not in state.eligible
    assert not state.registered
    assert "no account has registered" in refusal(reg.state_transition(state, reg.Publish())[1])
    assert "holds nothing" in refusal(reg.state_transition(state, reg.Erase(ACCOUNTS[0]))[1])


def test_every_leaf_s_path_leads_to_the_root_and_others_have_none() -> None:
    leaves = [poseidon.hash([i]) for i in range(1, 8)]
    tree = CommitmentTree.build(leaves, depth=4)
    for leaf in leaves:
        assert root_of(leaf, tree.path(leaf)) == tree.root
    assert CommitmentTree.build([], depth=4).root == empty_roots(4)[4]
    with pytest.raises(NotInTree):
        tree.path(poseidon.hash([99]))
    with pytest.raises(L2gpuError, match="twice"):
        CommitmentTree.build([leaves[0], leaves[0]], depth=4)
    with pytest.raises(L2gpuError, match="do not fit"):
        CommitmentTree.build([poseidon.hash([i]) for i in range(1, 18)], depth=4)


def test_a_secrets_file_round_trips_and_a_damaged_one_is_refused() -> None:
    identity = generate_identity()
    assert Identity.from_json(identity.to_json()) == identity
    for text in ("", "{}", '{"format": "l2gpu-airdrop-identity/1", "nullifier": "x"}',
                 identity.to_json().replace('"nullifier": "', '"nullifier": "-')):  # fmt: skip
        with pytest.raises(BadIdentity):
            Identity.from_json(text)


def eligible(account: Address, tier: str) -> Eligible:
    return Eligible(str(account).lower(), tier, 10**17, 1_700_000_000, 7200)


def test_the_operator_folder_keeps_registrations_across_restarts_and_erases(
    tmp_path: Path,
) -> None:
    operator = AirdropOperator(tmp_path, name="t", chain_id=31337)
    operator.record_eligibility([eligible(ACCOUNTS[0], "innovators"),
                                 eligible(ACCOUNTS[1], "early_adopters")])  # fmt: skip
    sign = reg.sign_registration(KEYS[0], operator.domain, operator.airdrop_id, 11)
    assert operator.register(ACCOUNTS[0], 11, sign) == "innovators"
    again = AirdropOperator(tmp_path, name="t", chain_id=31337)
    assert again.state().registered == {ACCOUNTS[0]: 11}
    with pytest.raises(L2gpuError, match="already registered"):
        again.register(ACCOUNTS[0], 11, sign)
    forged = reg.sign_registration(KEYS[0], operator.domain, operator.airdrop_id, 12)
    with pytest.raises(L2gpuError, match="not signed by the account"):
        again.register(ACCOUNTS[1], 12, forged)
    assert again.erase(ACCOUNTS[0]) == 4  # tier, reward, usage, commitment
    with pytest.raises(Erased):
        again.vault.get(str(ACCOUNTS[0]).lower(), "usage")
    assert ACCOUNTS[0] not in again.state().eligible


def test_publication_resumes_after_a_crash_and_never_funds_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chain
) -> None:
    """The operator dies after L1 took the tiers but before published.json was written;
    run again, publish finishes on the same contract, paid once."""
    from l2gpu.airdrop import operator as operator_module
    from l2gpu.airdrop.claim_proof import compile_claim
    from l2gpu.airdrop.contract import AirdropClient
    from l2gpu.l1.keys import embedded_dev_accounts
    from l2gpu.zk.setup import dev_setup

    operator = AirdropOperator(tmp_path, name="t", chain_id=chain.chain_id)
    operator.record_eligibility([eligible(ACCOUNTS[0], "innovators")])
    commitment = generate_identity().commitment()
    operator.register(ACCOUNTS[0], commitment,
                      reg.sign_registration(KEYS[0], operator.domain, operator.airdrop_id,
                                            commitment))  # fmt: skip
    deployer, treasury = embedded_dev_accounts()[:2]
    keys = dev_setup(compile_claim())
    write = operator_module._write_atomically

    def crash_on_published(path: Path, text: str) -> None:
        if path.name == operator_module.PUBLISHED:
            raise OSError("disk full")
        write(path, text)

    monkeypatch.setattr(operator_module, "_write_atomically", crash_on_published)
    with pytest.raises(OSError, match="disk full"):
        operator.publish(chain, deployer, keys=keys,
                         treasury=Address.from_hex(treasury.address),
                         deadline=chain.timestamp() + 3600)  # fmt: skip
    assert operator.phase == "publishing"
    late = generate_identity().commitment()
    with pytest.raises(L2gpuError, match="already published"):  # the tiers are fixed
        operator.register(ACCOUNTS[1], late, reg.sign_registration(
            KEYS[1], operator.domain, operator.airdrop_id, late))  # fmt: skip
    monkeypatch.setattr(operator_module, "_write_atomically", write)
    published = AirdropOperator(tmp_path, name="t", chain_id=chain.chain_id).publish(
        chain, deployer, keys=keys, treasury=Address.from_hex(treasury.address),
        deadline=chain.timestamp() + 3600,
    )  # fmt: skip
    assert chain.balance(published.address) == 10**17  # one member's reward, paid once
    assert AirdropClient.at(chain, published.address).tiers()[0].members == 1
    assert operator.phase == "published"
    assert "commitment" not in operator.vault.export(str(ACCOUNTS[0]).lower())


def test_eligibility_again_leaves_out_an_erased_account(tmp_path: Path) -> None:
    operator = AirdropOperator(tmp_path, name="t", chain_id=31337)
    both = [eligible(ACCOUNTS[0], "innovators"), eligible(ACCOUNTS[1], "early_adopters")]
    assert operator.record_eligibility(both) == (2, 0)
    operator.erase(ACCOUNTS[0])
    assert operator.record_eligibility(both) == (1, 1)
    assert set(operator.state().eligible) == {ACCOUNTS[1]}


def test_a_folder_of_another_airdrop_is_refused(tmp_path: Path) -> None:
    first = AirdropOperator(tmp_path, name="t", chain_id=31337)
    with pytest.raises(L2gpuError, match="holds airdrop 't'"):
        AirdropOperator(tmp_path, name="other", chain_id=31337)
    assert AirdropOperator(tmp_path / "b", name="t", chain_id=31337).airdrop_id != first.airdrop_id
