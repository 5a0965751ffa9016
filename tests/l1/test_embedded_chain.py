"""The embedded py-evm L1: deploy, call, transact, reverts, typed logs, time travel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from l2gpu.core.types import Address
from l2gpu.l1 import Chain, ContractRevert, L1Error
from l2gpu.l1.chain import ContractEvent
from l2gpu.l1.logs import LogPoller


def addr(account) -> Address:
    return Address.from_hex(account.address)


def test_dev_accounts_are_funded(chain: Chain) -> None:
    assert len(chain.accounts) == 10
    for account in chain.accounts:
        assert chain.balance(addr(account)) > 10**21


def test_deploy_call_and_transact(chain: Chain, token_compiled) -> None:
    owner, holder = chain.accounts[0], chain.accounts[1]
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    assert token.call("symbol") == "TST"
    receipt = token.transact("mint", addr(holder), 500, sender=owner)
    assert receipt.gas_used > 21_000
    event = receipt.event("Transfer")
    assert event.args == {"sender": Address(bytes(20)), "receiver": addr(holder), "value": 500}
    assert token.call("balanceOf", addr(holder)) == 500


def test_a_revert_carries_the_contract_reason(chain: Chain, token_compiled) -> None:
    owner, poor = chain.accounts[0], chain.accounts[2]
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    with pytest.raises(ContractRevert) as info:
        token.transact("transfer", addr(owner), 1, sender=poor)
    assert info.value.reason == "TestToken: balance too low"
    assert "TestToken.transfer reverted" in str(info.value)


def test_an_unknown_function_lists_the_known_ones(chain: Chain, token_compiled) -> None:
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=chain.accounts[0])
    with pytest.raises(L1Error, match="has no function burn.*balanceOf"):
        token.call("burn")


@dataclass(frozen=True)
class Minted:
    """A typed input, as a core state machine would take it."""

    to: Address
    amount: int
    block: int


def test_log_poller_turns_logs_into_typed_inputs_in_order(chain: Chain, token_compiled) -> None:
    owner = chain.accounts[0]
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    poller = LogPoller(
        chain,
        [token],
        {"Transfer": lambda e: Minted(e.args["receiver"], e.args["value"], e.block_number)},
        from_block=chain.block_number() + 1,
    )
    for i in range(1, 4):
        token.transact("mint", addr(chain.accounts[i]), i * 10, sender=owner)
    token.transact("approve", addr(chain.accounts[5]), 7, sender=owner)
    inputs = poller.poll()
    assert [type(x) for x in inputs] == [Minted, Minted, Minted, ContractEvent]
    assert [x.amount for x in inputs[:3]] == [10, 20, 30]
    assert inputs[0].block < inputs[1].block < inputs[2].block
    assert inputs[3].name == "Approval"
    assert poller.poll() == []  # nothing is delivered twice


def test_log_poller_holds_back_unconfirmed_blocks(chain: Chain, token_compiled) -> None:
    owner = chain.accounts[0]
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    poller = LogPoller(chain, [token], from_block=chain.block_number() + 1, confirmations=3)
    token.transact("mint", addr(owner), 1, sender=owner)
    assert poller.poll() == []
    chain.mine(3)
    assert [e.name for e in poller.poll()] == ["Transfer"]


def test_time_travel_moves_block_time_without_sleeping(chain: Chain) -> None:
    before = chain.timestamp()
    after = chain.time_travel(7 * 24 * 3600)
    assert after - before == 7 * 24 * 3600
    with pytest.raises(L1Error, match="forward only"):
        chain.time_travel(-1)


def test_snapshot_and_revert(chain: Chain, token_compiled) -> None:
    owner = chain.accounts[0]
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    snapshot = chain.snapshot()
    token.transact("mint", addr(owner), 99, sender=owner)
    assert token.call("totalSupply") == 99
    chain.revert(snapshot)
    assert token.call("totalSupply") == 0


def test_send_ether(chain: Chain) -> None:
    sender, receiver = chain.accounts[0], Address(b"\x42" * 20)
    chain.send_ether(receiver, 12345, sender=sender)
    assert chain.balance(receiver) == 12345


def test_sending_more_ether_than_held_is_named_as_such(chain: Chain, token_compiled) -> None:
    """Issue #23: too little ether on L1 for a deposit was reported as an internal error,
    "a bug in l2gpu"; it is the user's mistake, named with the balance."""
    from eth_account import Account

    owner, broke = chain.accounts[0], Account.from_key(b"\x07" * 32)
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=owner)
    with pytest.raises(L1Error) as info:
        token.transact("mint", addr(owner), 1, sender=broke, value=10**18)
    assert "holds 0 wei on L1, less than the 1 ETH" in info.value.what
    assert "fund that account" in info.value.fix
    # sending nothing, the gas alone is more than it holds: named the same way
    with pytest.raises(L1Error) as gas_only:
        token.transact("mint", addr(owner), 1, sender=broke)
    assert "holds 0 wei on L1" in gas_only.value.what
    assert "fund that account" in gas_only.value.fix
