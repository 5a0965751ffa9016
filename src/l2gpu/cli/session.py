"""A command's view of a persistent L1: its chain, signing account and ChannelManager."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from l2gpu.cli.common import signing_account
from l2gpu.config import Settings
from l2gpu.core.channel import ChannelParams
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Hash32

if TYPE_CHECKING:  # imported when a session opens: they take seconds to load
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1 import Chain

MANAGER = "ChannelManager"


class Session:
    """A chain, a signing account and the manager, for one command."""

    def __init__(self, ctx: typer.Context, manager: str | None, *, need_manager: bool = True):
        """Connect to the L1 of ``ctx``'s settings with the command's signing key
        (:func:`l2gpu.cli.common.signing_account`); find the manager unless told not to."""
        from l2gpu.l1 import open_chain
        from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
        from l2gpu.payments import deployments

        settings: Settings = ctx.obj
        if not settings.l1_rpc:
            raise L2gpuError(
                "channel commands act on a persistent L1, and the embedded chain lives only "
                "as long as one command",
                "start a dev node ('make devnet' runs anvil) and pass --l1-rpc "
                "http://127.0.0.1:8545 with a key (--keystore or L2GPU_PRIVATE_KEY), or "
                "watch a whole lifecycle in 'l2gpu demo'",
            )
        self.settings = settings
        self.account: LocalAccount = signing_account(ctx)
        self.chain: Chain = open_chain(settings, [self.account])
        self.address = Address.from_hex(self.account.address)
        self.from_block = 0
        if need_manager:
            if manager:
                address = Address.from_hex(manager)
            else:
                address, self.from_block = deployments.lookup(
                    settings.data_dir, self.chain.chain_id, MANAGER
                )
            self.manager = ChannelManagerClient.at(
                self.chain, address, cache_dir=settings.cache_dir
            )

    @property
    def key(self) -> PrivateKey:
        """The signing key (for vouchers)."""
        return PrivateKey(bytes(self.account.key))

    def params(self, channel_id: str) -> ChannelParams:
        """The terms of a channel, from its ChannelOpened log."""
        return self.manager.params_of(Hash32.from_hex(channel_id), from_block=self.from_block)
