"""The L1 shell: one interface to an EVM chain, embedded (py-evm) or JSON-RPC.

chain = open_chain(settings)                      # embedded unless l1_rpc is set
token = chain.deploy(compile_contract("tokens/TestToken.vy", cache_dir=...), ...,
                     sender=chain.accounts[0])
receipt = token.transact("mint", to, amount, sender=chain.accounts[0])
chain.time_travel(7 * 24 * 3600)                   # dev chains only
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from l2gpu.config import Settings
from l2gpu.l1.build import CompiledContract, compile_contract
from l2gpu.l1.chain import Chain, ContractEvent, DeployedContract, Receipt
from l2gpu.l1.errors import CompileError, ContractRevert, L1Error, L1Unreachable, NotADevChain

__all__ = [
    "Chain",
    "CompileError",
    "CompiledContract",
    "ContractEvent",
    "ContractRevert",
    "DeployedContract",
    "L1Error",
    "L1Unreachable",
    "NotADevChain",
    "Receipt",
    "compile_contract",
    "open_chain",
]


def open_chain(settings: Settings, accounts: list[LocalAccount] | None = None) -> Chain:
    """The L1 the settings name: JSON-RPC if ``l1_rpc`` is set, else a fresh embedded chain.

    On JSON-RPC the signing accounts are ``accounts``, else the configured key or
    keystore; the embedded chain always has its funded dev accounts.
    """
    if settings.l1_rpc:
        from l2gpu.l1.jsonrpc import connect_jsonrpc

        return connect_jsonrpc(settings.l1_rpc, accounts or _configured_accounts(settings))
    from l2gpu.l1.embedded import start_embedded_chain

    return start_embedded_chain()


def _configured_accounts(settings: Settings) -> list[LocalAccount]:
    from l2gpu.l1.keys import account_from_private_key, load_keystore

    if settings.private_key is not None and settings.private_key.get_secret_value():
        return [account_from_private_key(settings.private_key.get_secret_value())]
    if settings.keystore is not None:
        password = settings.keystore_password
        if password is None:
            raise L1Error(
                f"keystore {settings.keystore} needs its password",
                "set L2GPU_KEYSTORE_PASSWORD (or keystore_password in l2gpu.toml)",
            )
        return [load_keystore(settings.keystore, password.get_secret_value())]
    return []
