"""A user's way out of a frozen zk rollup or validium without its operator.

:func:`published_batches` reads every batch L1 accepted, in order, back into its whole
public data: for the rollup form from the calldata of each ``submit_batch``
transaction; for a validium, the whole public data from a copy of it (the node's
``/zk/batches/{n}``, or one a user kept), which must hash to the public input L1
logged (its deposits, withdrawals and forced exits are also in the calldata). :func:`escape` then
rebuilds the state with ``core/zk/replay.py`` (refusing one whose root is not L1's),
refunds the user's deposits that no batch took, exits the user's account and the
channels they rent, and reports what L1 credited them (``withdraw_credit`` pulls it).

Limit: a batch posted through another contract (a multisig, a relayer) has no
``submit_batch`` calldata of its own to read; a trace of the call would be needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.replay import rebuild_state
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.l1.logs import LogPoller

OffchainSource = Callable[[int], bytes | None]
"""Batch number -> that batch's whole public data (a validium's node or a saved copy)."""


def _header(old_root: int, new_root: int, fee_account: int, timestamp: int) -> bytes:
    return (old_root.to_bytes(32, "big") + new_root.to_bytes(32, "big")
            + fee_account.to_bytes(3, "big") + timestamp.to_bytes(4, "big"))  # fmt: skip


def published_batches(
    rollup: ZkRollupClient, offchain: OffchainSource | None = None
) -> list[bytes]:
    """Every accepted batch's public data, in order (see the module's docstring).
    Raises :class:`L2gpuError` when a batch's data cannot be had or does not hash to
    what L1 accepted."""
    shape = rollup.shape()
    w3 = rollup.chain.w3
    accepted = [e for e in LogPoller(rollup.chain, [rollup.contract]).poll()
                if e.name == "BatchAccepted"]  # fmt: skip
    datas: list[bytes] = []
    for number, event in enumerate(accepted):
        args: Any = event.args
        tx = w3.eth.get_transaction(event.tx_hash)
        try:
            function, params = rollup.contract.decode_input(tx["input"])
        except ValueError:  # the transaction called another contract, which called L1's
            function, params = "", {}
        if function not in ("submit_batch", "submit_validium_batch"):
            raise L2gpuError(f"batch {number} was not posted by a direct call to the rollup",
                             "read its data from a trace of the transaction")  # fmt: skip
        header = _header(int(args["old_root"]), int(args["new_root"]),
                         int(params["_fee_account"]), int(args["timestamp"]))  # fmt: skip
        if function == "submit_batch":
            data = header + b"".join(bytes(params[f"_{name}"]) for name in (
                "deposits", "transfers", "withdrawals", "opens", "closes", "reclaims",
                "forced_exits"))  # fmt: skip
            proven = pd.public_input(data)
        else:
            found = offchain(number) if offchain is not None else None
            if found is None:
                raise L2gpuError(
                    f"batch {number}'s transfer and channel data is not on L1 (a validium) "
                    "and no copy of it was found",
                    "fetch it from the node (--node URL) or a copy of its /zk/batches",
                )
            data = found
            proven = pd.validium_public_input(shape, data) if len(data) == shape.size else -1
        if proven != int(args["public_input"]):
            raise L2gpuError(f"the data found for batch {number} is not the data L1 accepted",
                             "fetch it again from another copy")  # fmt: skip
        datas.append(data)
    return datas


@dataclass
class EscapeReport:
    """What :func:`escape` did: wei credited by each step, and the L1 transactions."""

    refunded: int = 0
    account: int = 0
    channels: int = 0
    transactions: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Everything credited to the user on L1 by this escape."""
        return self.refunded + self.account + self.channels


def rebuilt_state(rollup: ZkRollupClient, offchain: OffchainSource | None = None) -> ZkState:
    """The last proven state, rebuilt from public data and checked against L1's root."""
    try:
        state = rebuild_state(rollup.depth(), rollup.shape(), published_batches(rollup, offchain))
    except (ZkError, InvalidValue) as exc:
        raise L2gpuError(f"the published batches do not replay: {exc.what}",
                         "the data is corrupt or incomplete: fetch it again") from None  # fmt: skip
    if state.root() != rollup.state_root():
        raise L2gpuError("the rebuilt state is not the one L1 holds",
                         "a batch's data is missing or L1 moved on: run again")  # fmt: skip
    return state


def escape(rollup: ZkRollupClient, user: LocalAccount,
           offchain: OffchainSource | None = None) -> EscapeReport:  # fmt: skip
    """After a freeze: refund ``user``'s untaken deposits, exit its account and the
    channels it rents. An exit someone else sent first (anyone may) counts as done:
    the wei went to the user's address all the same. Raises :class:`L2gpuError`
    before a freeze, and when the state cannot be rebuilt (the refunds made before
    it stay credited: pull them with ``withdraw_credit``)."""
    if not bool(rollup.contract.call("frozen")):
        raise L2gpuError(
            "the zk rollup is not frozen: exits open only after a freeze",
            "withdraw through the node ('l2gpu zk withdraw'); if it leaves your withdrawal "
            "out, ask L1 with 'l2gpu zk force-exit': a batch must pay it within "
            "FORCE_DELAY, or anyone may then freeze the rollup",
        )
    report = EscapeReport()
    taken = int(rollup.contract.call("queue_done"))
    for queued in rollup.queued_deposits()[taken:]:
        owner = "0x" + queued.slot.eth_address.hex()
        if owner.lower() == user.address.lower() and not rollup.contract.call(
            "refunded", queued.position
        ):
            receipt = rollup.refund_deposit(queued, user)
            report.refunded += queued.slot.amount
            report.transactions.append(str(receipt.tx_hash))
    index = rollup.account_index(user.address)
    if index == 0:
        return report
    state = rebuilt_state(rollup, offchain)
    account = state.account(index)
    if account is not None and account.balance > 0 and not rollup.exited(index):
        try:
            receipt = rollup.exit_account(index, account, state.proof(index), user)
            report.transactions.append(str(receipt.tx_hash))
        except ContractRevert:
            if not rollup.exited(index):
                raise
        report.account = account.balance  # credited to the user, whoever sent the exit
    for slot, channel in state.channels():
        if channel.renter != index or account is None or rollup.channel_exited(slot):
            continue
        try:
            receipt = rollup.exit_channel(slot, channel, state.proof(slot), account,
                                          state.proof(index), user)  # fmt: skip
            report.transactions.append(str(receipt.tx_hash))
        except ContractRevert:
            if not rollup.channel_exited(slot):
                raise
        report.channels += channel.deposit
    return report
