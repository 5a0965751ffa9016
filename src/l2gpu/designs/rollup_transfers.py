"""``rollup``: plain L2 transfers, one per second, no channel.

The renter pays each second with an L2 Transfer to the provider, soft-confirmed by
the sequencer's receipt at once and co-signed by the renter (a co-signer runs beside
the lease); nothing is opened or closed. Every second is an L2 transaction, so the
L1 cost grows with the seconds paid, where a channel's does not.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.designs import Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Address, Wei
from l2gpu.designs.rollup_common import InsideTheRollup
from l2gpu.designs.world import DesignWorld

INCLUSION_WAIT_S = 120.0  # how long a close waits for the last transfers to be sealed


@dataclass
class TransferLease:
    """The two parties' L2 accounts, the renter's next nonce, what was sent."""

    renter: Address
    provider: Address
    deposit: Wei
    client: Any
    renter_index: int
    provider_index: int
    next_nonce: int
    paid: Wei = Wei(0)
    last_nonce: int | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cosigner: threading.Thread | None = None


class RollupTransfersDesign(InsideTheRollup):
    """Per-second L2 transfers (see the module's docstring)."""

    name = "rollup"

    def __init__(self, world: DesignWorld) -> None:
        super().__init__(world)

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[TransferLease, Step]:  # fmt: skip
        """Nothing on any chain: look up both accounts and start the renter's co-signer."""
        client = self.world.l2(renter)
        me = client.account()
        if int(me["balance"]) < deposit:
            raise L2gpuError(f"the renter's L2 balance is below {deposit} wei",
                             "deposit more with 'l2gpu l2 deposit'")  # fmt: skip
        to = int(client.account(Address.from_hex(provider.address))["index"])
        lease = TransferLease(Address.from_hex(renter.address), Address.from_hex(provider.address),
                              deposit, client, int(me["index"]), to,
                              int(me["next_nonce"]))  # fmt: skip
        name = f"cosign-transfers-{lease.renter_index}"
        lease.cosigner = threading.Thread(target=self._cosign, args=(lease,), daemon=True,
                                          name=name)  # fmt: skip
        lease.cosigner.start()
        return lease, Step()

    def pay(self, lease: TransferLease, cumulative: Wei) -> Step:
        """One L2 Transfer of what the second adds (rounded up to an amount the batch
        format holds; the renter pays that much more, never less)."""
        due = cumulative - lease.paid
        if due <= 0:
            return Step()
        amount = Wei(round_up(due))
        tx = Transfer(lease.renter_index, lease.provider_index, amount, Wei(0))
        lease.client.send_at(tx, lease.next_nonce)
        lease.last_nonce = lease.next_nonce
        lease.next_nonce += 1
        lease.paid = Wei(lease.paid + amount)
        return Step(l2_bytes=len(encode_tx(kind_of(tx), tx)))

    def close(self, lease: TransferLease, paid: Wei) -> Step:
        """Nothing to close: wait until the last transfer is sealed, then stop co-signing."""
        import time

        deadline = time.monotonic() + INCLUSION_WAIT_S
        try:
            while lease.last_nonce is not None:
                if int(lease.client.account()["nonce"]) > lease.last_nonce:
                    break
                if time.monotonic() > deadline:
                    raise L2gpuError("the lease's transfers were not sealed in time",
                                     "check 'l2gpu l2 status'")  # fmt: skip
                time.sleep(0.1)  # waiting for the node's sealing thread
        finally:
            lease.done.set()
            if lease.cosigner is not None:
                lease.cosigner.join(timeout=10)
        return Step()

    def _cosign(self, lease: TransferLease) -> None:
        def mine(tx: Any) -> bool:
            return (isinstance(tx, Transfer) and tx.sender == lease.renter_index
                    and tx.to == lease.provider_index)  # fmt: skip

        # Its own HTTP client: the lease's is used by the paying thread.
        client = type(lease.client)(lease.client.api_url, lease.client.key)
        client.cosign_until(lease.done.is_set, allowed=[], also=mine, wait=INCLUSION_WAIT_S * 10)
