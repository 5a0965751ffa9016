"""The zk scheme of the ledger: ``core/zk``'s Poseidon tree and EdDSA over Baby Jubjub.

``L2State(chain, rollup, POSEIDON_EDDSA)`` runs the one state transition of
``stf.py`` with:

- **the commitment** of ``core/zk/state.py``, exactly: the state root is a
  :class:`~l2gpu.core.zk.state.ZkState`'s root, with L2 account ``i`` at leaf
  ``i + 1`` (:func:`zk_index`: ``core/zk`` never puts an account at leaf 0, which
  marks the circuits' no-op slots, while ``core/l2`` numbers accounts from 0 in
  creation order, as the zk rollup's L1 numbers them from 1), and its leaf
  ``Poseidon([ax, ay, balance, nonce, eth_address])`` with the account's L1 address
  as ``eth_address``; ``core/zk``'s lease channels in the tree's upper half, at the
  leaf their OPEN named (``L2State.zk_channels``). Leaves and tree are ``core/zk``'s
  own functions, not copies;
- **the authorization** of ``core/zk/transfer.py`` and ``core/zk/withdrawal.py``,
  exactly: a user transaction carries its own EdDSA-Poseidon signature
  (:class:`~l2gpu.core.l2.scheme.Authorization`: the nonce it was signed at and the
  64-byte packed signature) over ``core/zk``'s message for the same fields, checked
  by ``core/zk``'s ``signed_by_account`` (``zk: bad signature``, ``zk: wrong
  nonce``), so a signature made for the zk rollup's node verifies here and one made
  here verifies there;
- **the deposit key rule** of ``core/zk/deposit.py``: a new account takes the
  deposit's key, which must be a Baby Jubjub point (64 bytes ``ax || ay`` in
  ``Deposit.bls_key``; ``proof_of_possession`` is not read); a key that is not one,
  or another key for an existing account (``core/zk``'s "other owner"), skips the
  deposit, and so does a new account past the tree's accounts half, and a deposit
  that would take the balance to 2^128 (``core/zk``'s "overflow").

What differs from ``core/zk``, and why:

- **Exits and the deposit counter are not in the root.** ``core/zk`` has neither in
  its state: L1 builds each batch's public data itself (its own deposit queue, and
  the withdrawals it pays when it accepts the proof), so the proof binds them
  without the tree holding them. The state still keeps its exits and counter (the
  node reads them); the root does not commit to them.
- **Channels are ``core/zk``'s.** ``core/l2``'s ChannelManager channels (EIP-712
  vouchers, a challenge period, top-ups) are refused (``zk: ChannelManager channels
  are not in the zk scheme``): they are another protocol with other leaves. A
  lease's channel is ``core/zk``'s instead: ``OpenZkChannel``, ``CloseZkChannel``
  and ``ReclaimZkChannel`` (``zk_channels.py``) run ``core/zk/channel.py``'s rules
  on this tree and write its channel leaves (:meth:`PoseidonTree.put_zk_channel`),
  so the root stays ``core/zk``'s after each; the block's timestamp is the batch's.
- **Fees**: a transfer's fee must be ``fee_code * 10^12`` wei with a one-byte code
  (``zk: fee not representable``, ``zk: fee code out of range``), and its amount
  must have a float40 form (``zk: amount not representable``): the transfer's
  public data has room for no more. A withdrawal pays no fee (``zk: a withdrawal
  pays no fee``): its signed message has none. As in ``core/zk``, a fee is held
  until the batch's end (:attr:`PoseidonEddsa.holds_fees`; ``stf.credit_held_fees``
  credits the sum in one write), so every intermediate root is the circuit's.
- **Refusal order**: each rule is ``core/zk``'s, but ``stf.py`` checks the sender's
  existence before the signature and the recipient's before the amount and the
  balance; a transaction breaking two rules may be refused for another of the two.
- **Forced withdrawals** (an L1 queue entry in ``core/l2``) run as in the optimistic
  mode; ``core/zk`` has none (its escape hatch is on L1).

The zk node's ledger is a state of this scheme: it applies each batch with
``zk_batch.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.l2.records import MAX_BALANCE, NO_BLS_KEY, L2Error, require
from l2gpu.core.l2.transactions import Transfer, Withdraw
from l2gpu.core.types import Hash32
from l2gpu.core.zk import transfer as zk_transfer
from l2gpu.core.zk import withdrawal as zk_withdrawal
from l2gpu.core.zk.deposit import valid_key
from l2gpu.core.zk.pubdata import FEE_UNIT_WEI
from l2gpu.core.zk.state import MAX_NONCE, PRODUCTION_DEPTH, ZkError, ZkState, signed_by_account
from l2gpu.core.zk.state import Account as ZkAccount

if TYPE_CHECKING:
    from l2gpu.core.l2.records import Account, Exit, L2Channel
    from l2gpu.core.l2.scheme import Authorization, StateCommitment
    from l2gpu.core.l2.transactions import Deposit, UserTx
    from l2gpu.core.zk.state import Channel as ZkChannel

MANAGER_CHANNELS_REFUSED = "zk: ChannelManager channels are not in the zk scheme"
"""The refusal of ``core/l2``'s ChannelManager channel transactions under this scheme."""
KEY_BYTES = 64
"""A zk account's key in ``Account.bls_key`` and ``Deposit.bls_key``: ``ax || ay``."""


def zk_index(index: int) -> int:
    """The ``core/zk`` leaf of L2 account ``index``: one up, since leaf 0 is no account."""
    return index + 1


def key_bytes(ax: int, ay: int) -> bytes:
    """The 64 bytes ``ax || ay`` (big-endian) of a Baby Jubjub public key."""
    return ax.to_bytes(32, "big") + ay.to_bytes(32, "big")


def key_point(key: bytes) -> tuple[int, int]:
    """``(ax, ay)`` of a key written by :func:`key_bytes`."""
    return int.from_bytes(key[:32], "big"), int.from_bytes(key[32:], "big")


def is_usable_key(key: bytes) -> bool:
    """Whether ``key`` is 64 bytes naming a canonical Baby Jubjub point (``core/zk``'s
    deposit rule)."""
    return len(key) == KEY_BYTES and valid_key(*key_point(key))


@contextmanager
def zk_rules() -> Iterator[None]:
    """Run ``core/zk``'s rules, raising their refusals as :class:`L2Error` with the
    same reason (``zk: ...``), since the state transition's callers catch L2Error."""
    try:
        yield
    except ZkError as exc:
        raise L2Error(exc.reason, exc.fix) from exc


class PoseidonTree:
    """The zk scheme's commitment: a ``core/zk`` state, replaced on every write (its
    tree is persistent, so a write costs one path of Poseidon hashes)."""

    def __init__(self, depth: int) -> None:
        """An empty tree of ``depth``."""
        self.tree = ZkState.empty(depth)
        self.trail: list[ZkState] | None = None
        """While a list: the tree after each write, appended (``zk_batch.py`` reads a
        transfer's intermediate state, the one its circuit slot proves, from it)."""

    def _write(self, tree: ZkState) -> None:
        self.tree = tree
        if self.trail is not None:
            self.trail.append(tree)

    def put_account(self, account: Account) -> None:
        """Write ``account``'s ``core/zk`` leaf at :func:`zk_index`."""
        ax, ay = key_point(account.bls_key)
        address = int.from_bytes(account.address, "big")
        leaf = ZkAccount(ax, ay, account.balance, account.nonce, address)
        with zk_rules():
            self._write(self.tree.with_account(zk_index(account.index), leaf))

    def drop_account(self, index: int) -> None:
        """Empty account ``index``'s leaf (a rollback of its creation)."""
        self._write(self.tree.without_leaf(zk_index(index)))

    def put_channel(self, channel: L2Channel) -> None:
        """Refused: the zk scheme's authorization refuses every ChannelManager channel
        transaction (its channels are ``core/zk``'s: :meth:`put_zk_channel`)."""
        raise L2Error(MANAGER_CHANNELS_REFUSED)

    def drop_channel(self, index: int) -> None:
        """Refused, as :meth:`put_channel`."""
        raise L2Error(MANAGER_CHANNELS_REFUSED)

    def put_zk_channel(self, slot: int, channel: ZkChannel) -> None:
        """Write ``channel``'s ``core/zk`` leaf at ``slot``, in the tree's channels half."""
        with zk_rules():
            self._write(self.tree.with_channel(slot, channel))

    def drop_zk_channel(self, slot: int) -> None:
        """Empty the channel leaf ``slot`` (a close, a reclaim, or a rollback of an open)."""
        self._write(self.tree.without_leaf(slot))

    def put_exit(self, exit_: Exit) -> None:
        """Nothing: exits are the batch's public data in the zk rollup, not state."""

    def drop_exit(self, index: int) -> None:
        """Nothing, as :meth:`put_exit`."""

    def root(self, deposits_processed: int, exit_count: int) -> Hash32:
        """The ``core/zk`` root as 32 big-endian bytes; the counters are not in it."""
        return Hash32(self.tree.root().to_bytes(32, "big"))


@dataclass(frozen=True, slots=True)
class PoseidonEddsa:
    """The zk rollup's scheme for a tree of ``depth`` (the circuits are compiled for
    one; 24 in production, 8 in the tests)."""

    depth: int = PRODUCTION_DEPTH

    @property
    def name(self) -> str:
        """``poseidon-eddsa``."""
        return "poseidon-eddsa"

    @property
    def holds_fees(self) -> bool:
        """True: fees wait for the batch's end, as ``core/zk``'s batch credits them."""
        return True

    def commitment(self) -> PoseidonTree:
        """An empty ``core/zk`` tree of this depth."""
        return PoseidonTree(self.depth)

    def deposit_key(self, account: Account, tx: Deposit) -> bytes | None:
        """A new account's key is the deposit's if usable; an existing account keeps
        its key, and a deposit naming another is skipped, as is one that would take
        the balance to 2^128 (module docstring)."""
        if account.balance + tx.amount > MAX_BALANCE:
            return None  # core/zk's SKIPPED_OVERFLOW: a deposit never refuses a batch
        if account.bls_key == NO_BLS_KEY:
            fits = zk_index(account.index) < 1 << (self.depth - 1)  # the accounts' half
            return tx.bls_key if fits and is_usable_key(tx.bls_key) else None
        return account.bls_key if tx.bls_key == account.bls_key else None

    def authorize(
        self,
        commitment: StateCommitment,
        sender: Account,
        tx: UserTx,
        authorization: Authorization | None,
    ) -> None:
        """``sender`` signed ``core/zk``'s message for ``tx`` at its current nonce, which
        can still grow; raises :class:`L2Error` with ``core/zk``'s reasons."""
        assert isinstance(commitment, PoseidonTree), "a zk scheme's state has a Poseidon tree"
        require(authorization is not None, "zk: unsigned transaction")
        assert authorization is not None
        with zk_rules():
            digest, what = _message(tx, authorization.nonce)
            signature = unpack_signature(authorization.signature)
            index = zk_index(sender.index)
            nonce = authorization.nonce
            account = signed_by_account(commitment.tree, index, digest, signature, nonce, what)
        require(account.nonce < MAX_NONCE, "zk: nonce overflow")


POSEIDON_EDDSA = PoseidonEddsa()
"""The zk scheme at the production depth, 24."""


def fee_code_of(fee: int) -> int:
    """The one-byte code of a transfer's ``fee`` (``fee = code * 10^12``); raises
    :class:`ZkError` when it has none."""
    if fee % FEE_UNIT_WEI:
        raise ZkError("zk: fee not representable", f"a fee is a multiple of {FEE_UNIT_WEI} wei")
    return fee // FEE_UNIT_WEI  # a code above 255 is refused by the message's range check


def _message(tx: UserTx, nonce: int) -> tuple[int, str]:
    """``core/zk``'s signed message for ``tx`` at ``nonce``, and its kind."""
    if isinstance(tx, Transfer):
        code = fee_code_of(tx.fee)
        ztx = zk_transfer.TransferTx(zk_index(tx.sender), zk_index(tx.to), tx.amount, code, nonce)
        return zk_transfer.message(ztx), "transfer"
    if isinstance(tx, Withdraw):
        if tx.fee:
            raise ZkError("zk: a withdrawal pays no fee", "set the fee to 0")
        wtx = zk_withdrawal.WithdrawalTx(zk_index(tx.sender), tx.amount, nonce)
        return zk_withdrawal.message(wtx), "withdrawal"
    raise ZkError(
        MANAGER_CHANNELS_REFUSED,
        f"{type(tx).__name__} runs under the keccak-secp256k1 scheme only: "
        "use OpenZkChannel, CloseZkChannel and ReclaimZkChannel",
    )


def unpack_signature(packed: bytes) -> eddsa.Signature:
    """The EdDSA signature packed in 64 bytes; raises :class:`ZkError` (``zk: bad
    signature``) for bytes that pack none."""
    try:
        return eddsa.unpack_signature(packed)
    except (SignatureError, InvalidValue, ValueError) as exc:
        raise ZkError("zk: bad signature", "a signature is 64 packed bytes") from exc


def sign(private_key: bytes, tx: UserTx, nonce: int) -> bytes:
    """The 64-byte packed signature that authorizes ``tx`` at ``nonce`` under the zk
    scheme, with the sender's 32-byte EdDSA-Poseidon key (``core/zk/keys.py``)."""
    with zk_rules():
        digest, _ = _message(tx, nonce)
    return eddsa.pack_signature(eddsa.sign(private_key, digest))
