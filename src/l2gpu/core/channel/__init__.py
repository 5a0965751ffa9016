"""One-way payment channels renter -> provider, as a pure state machine.

The same rules run in three places: this module (the specification), the
``ChannelManager`` contract on L1 (``contracts/channels/ChannelManager.vy``) and,
later, the channel transactions of the rollup. Shared vectors under
``tests/vectors/channel/`` and differential fuzzing keep them equal.
"""

from l2gpu.core.channel.machine import state_transition
from l2gpu.core.channel.state import (
    Channel,
    ChannelError,
    ChannelParams,
    ChannelStatus,
    ManagerState,
    channel_id,
)

__all__ = [
    "Channel",
    "ChannelError",
    "ChannelParams",
    "ChannelStatus",
    "ManagerState",
    "channel_id",
    "state_transition",
]
