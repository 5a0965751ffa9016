"""The shards suite's in-process part runs and reports every figure (the process part,
``measure_shards``, is what ``tests/shards/test_up_shards.py`` runs for real). The zk
shards' moves are measured in ``tests/zk/test_zk_shard_moves_bench.py``, beside the
other modules that prove with the tests' batch keys."""

from __future__ import annotations

from l2gpu.bench import shard_moves, shards
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.shards.routing import shard_of


def test_a_move_between_shards_is_measured_on_both_paths() -> None:
    moves = shard_moves.measure_moves()
    # A relay proves an exit (24 hashes) and carries it: more than a front, which does not.
    assert moves["move_slow_gas"] > moves["move_fast_gas"] > 21_000
    assert moves["move_slow_l1_bytes"] > 24 * 32 > moves["move_fast_l1_bytes"] > 100
    assert moves["move_slow_waits_window_s"] == 3600
    assert moves["move_fast_s"] > 0
    assert moves["move_slow_s_after_window"] > 0
    # Through the daemon: the offer over HTTP, its re-execution of the source batch,
    # the front, the target's next batch.
    parts = (
        moves["move_fast_via_lp_check_and_front_s"]
        + moves["move_fast_via_lp_offer_ms_loopback"] / 1000
    )
    assert moves["move_fast_via_lp_s"] >= round(parts, 3) - 0.002
    assert moves["move_fast_via_lp_offer_ms_loopback"] > 0
    assert moves["bridge_deposit_gas"] > 21_000


def test_client_keys_are_spread_over_the_shards_by_the_rule() -> None:
    groups = shards._keys_by_shard(4, 8)
    assert [len(g) for g in groups] == [8] * 4
    for number, group in enumerate(groups):
        assert {shard_of(PrivateKey(k).address, 4) for k in group} == {number}


def test_the_hubs_work_per_second_is_measured() -> None:
    hop = shards.measure_hop(seconds=20)
    assert hop["hop_seconds_forwarded"] == 20
    assert 0 < hop["hop_forward_ms_in_process"] < 100


def test_a_routed_lease_is_measured_over_the_hubs_http_api() -> None:
    hop = shards.measure_hop_http(seconds=10)
    assert hop["hop_payments"] == 10
    assert 0 < hop["hop_payment_ms_loopback_median"] <= hop["hop_payment_ms_loopback_p95"]
    # an open and a co-signed close on each shard, nothing per second
    assert 0 < hop["hop_lease_l2_bytes_renter_shard"] <= 40
    assert 0 < hop["hop_lease_l2_bytes_provider_shard"] <= 40
    assert hop["hop_closes"] == "provider's close: cooperative, hub claimed: True"


def test_a_virtual_lease_is_measured_with_no_hub_per_payment() -> None:
    virtual = shards.measure_hop_http(seconds=10, virtual=True)
    assert virtual["virtual_payments"] == 10
    assert virtual["virtual_payment_ms_in_process_median"] > 0
    assert (
        virtual["virtual_payment_ms_in_process_median"]
        <= (virtual["virtual_payment_ms_in_process_p95"])
    )
    # each end: an open with the virtual terms (73 bytes) and a close that carries the
    # voucher (88): the provider's on its shard, the hub's claim on the renter's
    assert virtual["virtual_lease_l2_bytes_renter_shard"] == 73 + 88
    assert virtual["virtual_lease_l2_bytes_provider_shard"] == 73 + 88
    assert virtual["virtual_closes"] == "provider's close: provider, hub claimed: True"
    assert 0 < virtual["virtual_hub_claim_s_from_close"] < 60


def test_a_virtual_payment_through_the_market_is_timed_on_loopback() -> None:
    """The sharded demo's lease: every voucher the renter posted to the market's API."""
    figures = shard_moves.measure_virtual_market_payment()
    assert figures["virtual_payment_loopback_vouchers"] >= 2
    assert 0 < figures["virtual_payment_ms_loopback_median"] <= figures[
        "virtual_payment_ms_loopback_p95"]  # fmt: skip
