"""Moves out of a zk shard, for ``l2gpu bridge move`` and ``l2gpu bridge relay``.

On a zk shard a move's exit is a withdrawal slot of a batch (``core/shards/zk_exits.py``):
``batch * withdrawal slots + slot``, read from the sealed batch's public data as soon
as the node seals it, minutes before its proof is on L1. A liquidity provider can
front it then; without one, the move is relayed once L1 has accepted the batch,
and needs no Merkle proof (the batch is proven whole).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei

if TYPE_CHECKING:
    import typer

    from l2gpu.core.shards.bridge import Move
    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.bridge import BridgeClient
    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient


def is_zk_node(url: str) -> bool:
    """Whether the node at ``url`` is a zk rollup's (it answers ``/zk/status``)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/zk/status", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False  # the optimistic client says what is wrong with the URL


def zk_shard(chain: Chain, address: Address) -> ZkRollupClient | None:
    """The ZkRollup at ``address``, or None when it is another kind of shard."""
    from l2gpu.l1 import L1Error, compile_contract
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient

    rollup = ZkRollupClient(chain, chain.attach(compile_contract(CONTRACT_SOURCE), address))
    try:
        rollup.shape()
    except L1Error:  # the call reverted: an optimistic Rollup has no such view
        return None
    return rollup


def burn_on_zk_shard(
    ctx: typer.Context, node: str, value: int, recipient: Address
) -> tuple[BridgeClient, int, int, int]:
    """Withdraw ``value`` on the signer's zk shard (the node at ``node``), for a move to
    ``recipient``: the bridge, the source and target shards, and the exit's index."""
    from l2gpu.cli.live import waiting
    from l2gpu.cli.zk_cmd import _check_balance, _User
    from l2gpu.core.shards.routing import shard_of
    from l2gpu.core.zk.pubdata import decode_withdrawals
    from l2gpu.core.zk.withdrawal import WithdrawalTx
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient

    user = _User(ctx, node, None)
    rollup = user.rollup
    address = rollup.contract.call("BRIDGE")
    if address == Address(bytes(20)):
        raise L2gpuError(f"the zk rollup {rollup.address.checksum} is not a shard of any bridge",
                         "moves go between shards started with 'l2gpu up --shards N'")  # fmt: skip
    chain = rollup.chain
    bridge = BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"), address))
    shards = bridge.shard_addresses()
    here, there = shards.index(rollup.address), shard_of(recipient, len(shards))
    if here == there:
        raise L2gpuError(f"{recipient.checksum} lives on your shard ({here})",
                         "send it with 'l2gpu zk transfer'")  # fmt: skip
    mine = user.my_account()
    _check_balance(mine, value, "move")
    tx = WithdrawalTx(int(mine["index"]), value, int(mine["next_nonce"]))
    position = user.node.withdraw(user.key, tx)
    with waiting(f"burning {format_wei(value)} on shard {here} (a zk withdrawal)", plain=True):
        batch = int(user.node.wait_included(position, seconds=180.0)["batch"])
    data = user.node.batch_data(batch)
    shape = rollup.shape()
    slots = decode_withdrawals(shape, data) if data is not None else []
    found = [i for i, s in enumerate(slots)
             if s is not None and s.from_index == tx.from_index and s.amount == value]  # fmt: skip
    if not found:
        raise L2gpuError(
            f"the withdrawal is in batch {batch} but its slot was not found",
            "read the batch with 'l2gpu zk status' and sign the move again",
        )
    return bridge, here, there, batch * shape.withdrawals + found[0]


def relay_from_zk_shard(
    bridge: BridgeClient, rollup: ZkRollupClient, sender: Any, move: Move, signature: bytes
) -> Any:
    """Relay ``move`` out of the zk shard ``rollup`` once L1 accepted its exit's batch."""
    slots = rollup.shape().withdrawals
    batch, accepted = move.exit_index // slots, rollup.batch_count()
    if batch >= accepted:
        raise L2gpuError(
            f"the exit's batch {batch} is not proven on L1 yet ({accepted} accepted)",
            "wait for the node to post its proof, then relay again",
        )
    return bridge.relay_proven(sender, move, signature, slots)
