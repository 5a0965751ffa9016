"""Client of the ZkRollup contract: deposits, proven batches, withdrawals, the freeze
and the escape hatch.

The contract builds each batch's public data itself (``core/zk/pubdata.py``): from
its state root, the sections the prover passes, and its own deposit queue, whose
entries it stores as the keccak256 of their 103 bytes. This client turns
``Deposited`` logs back into those entries (:meth:`ZkRollupClient.queued_deposits`),
so that a prover puts exactly the bytes L1 will hash into its batch. Forced exits
(:meth:`ZkRollupClient.force_exit`) have their own queue, read the same way
(:meth:`ZkRollupClient.queued_forced_exits`).

The public data's header (old root, new root, fee account, timestamp) is L1's own:
a batch is posted as its timestamp and its seven sections
(:func:`pubdata_sections`), and L1 takes the timestamp only if it is not before the
last accepted batch's and not after the block's.

The escape hatch (:meth:`ZkRollupClient.exit_account` for an account's balance,
:meth:`ZkRollupClient.exit_channel` for a lease channel's deposit, which goes back
whole to its renter) hashes on L1 with the generated Poseidon contracts
(:mod:`l2gpu.zk.poseidon_contract`), which :meth:`ZkRollupClient.deploy` deploys
first and hands to the rollup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.types import Address
from l2gpu.core.zk.forced_exit import ForcedExitRequest
from l2gpu.core.zk.pubdata import (
    FORCED_EXIT_BYTES,
    HEADER_BYTES,
    TIMESTAMP_BYTES,
    WITHDRAWAL_BYTES,
    BatchShape,
    DepositSlot,
    encode_deposit,
    section_sizes,
    sections_of,
)
from l2gpu.core.zk.state import Account, Channel, MerkleProof
from l2gpu.l1 import Chain, DeployedContract, Receipt, compile_contract
from l2gpu.l1.logs import LogPoller

ZERO_ADDRESS = Address(bytes(20))

CONTRACT_SOURCE = "zk/ZkRollup.vy"
POSEIDON_SOURCES = ("zk/PoseidonT3.vy", "zk/PoseidonT6.vy", "zk/PoseidonT7.vy")
"""The generated Poseidon(2), Poseidon(5) and Poseidon(6) contracts
(``poseidon_contract.contract_path``)."""
TWELVE_HOURS = 12 * 3600
VERIFY_GAS = 400_000
"""The gas ZkRollup.vy hands its verifier (its ``VERIFY_GAS``): the most a proof's check
may cost inside a batch."""
SUBMIT_FIXED_GAS = 250_000
"""A batch's own work beside its verifier and its slots, bounded: the SHA-256 of its
data, the header's checks, the root's and the counters' writes, the event (about
100k gas at the tests' shape, with its verifier's 190k apart)."""
SUBMIT_SLOT_GAS = 60_000
"""A bound on each taken deposit and each withdrawal slot: a queue entry read and
compared, a withdrawal's credit written to fresh storage (22,100) and its hashing."""


def submit_gas_bound(
    section_bytes: int, deposits: int, withdrawal_slots: int, forced_exits: int = 0
) -> int:
    """A gas limit that a batch of this size always fits in, so that posting it needs no
    estimate (on the embedded chain an estimate runs the batch's pure-Python pairing
    check twice: about 11 s a batch). Calldata at 16 gas a byte, the memory its copies
    take (Vyper copies each section and their concatenation: four words a word, with
    the EVM's quadratic memory cost), the verifier's whole allowance, a fixed part,
    and a part per deposit, withdrawal slot and taken forced exit. It lies far above
    what a batch uses (about 2.5 times at the tests' shape); what a transaction uses,
    not its limit, is what it pays."""
    words = 4 * (-(-(section_bytes + 4 * 32 + 12 * 32) // 32))  # the sections, roots, proof
    memory = 3 * words + words * words // 512
    calldata = 16 * (section_bytes + 4 + 32 * 20)  # the selector, 20 head and proof words
    slots = SUBMIT_SLOT_GAS * (deposits + withdrawal_slots + forced_exits)
    return 21_000 + calldata + memory + VERIFY_GAS + SUBMIT_FIXED_GAS + slots


Sections = tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes]
"""A batch's sections in the public data's order: deposits, transfers, withdrawals,
opens, closes, reclaims, forced exits."""


def pubdata_sections(shape: BatchShape, pubdata: bytes) -> Sections:
    """A batch's public data (``pubdata.encode_batch``) less its header, which L1
    writes itself: the seven sections :meth:`ZkRollupClient.submit_batch` takes."""
    if len(pubdata) != shape.size:
        raise ValueError(f"public data of {len(pubdata)} bytes, not {shape.size} for {shape}")
    d, t, w, o, c, r, f = sections_of(shape, pubdata)
    return d, t, w, o, c, r, f


def pubdata_timestamp(pubdata: bytes) -> int:
    """The batch's timestamp: the header's last 4 bytes."""
    return int.from_bytes(pubdata[HEADER_BYTES - TIMESTAMP_BYTES : HEADER_BYTES], "big")


def exit_channel_gas(depth: int) -> int:
    """The gas limit :meth:`ZkRollupClient.exit_channel` sends with (never estimated):
    two paths of ``depth`` Poseidon(2) calls and the two leaves' hashes, with room."""
    return 700_000 + 2 * depth * 75_000


@dataclass(frozen=True, slots=True)
class Groth16Proof:
    """A proof as the EVM verifier takes it: ``a`` and ``c`` in G1, ``b`` in G2 with each
    coordinate's two limbs in the precompile's order (imaginary part first)."""

    a: tuple[int, int]
    b: tuple[tuple[int, int], tuple[int, int]]
    c: tuple[int, int]


@dataclass(frozen=True, slots=True)
class QueuedDeposit:
    """A deposit in L1's queue: its position and the slot the batch must carry."""

    position: int
    slot: DepositSlot


@dataclass(frozen=True, slots=True)
class QueuedForcedExit:
    """A full exit in L1's queue: its position, the account a batch's slot must name,
    and the owner L1 pays what the slot says was paid."""

    position: int
    index: int
    eth_address: bytes

    @property
    def request(self) -> ForcedExitRequest:
        """The exit as a batch applies it (``core/zk/forced_exit.py``)."""
        return ForcedExitRequest(self.index)


def deploy_hashers(chain: Chain, sender: LocalAccount, cache_dir: Path | None) -> list[Address]:
    """Deploy the Poseidon contracts a ZkRollup's escape hatch hashes with (T3, T6, T7)."""
    return [
        chain.deploy(compile_contract(source, cache_dir=cache_dir), sender=sender).address
        for source in POSEIDON_SOURCES
    ]


class ZkRollupClient:
    """Typed access to one deployed ZkRollup."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address
        self._poller = LogPoller(chain, [contract])
        self._queued: list[QueuedDeposit] = []
        self._exits: list[QueuedForcedExit] = []
        self._validium: bool | None = None

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        sender: LocalAccount,
        *,
        genesis_root: int,
        verifier: DeployedContract,
        circuit_hash: bytes,
        shape: BatchShape,
        depth: int,
        force_delay: int = TWELVE_HOURS,
        validium: bool = False,
        bridge: Address | None = None,
        hashers: list[Address] | None = None,
        cache_dir: Path | None = None,
    ) -> ZkRollupClient:
        """Deploy a zk rollup over ``verifier`` (generated for the batch circuit of
        ``shape`` and ``depth``, whose content hash is ``circuit_hash``), with the
        Poseidon contracts its escape hatch hashes with (``hashers``: ones deployed
        already, T3, T6, T7; else deployed here). ``validium``: batches keep their
        transfer and channel sections off L1 (the verifier must be the validium
        circuit's). ``bridge``: the shards' bridge this rollup is a shard of."""
        if hashers is None:
            hashers = deploy_hashers(chain, sender, cache_dir)
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        contract = chain.deploy(
            compiled, genesis_root, verifier.address, circuit_hash, *shape.sections, depth,
            force_delay, *hashers, validium, bridge or ZERO_ADDRESS, sender=sender,
        )  # fmt: skip
        return cls(chain, contract)

    # -- the queue -------------------------------------------------------------------

    def deposit(self, account: LocalAccount, key: tuple[int, int], amount: int) -> Receipt:
        """Deposit ``amount`` wei from ``account`` into its L2 account with L2 key ``key``
        (a Baby Jubjub point, the EdDSA-Poseidon public key)."""
        return self.contract.transact("deposit", key[0], key[1], sender=account, value=amount)

    def queued_deposits(self) -> list[QueuedDeposit]:
        """Every deposit queued so far, in queue order (read from the logs)."""
        self._poll()
        return list(self._queued)

    def queued_forced_exits(self) -> list[QueuedForcedExit]:
        """Every forced exit queued so far, in queue order (read from the logs)."""
        self._poll()
        return list(self._exits)

    def queues(self) -> tuple[list[QueuedDeposit], list[QueuedForcedExit]]:
        """Both of L1's queues so far, in order, from one read of the logs."""
        self._poll()
        return list(self._queued), list(self._exits)

    def force_exit(self, account: LocalAccount) -> Receipt:
        """Queue a full exit of ``account``'s own L2 account (its whole balance, to
        ``account``), which the operator must take into a batch within the
        forced-inclusion delay."""
        return self.contract.transact("force_exit", sender=account)

    def forced_exits_done(self) -> int:
        """How many queued forced exits accepted batches have taken."""
        return int(self.contract.call("exit_queue_done"))

    def _poll(self) -> None:
        for event in self._poller.poll():
            args = event.args
            if event.name == "ForcedExitQueued":
                owner = bytes.fromhex(str(args["owner"]).removeprefix("0x"))
                self._exits.append(QueuedForcedExit(int(args["queue_index"]),
                                                    int(args["account_index"]), owner))  # fmt: skip
                continue
            if event.name != "Deposited":
                continue
            slot = DepositSlot(
                int(args["account_index"]),
                int(args["ax"]),
                int(args["ay"]),
                bytes.fromhex(str(args["sender"]).removeprefix("0x")),
                int(args["amount"]),
            )
            self._queued.append(QueuedDeposit(int(args["queue_index"]), slot))

    def entry_matches(self, deposit: QueuedDeposit) -> bool:
        """True if L1 stores exactly this deposit's bytes at its position."""
        stored = bytes(self.contract.call("queue", deposit.position))
        return stored == keccak256(encode_deposit(deposit.slot))

    def account_index(self, owner: str) -> int:
        """The account index L1 gave ``owner`` (a 0x address) at its first deposit; 0
        when it never deposited."""
        return int(self.contract.call("account_index_of", owner))

    # -- batches ---------------------------------------------------------------------

    def submit_batch(
        self,
        *,
        new_root: int,
        fee_account: int,
        timestamp: int,
        deposit_count: int,
        sections: Sections,
        proof: Groth16Proof,
        exit_count: int = 0,
        sender: LocalAccount,
        gas: int | None = None,
        estimate: bool = False,
    ) -> Receipt:
        """Post a proven batch: ``timestamp`` and ``sections`` (the deposit, transfer,
        withdrawal, open, close, reclaim and forced-exit bytes: :func:`pubdata_sections`)
        are its public data but the roots and the fee account (the header is L1's own);
        it takes ``deposit_count`` queued deposits and ``exit_count`` forced exits.
        The gas limit is ``gas``, else :func:`submit_gas_bound`'s bound, else (with
        ``estimate``, or a bound above the latest block's gas limit) the L1's estimate,
        which runs the whole batch, pairing check included, once or twice more. On a
        validium only the deposits, the withdrawals, the forced exits and the SHA-256 of
        the other four sections go to L1 (``pubdata.validium_public_input``)."""
        deposits, transfers, withdrawals, opens, closes, reclaims, exits = sections
        if gas is None and not estimate:
            bound = submit_gas_bound(sum(len(part) for part in sections), deposit_count,
                                     len(withdrawals) // WITHDRAWAL_BYTES,
                                     len(exits) // FORCED_EXIT_BYTES)  # fmt: skip
            # a limit above the block's makes the transaction invalid: estimate instead
            block_limit = int(self.chain.w3.eth.get_block("latest")["gasLimit"])
            gas = bound if bound <= block_limit else None
        if self.validium():
            digest = hashlib.sha256(transfers + opens + closes + reclaims).digest()
            return self.contract.transact(
                "submit_validium_batch", new_root, fee_account, timestamp, deposit_count,
                deposits, withdrawals, exit_count, exits, digest, list(proof.a),
                [list(proof.b[0]), list(proof.b[1])], list(proof.c), sender=sender, gas=gas,
            )  # fmt: skip
        return self.contract.transact(
            "submit_batch", new_root, fee_account, timestamp, deposit_count, deposits,
            transfers, withdrawals, opens, closes, reclaims, exit_count, exits, list(proof.a),
            [list(proof.b[0]), list(proof.b[1])], list(proof.c), sender=sender, gas=gas,
        )  # fmt: skip

    def state_root(self) -> int:
        """The last proven state root."""
        return int(self.contract.call("state_root"))

    def batch_count(self) -> int:
        """How many batches L1 has accepted."""
        return int(self.contract.call("batch_count"))

    def last_timestamp(self) -> int:
        """The timestamp of the last accepted batch (0 before the first): the next
        batch's may not be earlier."""
        return int(self.contract.call("last_timestamp"))

    def validium(self) -> bool:
        """Whether the contract keeps the transfer and channel sections off L1."""
        if self._validium is None:
            self._validium = bool(self.contract.call("VALIDIUM"))
        return self._validium

    def circuit_hash(self) -> bytes:
        """The content hash of the batch circuit the verifier was generated for."""
        return bytes(self.contract.call("CIRCUIT_HASH"))

    def verifier_code(self) -> bytes:
        """The runtime code of the Groth16 verifier this rollup calls: its verifying key
        is in it, as constants."""
        address = self.contract.call("VERIFIER")
        return bytes(self.chain.w3.eth.get_code(address))

    def depth(self) -> int:
        """The depth of the state tree the contract was deployed for."""
        return int(self.contract.call("DEPTH"))

    def shape(self) -> BatchShape:
        """The batch shape the contract was deployed for."""
        names = ("DEPOSIT", "TRANSFER", "WITHDRAWAL", "OPEN", "CLOSE", "RECLAIM", "FORCED_EXIT")
        d, t, w, o, c, r, f = (int(self.contract.call(f"{name}_SLOTS")) for name in names)
        return BatchShape(d, t, w, o, c, r, f)

    def section_sizes(self) -> tuple[int, int, int, int, int, int, int]:
        """The byte length of each section of the deployed shape, in order."""
        return section_sizes(self.shape())

    # -- money out -------------------------------------------------------------------

    def credit(self, owner: str) -> int:
        """Wei credited to ``owner`` (withdrawals, refunds) and not pulled yet."""
        return int(self.contract.call("credit", owner))

    def withdraw_credit(self, account: LocalAccount) -> Receipt:
        """Pull ``account``'s credit."""
        return self.contract.transact("withdraw_credit", sender=account)

    def freeze(self, sender: LocalAccount) -> Receipt:
        """Freeze the rollup (only when the oldest untaken deposit or forced exit is
        overdue)."""
        return self.contract.transact("freeze", sender=sender)

    def refund_deposit(self, deposit: QueuedDeposit, sender: LocalAccount) -> Receipt:
        """After a freeze: credit back a deposit no batch took."""
        return self.contract.transact(
            "refund_deposit", deposit.position, encode_deposit(deposit.slot), sender=sender
        )

    def exit_account(
        self, index: int, account: Account, proof: MerkleProof, sender: LocalAccount
    ) -> Receipt:
        """After a freeze: credit ``account``'s balance (the account at ``index`` in
        the last proven state, whose Merkle ``proof`` is ``ZkState.proof(index)``) to
        its L1 address. Anyone may send it; the wei go to the account's address."""
        return self.contract.transact(
            "exit_account", index, account.ax, account.ay, account.balance, account.nonce,
            Address(account.eth_address.to_bytes(20, "big")), list(proof.siblings),
            sender=sender,
        )  # fmt: skip

    def exited(self, index: int) -> bool:
        """Whether account ``index`` has exited through the escape hatch."""
        return bool(self.contract.call("exited", index))

    def exit_channel(
        self,
        index: int,
        channel: Channel,
        proof: MerkleProof,
        renter: Account,
        renter_proof: MerkleProof,
        sender: LocalAccount,
        gas: int | None = None,
    ) -> Receipt:
        """After a freeze: credit the whole deposit of ``channel`` (the channel at
        ``index`` in the last proven state, ``proof`` its ``ZkState.proof(index)``) to
        its renter's L1 address, read from the renter's account (``renter``, at index
        ``channel.renter``, with its ``renter_proof``). Anyone may send it. ``gas``
        defaults to :func:`exit_channel_gas` of the contract's depth."""
        args = self.exit_channel_args(index, channel, proof, renter, renter_proof)
        limit = gas if gas is not None else exit_channel_gas(len(proof.siblings))
        return self.contract.transact("exit_channel", *args, sender=sender, gas=limit)

    @staticmethod
    def exit_channel_args(
        index: int, channel: Channel, proof: MerkleProof, renter: Account, renter_proof: MerkleProof
    ) -> tuple[object, ...]:
        """The arguments of ``exit_channel`` in the contract's order."""
        return (
            index, channel.renter, channel.open_nonce, channel.provider, channel.deposit,
            channel.expiry, list(proof.siblings), renter.ax, renter.ay, renter.balance,
            renter.nonce, Address(renter.eth_address.to_bytes(20, "big")),
            list(renter_proof.siblings),
        )  # fmt: skip

    def channel_exited(self, index: int) -> bool:
        """Whether channel ``index`` has exited through the escape hatch."""
        return bool(self.contract.call("channel_exited", index))
