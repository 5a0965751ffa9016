"""The Plasma operator behind its HTTP API, and a lease paid through the ``plasma``
design: deposit on L1, lock, a transfer per second, close, block, exit, payout."""

from __future__ import annotations

import httpx
import pytest

from l2gpu.clock import l1_clock
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma.root_chain import Rules
from l2gpu.core.plasma.transactions import Transfer, sign_transfer
from l2gpu.core.types import Address, Wei
from l2gpu.db import open_database
from l2gpu.designs import DesignWorld, make_design
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.node.client import NodeError
from l2gpu.node.plasma.api import create_plasma_app
from l2gpu.node.plasma.client import PlasmaNodeClient
from l2gpu.node.plasma.operator import PlasmaOperator
from l2gpu.serving.loopback import serve_on_loopback

DAY = 86_400


@pytest.fixture
def plasma(chain, tmp_path):
    operator_account = chain.accounts[0]
    rules = Rules(Address.from_hex(operator_account.address), 7 * DAY, DAY, 10**16, 10**16)
    client = PlasmaClient.deploy(chain, operator_account, rules)
    database = f"sqlite:///{tmp_path / 'plasma.db'}"
    operator = PlasmaOperator(client, operator_account, open_database(database), l1_clock(chain))
    server, url = serve_on_loopback(create_plasma_app(operator), "plasma operator")
    yield chain, client, operator, url, database
    server.should_exit = True


def test_a_lease_is_paid_in_coins_and_the_provider_exits_them_to_l1(plasma) -> None:
    chain, client, operator, url, database = plasma
    renter, provider, thief = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    design = make_design("plasma", DesignWorld(chain, plasma=client, plasma_node_url=url))
    assert design.fund(renter, Wei(10**6)).l1_txs
    operator.follow_l1()
    assert design.balance(renter) == 10**6
    lease, _ = design.open_lease(renter, provider, Wei(5_000), lifetime=3600)
    for second in range(1, 11):
        design.pay(lease, Wei(100 * second))
    # The renter cannot spend the lease's coins elsewhere while the lock holds.
    stolen = sign_transfer(lease.renter_key, client.domain,
                           Transfer(lease.start, lease.start + 5_000,
                                    Address.from_hex(thief.address), lease.received))  # fmt: skip
    with pytest.raises(NodeError, match="locked for a lease"):
        design.node.submit(stolen)
    step = design.close(lease, Wei(1_000))
    assert step.l2_bytes == 157
    assert operator.seal() == 1
    assert client.height() == 1
    assert design.balance(provider) == 1_000
    assert design.balance(renter) == 10**6 - 1_000
    # The provider exits its coins with the history the operator served.
    exits = design.withdraw(provider)
    assert len(exits.l1_txs) == 1
    chain.time_travel(7 * DAY + 1)
    before = chain.balance(Address.from_hex(provider.address))
    stored = client.exit(0)
    client.contract.transact("finalize_exit", 0, 0, sender=provider)
    assert chain.balance(Address.from_hex(provider.address)) > before + 1_000  # coins + bond
    assert stored["owner"] == Address.from_hex(provider.address)
    # The operator hears of the exit: those coins no longer move on the child chain.
    operator.follow_l1()
    assert design.balance(provider) == 0
    # A restarted operator replays its log to the same chain.
    again = PlasmaOperator(client, chain.accounts[0], open_database(database), l1_clock(chain))
    assert again.state == operator.state
    assert again.posted == 1


def test_bad_requests_get_clear_errors_and_change_nothing(plasma) -> None:
    _, _, operator, url, _ = plasma
    before = operator.status()
    answers = [
        httpx.post(f"{url}/plasma/transfers", json={"transfer": "zz"}),
        httpx.post(f"{url}/plasma/transfers", json={"transfer": "00" * 157}),
        httpx.post(f"{url}/plasma/transfers", json={"transfer": "00" * 157, "extra": 1}),
        httpx.post(
            f"{url}/plasma/locks",
            json={
                "start": "5",
                "end": "1",
                "provider": "0x" + "11" * 20,
                "until": 9,
                "signature": "00" * 65,
            },
        ),
        httpx.post(f"{url}/plasma/transfers", content=b"{" * 5000),
        httpx.get(f"{url}/plasma/blocks/7"),
        httpx.get(f"{url}/plasma/coins", params={"owner": "nobody"}),
    ]
    codes = [a.status_code for a in answers]
    assert codes == [422, 400, 422, 400, 413, 404, 422]
    for answer in answers:
        body = answer.json()
        assert body["error"]
        assert "Traceback" not in answer.text
    assert operator.status() == before


def test_a_deposit_mined_before_a_sealed_root_lands_keeps_l1s_height(plasma) -> None:
    # The operator sealed block 1 and has not posted its root when a deposit is mined:
    # L1 records the deposit at height 0, and so must the child chain, or the
    # depositor's spends would name a block L1 does not know for it.
    from l2gpu.core.plasma.chain import SealBlock

    chain, client, operator, url, _ = plasma
    alice, bob, carol = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    design = make_design("plasma", DesignWorld(chain, plasma=client, plasma_node_url=url))
    design.fund(alice, Wei(1000))
    operator.follow_l1()
    key = PrivateKey(bytes(alice.key))
    operator.submit(
        sign_transfer(key, client.domain, Transfer(0, 10, Address.from_hex(bob.address), 0))
    )
    with operator.lock:
        operator._logged(SealBlock())  # sealed here, root not yet on L1
    design.fund(carol, Wei(500))  # mined while L1 holds no root
    operator.follow_l1()
    operator.post()
    deposit = client.deposit_at(1000)
    assert deposit is not None
    assert deposit.block == 0
    assert operator.deposits[-1].block == 0
    carol_key = PrivateKey(bytes(carol.key))
    paid = sign_transfer(
        carol_key, client.domain, Transfer(1000, 1500, Address.from_hex(bob.address), 0)
    )
    assert type(operator.submit(paid)).__name__ == "Accepted"
    operator.seal()
    assert len(design.withdraw(bob).l1_txs) == 2  # both of bob's ranges exit on L1


def test_a_root_that_failed_to_post_is_posted_next_round_and_exits_are_logged_whole(
    plasma, monkeypatch
) -> None:
    from l2gpu.l1 import L1Error
    from l2gpu.node.plasma import records

    chain, client, operator, url, database = plasma
    alice, bob = chain.accounts[1], chain.accounts[2]
    client.contract.transact("deposit", sender=alice, value=100)
    operator.step(seal=False)
    operator.submit(
        sign_transfer(
            PrivateKey(bytes(alice.key)),
            client.domain,
            Transfer(0, 100, Address.from_hex(bob.address), 0),
        )
    )
    real_apply, calls = client.apply, []

    def flaky(input_, sender):
        calls.append(input_)
        if len(calls) == 1:
            raise L1Error("the L1 refused the transaction: connection reset")
        return real_apply(input_, sender)

    monkeypatch.setattr(client, "apply", flaky)
    with pytest.raises(L1Error):
        operator.step(seal=True)
    assert (operator.state.height, operator.posted, client.height()) == (1, 0, 0)
    operator.step(seal=False)  # nothing waits to be sealed: the root is posted anyway
    assert (operator.posted, client.height()) == (1, 1)
    # Bob exits on L1; the operator logs the exit's id and its coins in one transaction.
    view = PlasmaNodeClient(url).view(client.domain, root_of=client.root)
    held = view.of(Address.from_hex(bob.address))[0]
    from l2gpu.core.plasma.root_chain import StartExit

    client.apply(
        StartExit(Address.from_hex(bob.address), 0, 10**16, held.paid_by, held.parent, 0, 0, 100),
        bob,
    )
    chain.time_travel(7 * DAY + 1)
    client.contract.transact("finalize_exit", 0, 0, sender=bob)
    operator.step(seal=False)
    kinds = [kind for _, kind, _ in operator.wal.records()]
    assert kinds[-2:] == [records.EXIT_SEEN, records.EXIT]
    again = PlasmaOperator(client, chain.accounts[0], open_database(database), l1_clock(chain))
    assert again.state.segments == operator.state.segments == ()


def test_a_client_keeps_the_blocks_it_checked_and_reads_them_back(plasma, tmp_path) -> None:
    from l2gpu.node.plasma.block_store import BlockStore

    chain, client, operator, url, _ = plasma
    alice, bob = chain.accounts[1], chain.accounts[2]
    client.contract.transact("deposit", sender=alice, value=100)
    operator.follow_l1()
    operator.submit(
        sign_transfer(
            PrivateKey(bytes(alice.key)),
            client.domain,
            Transfer(0, 60, Address.from_hex(bob.address), 0),
        )
    )
    operator.seal()
    keeper = PlasmaNodeClient(url, store=BlockStore(tmp_path / "blocks.db"))
    seen = keeper.view(client.domain, root_of=client.root)
    assert [(h.start, h.end) for h in seen.of(Address.from_hex(bob.address))] == [(0, 60)]

    class Silent(PlasmaNodeClient):
        def block(self, number: int):
            raise NodeError(f"no block {number} was sealed", "", 404)

    later = Silent(url, store=BlockStore(tmp_path / "blocks.db"))
    kept = later.view(client.domain, root_of=client.root)
    assert kept.through == 1  # from our own copy: the operator served nothing
    assert kept.of(Address.from_hex(bob.address)) == seen.of(Address.from_hex(bob.address))
