"""The channel watcher shell: follows the manager's logs and answers stale closes.

Each round it loads the vouchers it guards from the store, reads new logs, feeds
both to :func:`l2gpu.core.channel.watch.watch_transition`, and submits the
answers it returns. It signs nothing: vouchers are the renter's signatures, and
the watcher pays only gas.
"""

from __future__ import annotations

import logging
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.watch import (
    BestRaised,
    ClosingSeen,
    SettledSeen,
    Tick,
    VoucherHeld,
    WatchInput,
    WatchState,
    watch_transition,
)
from l2gpu.core.types import Hash32, Timestamp, Wei
from l2gpu.l1 import ContractRevert, Receipt
from l2gpu.l1.chain import ContractEvent
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient, params_from_event
from l2gpu.l1.logs import LogPoller
from l2gpu.payments.store import VoucherStore

log = logging.getLogger(__name__)


class ChannelWatcher:
    """Answers stale closes on one manager with the vouchers in a store."""

    def __init__(
        self,
        manager: ChannelManagerClient,
        store: VoucherStore,
        account: LocalAccount,
        *,
        from_block: int = 0,
    ) -> None:
        self.manager = manager
        self.store = store
        self.account = account
        self.state = WatchState()
        self.params: dict[Hash32, ChannelParams] = {}
        self.poller = LogPoller(manager.chain, [manager.contract], from_block=from_block)

    def run_once(self) -> list[Receipt]:
        """One round: read vouchers and logs, then answer every stale close in time."""
        for voucher in self.store.all(chain_id=self.manager.chain_id, manager=self.manager.address):
            self._feed(VoucherHeld(voucher))
        for event in self.poller.poll():
            inp = self._input(event)
            if inp is not None:
                self._feed(inp)
        # The answer lands in a later block: decide as of the next second.
        now = Timestamp(self.manager.chain.timestamp() + 1)
        self.state, answers = watch_transition(self.state, Tick(now))
        receipts = []
        for answer in answers:
            params = self.params.get(answer.voucher.channel_id)
            if params is None:
                continue  # opened before from_block: its terms are unknown here
            try:
                receipts.append(self.manager.submit_voucher(params, answer.voucher, self.account))
                log.info(
                    "answered channel %s with %s", answer.voucher.channel_id, answer.voucher.amount
                )
            except ContractRevert as exc:
                # Someone (the provider itself) was faster, or the window closed.
                log.warning("answer to %s refused: %s", answer.voucher.channel_id, exc.reason)
        return receipts

    def _feed(self, inp: WatchInput) -> None:
        self.state, _ = watch_transition(self.state, inp)

    def _input(self, event: ContractEvent) -> WatchInput | None:
        args: Any = event.args
        cid = Hash32(args["channel_id"]) if "channel_id" in args else None
        if event.name == "ChannelOpened" and cid is not None:
            self.params[cid] = params_from_event(args)
        elif event.name == "ChannelClosing" and cid is not None:
            return ClosingSeen(cid, Wei(args["amount"]), Timestamp(args["deadline"]))
        elif event.name == "VoucherAccepted" and cid is not None:
            return BestRaised(cid, Wei(args["amount"]))
        elif event.name == "ChannelSettled" and cid is not None:
            return SettledSeen(cid)
        return None
