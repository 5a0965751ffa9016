"""`l2gpu settle` on anvil: a close that `rent` started is recorded, settled by the
command once its deadline has passed (before it, the command says when, in local
time), and the renter has its deposit back to the wei (issue #23: a failed lease's
deposit came back only if the renter remembered a command an hour later)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_account import Account

from l2gpu.cli.lease_rails import _abandon
from l2gpu.core.types import Address, Wei
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.payments.closing import ClosingChannels
from l2gpu.payments.rails import CHALLENGE_PERIOD, L1ChannelRail

from ..conftest import ANVIL_KEYS
from .helpers import cli

RENTER_KEY, PROVIDER_KEY = ANVIL_KEYS
ETHER = 10**18


def test_settle_finishes_the_close_rent_started(
    capsys: pytest.CaptureFixture[str], anvil_url: str, tmp_path: Path
) -> None:
    renter = Account.from_key(RENTER_KEY)
    provider = Address.from_hex(Account.from_key(PROVIDER_KEY).address)
    chain = connect_jsonrpc(anvil_url, [renter])
    manager = ChannelManagerClient.deploy(chain, renter)
    rail = L1ChannelRail(manager, renter)
    opened = rail.open(provider, Wei(ETHER), lifetime=7_200)
    # the lease failed after 0.1 ether of vouchers: rent starts the close and records it
    ctx = SimpleNamespace(obj=SimpleNamespace(data_dir=tmp_path))
    note = _abandon(ctx, rail, opened.description, None, Wei(ETHER // 10))  # type: ignore[arg-type]
    assert "'l2gpu settle'" in note
    assert [p.channel.channel_id for p in ClosingChannels(tmp_path).pending()] == [opened.params.id]

    def settle() -> list[dict]:  # type: ignore[type-arg]
        code, out, err = cli(capsys, "--l1-rpc", anvil_url, "--data-dir", str(tmp_path),
                             "--private-key", RENTER_KEY, "settle", "--json")  # fmt: skip
        assert code == 0, (out, err)
        return list(json.loads(out))

    (early,) = settle()
    assert early["state"] == "waiting"
    assert "can be settled from" in early["note"]
    chain.time_travel(CHALLENGE_PERIOD + 1)
    before = chain.balance(Address.from_hex(renter.address))
    (done,) = settle()
    assert done["state"] == "settled", done
    assert "0.9 ETH back to you" in done["note"]
    gained = chain.balance(Address.from_hex(renter.address)) - before
    assert 0 < ETHER * 9 // 10 - gained < ETHER // 1000  # the refund, less the settle's gas
    assert settle() == []  # nothing left to finish
    code, out, _ = cli(capsys, "--l1-rpc", anvil_url, "--data-dir", str(tmp_path),
                       "--private-key", RENTER_KEY, "settle")  # fmt: skip
    assert code == 0
    assert "no closes to finish" in out


def test_an_unreadable_record_is_no_record(tmp_path: Path) -> None:
    (tmp_path / "closing-channels.json").write_text("{not json")
    assert ClosingChannels(tmp_path).pending() == []
