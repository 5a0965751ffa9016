"""Fixtures for channel tests: a deployed ChannelManager and a test token on the embedded L1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from l2gpu.core.types import Address
from l2gpu.l1 import Chain, DeployedContract
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.embedded import start_embedded_chain

from .runner import ROLES, key


@dataclass
class Deployment:
    """A chain with a manager and a token, and the accounts by role."""

    chain: Chain
    manager: ChannelManagerClient
    token: DeployedContract

    def account(self, role: str) -> LocalAccount:
        return self.chain.accounts[ROLES[role] - 1]


@pytest.fixture(scope="module")
def deployment(token_compiled) -> Deployment:
    chain = start_embedded_chain()
    deployer = chain.accounts[0]
    manager = ChannelManagerClient.deploy(chain, deployer)
    token = chain.deploy(token_compiled, "Test", "TST", 18, sender=deployer)
    for role in ROLES:
        token.transact("mint", key(role).address, 10**24, sender=deployer)
        token.transact(
            "approve", manager.address, 2**256 - 1, sender=chain.accounts[ROLES[role] - 1]
        )
    return Deployment(chain, manager, token)


@pytest.fixture
def fresh(deployment: Deployment) -> Iterator[Deployment]:
    """The module's deployment, rolled back after the test."""
    snapshot = deployment.chain.snapshot()
    yield deployment
    deployment.chain.revert(snapshot)


def address_of(account: LocalAccount) -> Address:
    return Address.from_hex(account.address)
