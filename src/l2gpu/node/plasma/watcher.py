"""A Plasma watcher: follows L1 and the operator's blocks, challenges every exit it can
prove invalid, answers challenges of its users' exits, exits its users' coins when
the operator withholds a block, and finalizes their exits when they are due.

It trusts L1 alone for what counts (deposits from L1's logs, roots and exits from
the contract's storage) and the operator only for block data, which it checks
against L1's roots (``core/plasma/provenance.follow`` via ``watch.judge``): a block
the operator does not serve, or serves with data that does not match its root, is
withheld. Once one has been withheld for ``grace_s`` of L1 time, every user the
watcher protects exits all its coins with the history before that block.

It keeps every block it checked in its ``store`` (:class:`BlockStore`), so a restart
after the operator stopped serving still has the history to exit with.

Each :meth:`PlasmaWatcher.poll` is one round; it returns what it did, in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.plasma.provenance import exit_call, follow, included_in
from l2gpu.core.plasma.root_chain import (
    Exit,
    FinalizeExit,
    RespondHistory,
)
from l2gpu.core.plasma.sumtree import Moved, SumTree
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.plasma.watch import judge
from l2gpu.core.types import Address
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.l1.logs import LogPoller
from l2gpu.node.client import NodeError
from l2gpu.node.plasma.block_store import BlockStore


class PlasmaWatcher:
    """Watches one Plasma contract (``l1``) and its operator (``source``: a
    :class:`~l2gpu.node.plasma.client.PlasmaNodeClient`) for the users in
    ``protects`` (their L1 accounts), sending its challenges as ``account``."""

    def __init__(
        self,
        l1: PlasmaClient,
        source: Any,
        account: LocalAccount,
        protects: Sequence[LocalAccount],
        *,
        clock: Callable[[], int],
        grace_s: int = 600,
        store: BlockStore | None = None,
    ) -> None:
        self.l1 = l1
        self.store = store
        self.source = source
        self.account = account
        self.me = Address.from_hex(account.address)
        self.protects = {Address.from_hex(a.address): a for a in protects}
        self.clock = clock
        self.grace_s = grace_s
        self.rules = l1.rules()
        self.deposits: list[Deposit] = []
        self.blocks: dict[int, tuple[SignedTransfer, ...]] = {}
        self.missing_since: dict[int, int] = {}
        self.judged: set[int] = set()  # exits found valid or challenged already
        self.exited_for_withholding = False
        self._poller = LogPoller(l1.chain, [l1.contract], from_block=0)

    def poll(self) -> list[str]:
        """One round; what it did, in words."""
        for event in self._poller.poll():
            if getattr(event, "name", "") == "Deposited":
                a = event.args
                self.deposits.append(
                    Deposit(int(a["start"]), int(a["end"]), a["owner"], int(a["block"]))
                )
        height = self.l1.height()
        self._fetch(height)
        done = self._challenge(height) + self._answer()
        if self._withheld_long_enough() and not self.exited_for_withholding:
            done += self._exit_everyone()
        return done + self._finalize()

    # -- the operator's data, checked against L1 ------------------------------------------

    def _fetch(self, height: int) -> None:
        for number in range(1, height + 1):
            if number in self.blocks:
                continue
            root = self.l1.root(number)
            kept = self.store.get(number) if self.store is not None else None
            if kept is not None and kept[0] == root and self._matches(number, kept[1]):
                self.blocks[number] = kept[1]  # our own copy: the operator may withhold it now
                continue
            try:
                transfers = self.source.block(number)
            except NodeError as exc:
                if exc.status not in (0, 404) and exc.status < 500:
                    raise
                transfers = None
            if transfers is not None and self._matches(number, transfers):
                self.blocks[number] = tuple(transfers)
                self.missing_since.pop(number, None)
                if self.store is not None:
                    self.store.put(number, root, tuple(transfers))
            else:
                self.missing_since.setdefault(number, self.clock())

    def _matches(self, number: int, transfers: Sequence[SignedTransfer]) -> bool:
        try:
            tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in transfers])
        except ValueError:
            return False  # overlapping transfers: no honest block
        return tree.root == self.l1.root(number)

    def _withheld_long_enough(self) -> bool:
        now = self.clock()
        return any(now - since >= self.grace_s for since in self.missing_since.values())

    # -- exits -----------------------------------------------------------------------------

    def _exits(self) -> list[tuple[int, Exit]]:
        out = []
        for exit_id in range(int(self.l1.contract.call("exit_count"))):
            s = self.l1.exit(exit_id)
            if s["status"] != "open":
                continue
            out.append(
                (
                    exit_id,
                    Exit(
                        s["owner"],
                        int(s["start"]),
                        int(s["end"]),
                        int(s["block"]),
                        int(s["prev_block"]),
                        s["parent_owner"],
                        bool(s["is_deposit"]),
                        int(s["deposit_start"]),
                        int(s["deadline"]),
                        int(s["finalizable_at"]),
                        int(s["bond"]),
                        int(s["open_challenges"]),
                    ),
                )
            )
        return out

    def _challenge(self, height: int) -> list[str]:
        done = []
        protected = set(self.protects)
        for exit_id, exit_ in self._exits():
            if exit_id in self.judged:
                continue
            found = judge(
                self.l1.domain,
                exit_id,
                exit_,
                self.deposits,
                self.blocks,
                height,
                me=self.me,
                now=self.clock(),
                challenge_bond=self.rules.challenge_bond,
                protected=lambda owner, coin, received: owner in protected,
            )
            self.judged.add(exit_id)
            if found is None:
                continue
            try:
                self.l1.apply(found, self.account)
                done.append(f"challenged exit {exit_id} ({type(found).__name__})")
            except ContractRevert as exc:
                done.append(f"could not challenge exit {exit_id}: {exc.reason}")
        return done

    def _answer(self) -> list[str]:
        """Answer open history challenges of protected users' exits."""
        done = []
        exits = dict(self._exits())
        for challenge_id in range(int(self.l1.contract.call("challenge_count"))):
            exit_id, coin, block, owner, _, _, status = self.l1.contract.call(
                "challenges", challenge_id
            )
            exit_ = exits.get(int(exit_id))
            if status != 1 or exit_ is None or exit_.owner not in self.protects:
                continue
            for number in range(int(block) + 1, exit_.prev_block + 1):
                for evidence in included_in(number, self.blocks.get(number, ())).values():
                    t = evidence.signed.transfer
                    if (
                        t.prev_block == int(block)
                        and t.start <= int(coin) < t.end
                        and evidence.signed.signer(self.l1.domain) == owner
                    ):
                        self.l1.apply(RespondHistory(self.me, challenge_id, evidence), self.account)
                        done.append(f"answered challenge {challenge_id} of exit {exit_id}")
                        break
                else:
                    continue
                break
        return done

    def _exit_everyone(self) -> list[str]:
        """Every protected user exits every coin its history before the withheld block
        shows it holds."""
        self.exited_for_withholding = True
        first_missing = min(self.missing_since)
        view = follow(self.l1.domain, self.deposits, self.blocks, first_missing - 1)
        done = []
        for address, account in self.protects.items():
            for h in view.of(address):
                exit_ = exit_call(h, 0, self.rules.exit_bond)
                self.l1.apply(exit_, account)
                done.append(
                    f"exited coins {h.start}-{h.end} of {address} (block {first_missing} withheld)"
                )
        return done

    def _finalize(self) -> list[str]:
        done = []
        now = self.clock()
        for exit_id, exit_ in self._exits():
            if exit_.owner not in self.protects or now < exit_.finalizable_at:
                continue
            hint = 0
            key = int(self.l1.contract.call("exited_next", 0))
            while key and key - 1 <= exit_.start:  # walks the list: a client's read, not L1's
                hint, key = key, int(self.l1.contract.call("exited_next", key))
            self.l1.apply(FinalizeExit(self.me, now, exit_id, hint), self.account)
            done.append(f"finalized exit {exit_id}")
        return done
