"""The airdrop suite on a small simulated market: its figures come from what ran, and
its search for personal data on chain finds what is there."""

from __future__ import annotations

import pytest

from l2gpu.bench import airdrop


def test_the_airdrop_suite_measures_a_whole_airdrop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2GPU_BENCH_AIRDROP_ACCOUNTS", "120")
    monkeypatch.setenv("L2GPU_BENCH_AIRDROP_CLAIMS", "2")
    figures = airdrop.run()
    assert figures["claims"] == 2
    assert figures["personal_data_bytes_on_chain"] == 0
    assert figures["erased_unreadable"] is True
    assert sum(figures["anonymity_set_per_tier"].values()) == sum(figures["eligible"].values())
    assert 250_000 < figures["claim_gas_median"] < 400_000
    # The claim without a fee saves the relayer's transfer: 9,000 less its stipend.
    assert figures["claim_gas_median"] - figures["claim_gas_without_fee"] > 5_000
    assert 0 < figures["prove_seconds_per_claim_median"] <= figures["prove_seconds_per_claim_max"]
    assert figures["claim_circuit_constraints"] > 5_000  # 20 Poseidon(2) levels at least
    assert figures["publish_l1_bytes"] > 0
    assert figures["deploy_gas"] > 1_000_000  # the verifying key's checks, pairing included


def test_the_search_for_personal_data_finds_an_address_or_a_commitment() -> None:
    account, commitment = bytes(range(20)), (12345).to_bytes(32, "big")
    clean = {"calldata": b"\x01" * 100, "logs": b""}
    assert airdrop._personal_bytes([clean], [account], [commitment]) == 0
    leaky = {"calldata": b"\x00" * 12 + account, "logs": commitment + account}
    assert airdrop._personal_bytes([clean, leaky], [account], [commitment]) == 20 + 32 + 20
