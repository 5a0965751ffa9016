"""What the two designs inside the rollup share: funding by an L1 deposit, the
provider's withdrawal (an L2 Withdraw, claimable on L1 after the challenge window),
and the rollup's clocks and operator powers, read from the deployed Rollup."""

from __future__ import annotations

from typing import Any

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.designs import Clocks, OperatorPower, OperatorPowers, Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import Withdraw
from l2gpu.core.types import Wei
from l2gpu.designs.world import DesignWorld


def withdraw_everything(client: Any) -> Step:
    """An L2 Withdraw of the whole balance of ``client``'s account (nothing if empty)."""
    balance = Wei(int(client.account()["balance"]))
    if balance == 0:
        return Step()
    sent = client.send_tx(lambda me: Withdraw(me, balance, Wei(0)))
    return Step(l2_bytes=len(encode_tx(kind_of(sent.tx), sent.tx)))


class InsideTheRollup:
    """Funding, withdrawal, clocks and powers of a design that lives in the rollup."""

    def __init__(self, world: DesignWorld) -> None:
        if world.rollup is None or world.node_url is None:
            raise L2gpuError("this design needs a rollup and its node", "start 'l2gpu up'")
        self.world = world
        self.challenge_window = int(world.rollup.contract.call("CHALLENGE_WINDOW"))
        self.force_delay = int(world.rollup.contract.call("FORCE_DELAY"))

    def fund(self, party: Any, amount: Wei) -> Step:
        """An L1 deposit into the Rollup with the party's BLS key; the node credits it
        in its next batch."""
        key = BlsSecretKey.from_seed(bytes(party.key))
        receipt = self.world.rollup.deposit(party, key, amount)
        return Step(l1_txs=(bytes(receipt.tx_hash),))

    def withdraw(self, party: Any) -> Step:
        """An L2 Withdraw of the party's whole balance: an exit claimable on L1 once
        the batch holding it is final."""
        return withdraw_everything(self.world.l2(party))

    def clocks(self) -> Clocks:
        """Soft at the sequencer's signed receipt; final and withdrawable when the
        batch's challenge window (read from the Rollup) has passed."""
        window = float(self.challenge_window)
        return Clocks(soft_s=0.0, final_s=window, withdrawable_s=window)

    def powers(self) -> OperatorPowers:
        """The sequencer can leave a user's transactions out, until the user forces
        them in through L1; it can take nothing (fraud proofs revert a wrong root)."""
        return OperatorPowers((
            OperatorPower(
                "freeze", "L2 balances and channels, by leaving transactions out",
                self.force_delay + self.challenge_window,
                "force_withdraw on L1; after FORCE_DELAY the Rollup freezes and every "
                "account exits from the last final state",
            ),
        ))  # fmt: skip
