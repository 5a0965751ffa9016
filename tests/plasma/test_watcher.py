"""The Plasma watcher against the real operator and contract: it cancels an exit of
spent coins, answers a wrong challenge of its user's exit, and when the operator
withholds a block, exits every coin of its users and finalizes them."""

from __future__ import annotations

import pytest

from l2gpu.clock import l1_clock
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma.root_chain import ChallengeHistory, Rules, StartExit
from l2gpu.core.plasma.transactions import Transfer, sign_transfer
from l2gpu.core.types import Address
from l2gpu.db import open_database
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.node.client import NodeError
from l2gpu.node.plasma.api import create_plasma_app
from l2gpu.node.plasma.client import PlasmaNodeClient
from l2gpu.node.plasma.operator import PlasmaOperator
from l2gpu.node.plasma.watcher import PlasmaWatcher
from l2gpu.serving.loopback import serve_on_loopback

DAY = 86_400
BOND = 10**16


class WithholdingClient(PlasmaNodeClient):
    """The operator's API, less the blocks it withholds."""

    def __init__(self, url: str, withheld: set[int]) -> None:
        super().__init__(url)
        self.withheld = withheld

    def block(self, number: int):
        if number in self.withheld:
            raise NodeError(f"no block {number} was sealed", "", 404)
        return super().block(number)


@pytest.fixture
def world(chain, tmp_path):
    operator_account = chain.accounts[0]
    rules = Rules(Address.from_hex(operator_account.address), 7 * DAY, DAY, BOND, BOND)
    client = PlasmaClient.deploy(chain, operator_account, rules)
    operator = PlasmaOperator(
        client, operator_account, open_database(f"sqlite:///{tmp_path / 'op.db'}"), l1_clock(chain)
    )
    server, url = serve_on_loopback(create_plasma_app(operator), "plasma operator")
    yield chain, client, operator, url
    server.should_exit = True


def _pay(operator, client, account, start, end, to, prev):
    key = PrivateKey(bytes(account.key))
    signed = sign_transfer(
        key, client.domain, Transfer(start, end, Address.from_hex(to.address), prev)
    )
    assert type(operator.submit(signed)).__name__ == "Accepted"
    return signed


def test_the_watcher_cancels_a_spent_exit_and_defends_its_users_exit(world) -> None:
    chain, client, operator, url = world
    alice, bob, carol, mallory, watcher = chain.accounts[1:6]
    client.contract.transact("deposit", sender=alice, value=1000)
    operator.follow_l1()
    _pay(operator, client, alice, 0, 1000, bob, 0)
    operator.seal()
    _pay(operator, client, bob, 0, 1000, carol, 1)
    operator.seal()
    guard = PlasmaWatcher(client, PlasmaNodeClient(url), watcher, [carol], clock=l1_clock(chain))
    # Bob exits coins he already paid to carol; mallory wrongly challenges carol's exit.
    view = PlasmaNodeClient(url).view(client.domain, 1)
    held = view.of(Address.from_hex(bob.address))[0]
    client.apply(
        StartExit(Address.from_hex(bob.address), 0, BOND, held.paid_by, held.parent, 0, 0, 1000),
        bob,
    )
    carol_view = PlasmaNodeClient(url).view(client.domain)
    mine = carol_view.of(Address.from_hex(carol.address))[0]
    client.apply(
        StartExit(Address.from_hex(carol.address), 0, BOND, mine.paid_by, mine.parent, 0, 0, 1000),
        carol,
    )
    client.apply(ChallengeHistory(Address.from_hex(mallory.address), 0, BOND, 1, 0, None), mallory)
    done = guard.poll()
    assert "challenged exit 0 (ChallengeSpent)" in done
    assert "answered challenge 0 of exit 1" in done
    assert client.exit(0)["status"] == "canceled"
    chain.time_travel(8 * DAY)
    assert "finalized exit 1" in guard.poll()
    assert client.exit(1)["status"] == "finalized"


def test_the_watcher_exits_its_users_when_a_block_is_withheld(world) -> None:
    chain, client, operator, url = world
    alice, bob, watcher = chain.accounts[1], chain.accounts[2], chain.accounts[5]
    client.contract.transact("deposit", sender=alice, value=1000)
    client.contract.transact("deposit", sender=bob, value=500)
    operator.follow_l1()
    _pay(operator, client, alice, 0, 300, bob, 0)
    operator.seal()
    _pay(operator, client, bob, 0, 300, alice, 1)
    operator.seal()  # block 2: the operator will not serve it
    source = WithholdingClient(url, withheld={2})
    guard = PlasmaWatcher(client, source, watcher, [alice, bob], clock=l1_clock(chain), grace_s=600)
    assert guard.poll() == []  # withheld, but not for long yet
    chain.time_travel(601)
    done = guard.poll()
    assert len([line for line in done if line.startswith("exited coins")]) == 3
    chain.time_travel(8 * DAY)
    done = guard.poll()
    assert len([line for line in done if line.startswith("finalized")]) == 3
    paid = {Address.from_hex(a.address): 0 for a in (alice, bob)}
    for exit_id in range(3):
        stored = client.exit(exit_id)
        assert stored["status"] == "finalized"
        paid[stored["owner"]] += stored["end"] - stored["start"]
    # Everyone got the coins it held before the withheld block.
    assert paid == {Address.from_hex(alice.address): 700, Address.from_hex(bob.address): 800}


def test_a_restarted_watcher_exits_with_the_blocks_it_kept(world, tmp_path) -> None:
    from l2gpu.node.plasma.block_store import BlockStore

    chain, client, operator, url = world
    alice, bob, watcher = chain.accounts[1], chain.accounts[2], chain.accounts[5]
    client.contract.transact("deposit", sender=alice, value=1000)
    operator.follow_l1()
    _pay(operator, client, alice, 0, 400, bob, 0)
    operator.seal()
    store = BlockStore(tmp_path / "blocks.db")
    first = PlasmaWatcher(
        client, PlasmaNodeClient(url), watcher, [bob], clock=l1_clock(chain), store=store
    )
    assert first.poll() == []
    # The watcher stops; the operator withholds every block from now on, block 1 too.
    blind = WithholdingClient(url, withheld={1, 2})
    _pay(operator, client, alice, 400, 500, bob, 0)
    operator.seal()  # block 2: never served
    again = PlasmaWatcher(
        client,
        blind,
        watcher,
        [bob],
        clock=l1_clock(chain),
        store=BlockStore(tmp_path / "blocks.db"),
    )
    again.poll()
    chain.time_travel(601)
    done = again.poll()
    assert done == [
        "exited coins 0-400 of " + str(Address.from_hex(bob.address)) + " (block 2 withheld)"
    ]
