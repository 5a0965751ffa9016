"""Every deployable contract deploys on a real L1: each runtime code within EIP-170."""

from __future__ import annotations

import pytest

from l2gpu.airdrop.claim_proof import compile_claim
from l2gpu.airdrop.contract import AirdropClient
from l2gpu.core.credit.forwards import ForwardParams
from l2gpu.core.credit.rates import PoolParams
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, compile_contract
from l2gpu.l1.build import contracts_root
from l2gpu.l1.chain import checksum
from l2gpu.l1.contracts.advances import AdvancesClient
from l2gpu.l1.contracts.bridge import deploy_shards
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.contracts.forwards import ForwardsClient
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.zk.setup import dev_setup

# EIP-170: a contract's runtime code may hold at most 24,576 bytes. The embedded
# chain might not enforce it the way a production node does, so it is checked here.
MAX_CODE_SIZE = 24_576

CONTRACTS = {
    "Rollup": "rollup/Rollup.vy",
    "DisputeGame": "rollup/DisputeGame.vy",
    "BlsVerifier": "rollup/BlsVerifier.vy",
    "StepVerifier": "rollup/StepVerifier.vy",
    "SignatureVerifier": "rollup/SignatureVerifier.vy",
    "ChannelManager": "channels/ChannelManager.vy",
    "TestToken": "tokens/TestToken.vy",
    "RefusingReceiver": "testing/RefusingReceiver.vy",
    "GasFloor": "testing/GasFloor.vy",
    "ZkRollup": "zk/ZkRollup.vy",
    "PoseidonT3": "zk/PoseidonT3.vy",
    "PoseidonT6": "zk/PoseidonT6.vy",
    "PoseidonT7": "zk/PoseidonT7.vy",
    "Plasma": "plasma/Plasma.vy",
    "Bridge": "bridge/Bridge.vy",
    "Airdrop": "airdrop/Airdrop.vy",
    "LendingPool": "credit/LendingPool.vy",
    "RefusingLender": "testing/RefusingLender.vy",
    "Forwards": "credit/Forwards.vy",
    "Advances": "credit/Advances.vy",
    "RefusingTrader": "testing/RefusingTrader.vy",
    "AttackFeed": "testing/AttackFeed.vy",
    "FeeToken": "testing/FeeToken.vy",
    "ReentrantToken": "testing/ReentrantToken.vy",
}


@pytest.fixture(scope="module")
def code_sizes() -> dict[str, int]:
    chain: Chain = start_embedded_chain()
    deployer = chain.accounts[0]
    client = RollupClient.deploy(chain, deployer, genesis_root=bytes(32))
    shards = deploy_shards(chain, deployer, 2, genesis_root=bytes(32))
    game = client.game
    poseidon = {
        name: chain.deploy(compile_contract(CONTRACTS[name]), sender=deployer).address
        for name in ("PoseidonT3", "PoseidonT6", "PoseidonT7")
    }
    addresses = {
        "Rollup": client.address,
        "DisputeGame": game.address,
        "BlsVerifier": client.contract.call("BLS"),
        "StepVerifier": game.call("STEP"),
        "SignatureVerifier": game.call("SIGNATURE"),
        "ChannelManager": ChannelManagerClient.deploy(chain, deployer).address,
        "TestToken": chain.deploy(
            compile_contract(CONTRACTS["TestToken"]), "T", "T", 18, sender=deployer
        ).address,
        "RefusingReceiver": chain.deploy(
            compile_contract(CONTRACTS["RefusingReceiver"]), sender=deployer
        ).address,
        "GasFloor": chain.deploy(compile_contract(CONTRACTS["GasFloor"]), sender=deployer).address,
        # Any contract stands in for its verifier here: only the code size is read.
        "ZkRollup": chain.deploy(
            compile_contract(CONTRACTS["ZkRollup"]),
            0,
            client.contract.call("BLS"),
            bytes(32),
            16,
            2048,
            16,
            256,
            256,
            256,
            64,  # forced exits
            24,
            3600,
            poseidon["PoseidonT3"],
            poseidon["PoseidonT6"],
            poseidon["PoseidonT7"],
            False,  # the rollup form (a validium is the same code)
            deployer.address,  # a bridge's address: only the code size is read
            sender=deployer,
        ).address,
        **poseidon,
        "Plasma": chain.deploy(
            compile_contract(CONTRACTS["Plasma"]),
            deployer.address,
            3600,
            600,
            1,
            1,
            sender=deployer,
        ).address,
        "Bridge": shards.bridge.address,
        # The constructor checks its verifying key's points: a real key.
        "Airdrop": AirdropClient.deploy(
            chain,
            deployer,
            keys=dev_setup(compile_claim()),
            treasury=deployer.address,
            airdrop_id=1,
            deadline=chain.timestamp() + 3600,
        ).address,
        # Any address stands in for the token and the feed: only the code size is read.
        "LendingPool": LendingPoolClient.deploy(
            chain,
            deployer,
            token=client.address,
            oracle=Address.from_hex(deployer.address),
            treasury=Address.from_hex(deployer.address),
            params=PoolParams(),
        ).address,
        "RefusingLender": chain.deploy(
            compile_contract(CONTRACTS["RefusingLender"]), sender=deployer
        ).address,
        "Forwards": ForwardsClient.deploy(
            chain,
            deployer,
            feed=Address.from_hex(deployer.address),
            params=ForwardParams(expiry=chain.timestamp() + 86_400),
        ).address,
        "Advances": AdvancesClient.deploy(
            chain,
            deployer,
            channels=ChannelManagerClient.deploy(chain, deployer).address,
            lender=Address.from_hex(deployer.address),
            fee_bps=100,
            max_share_bps=5_000,
        ).address,
        "RefusingTrader": chain.deploy(
            compile_contract(CONTRACTS["RefusingTrader"]), sender=deployer
        ).address,
        **{
            name: chain.deploy(compile_contract(CONTRACTS[name]), sender=deployer).address
            for name in ("AttackFeed", "FeeToken", "ReentrantToken")
        },
    }

    def size(address: Address) -> int:
        return len(chain.w3.eth.get_code(checksum(address)))

    return {name: size(address) for name, address in addresses.items()}


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_runtime_code_fits_eip_170(code_sizes: dict[str, int], name: str) -> None:
    assert 0 < code_sizes[name] <= MAX_CODE_SIZE, code_sizes


def test_every_deployable_contract_is_measured() -> None:
    # A source with an external function deploys; one without is a module (state_leaves,
    # pull_payments, vouchers) compiled into its users and measured with them, and so
    # is a module named "_..." (rollup/_batches.vy, _escape_hatch.vy), whose external
    # functions its user exports.
    root = contracts_root()
    deployable = {
        str(path.relative_to(root))
        for path in root.rglob("*.vy")
        if "@external" in path.read_text() and not path.name.startswith("_")
    }
    assert deployable == set(CONTRACTS.values())
