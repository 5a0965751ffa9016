"""Client of the Rollup contract: the L1 queue, batches, withdrawals and the freeze.

It turns ``Queued`` logs into the L2's L1 operations (deposits and forced
withdrawals) for the sequencer, posts sealed batches, and builds the Merkle
proofs a user needs to claim an exit, or to leave a frozen rollup.

Each queue entry also records the L2 account index L1 gave its sender (at the
first deposit, in queue order): the L2 cannot prove that an address has no
account, so a fraud proof takes the index from L1 (:meth:`queue_account_index`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.bls_points import g2_point
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.l2.blob import to_blob
from l2gpu.core.l2.codec import Batch
from l2gpu.core.l2.segments import segment_leaf, segments
from l2gpu.core.l2.state import Account, L2Channel, L2State, RootParts
from l2gpu.core.l2.transactions import Deposit, ForcedWithdraw, L1Operation
from l2gpu.core.types import Address, Wei
from l2gpu.l1 import Chain, ContractRevert, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum, to_web3
from l2gpu.l1.contracts.channel_params import as_rollup_tuple
from l2gpu.l1.contracts.dispute_deploy import DisputeTerms, deploy_verifiers_and_game
from l2gpu.l1.logs import LogPoller

CONTRACT_SOURCE = "rollup/Rollup.vy"
SEVEN_DAYS = 7 * 24 * 3600
TWELVE_HOURS = 12 * 3600
KIND_DEPOSIT, KIND_FORCED_WITHDRAW = 1, 2
BLOB_POST_GAS = 300_000
BLOB_GAS_PER_LEAF = 2_000  # calldata (at the EIP-7623 floor) and hashing of one leaf
WITHDRAW_GAS = 250_000
"""The gas limit of a ``Rollup.withdraw`` that a browser wallet sends: explicit, from
the call's known bound (as ``BLOB_POST_GAS``), not left to the wallet's estimate.
Measured on the embedded L1: 91,806 gas with the node's full 24-hash proof (1,092 bytes
of calldata) paying an existing account. The worst case adds a value call to a new
account (25,000), a recipient that burns the payout's whole stipend and is credited
instead (``PAYOUT_GAS`` 50,000, then a stored credit, about 25,000) and the shards'
bridge's check (about 10,000): about 200,000. Unused gas is not charged."""


class RollupClient:
    """Typed access to one deployed Rollup."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address
        self._queue_poller = LogPoller(chain, [contract])
        self._queued: list[L1Operation] = []
        self._account_indices: dict[int, int] = {}
        game = contract.call("GAME")
        self.game = chain.attach(compile_contract("rollup/DisputeGame.vy"), game)

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        sender: LocalAccount,
        *,
        genesis_root: bytes,
        challenge_window: int = SEVEN_DAYS,
        force_delay: int = TWELVE_HOURS,
        min_bond: int = 10**18,
        terms: DisputeTerms | None = None,
        allow_blobs: bool = False,
        bridge: Address | None = None,
        cache_dir: Path | None = None,
    ) -> RollupClient:
        """Deploy a rollup starting at ``genesis_root``, with its fraud-proof contracts.

        ``terms`` sets the challenge bond and the dispute clocks; by default each clock
        is a seventh of the challenge window (one day of seven). ``allow_blobs``
        accepts blob batches, which are never final (not fraud-provable yet). ``bridge``
        makes it a shard of that bridge (see :mod:`l2gpu.l1.contracts.bridge`).
        """
        if terms is None:
            period = max(challenge_window // 7, 1)
            terms = DisputeTerms(min_bond // 10, period, period)
        game, expected, bls = deploy_verifiers_and_game(chain, sender, terms, cache_dir=cache_dir)
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        contract = chain.deploy(compiled, genesis_root, challenge_window, force_delay, min_bond,
                                game.address, allow_blobs, bls, bridge or Address(bytes(20)),
                                sender=sender)  # fmt: skip
        if contract.address != expected:
            raise L1Error(
                "the rollup was not deployed where its dispute game expects it",
                "deploy again from an account with no transactions in flight",
            )
        client = cls(chain, contract)
        client.game = game
        return client

    # -- the queue -------------------------------------------------------------------

    def deposit(self, account: LocalAccount, key: BlsSecretKey, amount: int) -> Receipt:
        """Deposit ``amount`` wei from ``account`` with its BLS key and proof."""
        return self.contract.transact(
            "deposit",
            key.public_key,
            key.prove_possession(),
            g2_point(key.public_key),
            sender=account,
            value=amount,
        )

    def force_withdraw(self, account: LocalAccount, amount: int) -> Receipt:
        """Queue a forced withdrawal on L1."""
        return self.contract.transact("force_withdraw", amount, sender=account)

    def new_operations(self) -> list[L1Operation]:
        """L1 operations queued since the last call, in queue order."""
        fresh: list[L1Operation] = []
        for event in self._queue_poller.poll():
            if getattr(event, "name", "") != "Queued":
                continue
            args: Any = event.args
            address = args["sender"]
            self._account_indices[args["index"]] = int(args["account_index"])
            if args["kind"] == KIND_DEPOSIT:
                key, proof = bytes(args["bls_key"]), bytes(args["proof_of_possession"])
                fresh.append(Deposit(args["index"], address, Wei(args["amount"]), key, proof))
            else:
                fresh.append(ForcedWithdraw(args["index"], address, Wei(args["amount"])))
        self._queued.extend(fresh)
        return fresh

    def queue_account_index(self, queue_index: int) -> int:
        """The L2 account index queue entry ``queue_index`` recorded, from its ``Queued`` log.

        ``NO_ACCOUNT`` for a forced withdrawal by an address that had never deposited.
        """
        known = self._account_indices.get(queue_index)
        if known is not None:
            return known
        queued = next(i for i in self.contract.abi if i.get("name") == "Queued")
        signature = f"Queued({','.join(i['type'] for i in queued['inputs'])})"
        logs = self.chain.w3.eth.get_logs({
            "fromBlock": 0, "toBlock": "latest", "address": checksum(self.address),
            "topics": ["0x" + keccak256(signature.encode()).hex(),
                       "0x" + queue_index.to_bytes(32, "big").hex()],
        })  # fmt: skip
        for event in self.contract.decode_logs(logs):
            if event.name == "Queued":
                self._account_indices[queue_index] = int(event.args["account_index"])
                return self._account_indices[queue_index]
        raise L1Error(f"no queue entry {queue_index} on L1")

    def queue_entry_args(self, operation: L1Operation) -> tuple[Any, ...]:
        """(index, kind, sender, amount, key hash, proof hash, account index): the fields
        of the queue entry's hash, what refund_queued takes."""
        op = operation
        account = self.queue_account_index(op.queue_index)
        if isinstance(op, Deposit):
            key_hash, proof_hash = keccak256(op.bls_key), keccak256(op.proof_of_possession)
            return (op.queue_index, KIND_DEPOSIT, op.address, op.amount, key_hash, proof_hash,
                    account)  # fmt: skip
        empty = keccak256(b"")
        return (op.queue_index, KIND_FORCED_WITHDRAW, op.address, op.amount, empty, empty,
                account)  # fmt: skip

    def queue_entry_hash(self, operation: L1Operation) -> bytes:
        """The hash ``Rollup.queue(index)`` holds for ``operation``."""
        _, *fields = self.queue_entry_args(operation)
        types = ["uint256", "address", "uint256", "bytes32", "bytes32", "uint256"]
        return keccak256(encode(types, [to_web3(f) for f in fields]))

    # -- batches ------------------------------------------------------------------------

    def stake(self, proposer: LocalAccount, amount: int) -> Receipt:
        """Add to a proposer's bond."""
        return self.contract.transact("stake", sender=proposer, value=amount)

    def submit(self, batch: Batch, queue_end: int, proposer: LocalAccount) -> tuple[int, Receipt]:
        """Post ``batch`` with its post-state root; return (batch index, receipt)."""
        receipt = self.contract.transact(
            "submit_batch", batch.encode(), batch.post_root, queue_end, sender=proposer
        )
        return int(receipt.event("BatchPosted").args["index"]), receipt

    def submit_blob(
        self,
        batch: Batch,
        queue_end: int,
        proposer: LocalAccount,
        previous_root: bytes | None = None,
    ) -> tuple[int, Receipt, bytes]:
        """Post ``batch`` as an EIP-4844 blob; return (batch index, receipt, the blob).

        L1 cannot read the blob, so the batch's segment leaves go along as calldata;
        ``previous_root`` (the root ``batch`` starts from) defaults to L1's newest.
        Blob batches are not fraud-provable yet (see ``Rollup.submit_batch_blob``).
        """
        if previous_root is None:
            newest = int(self.contract.call("batch_count")) - 1
            previous_root = bytes(self.contract.call("batch_root", newest))
        if not self.contract.call("ALLOW_BLOBS"):
            raise ContractRevert(
                "Rollup",
                "submit_batch_blob",
                "blob batches are off on this "
                "deployment: they are not fraud-provable yet; post calldata",
            )
        leaves = [segment_leaf(s) for s in segments(batch, previous_root)]
        blob = to_blob(batch.encode())
        fn = self.contract.function("submit_batch_blob", batch.post_root, queue_end, leaves)
        w3 = self.chain.w3
        base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tx = fn.build_transaction(self.chain.tx_params(proposer, {
            "from": proposer.address, "maxPriorityFeePerGas": 1, "maxFeePerGas": 2 * base + 1,
            "maxFeePerBlobGas": 2 * self.blob_base_fee() + 1,
            # Fixed, not estimated: an estimate runs without the blob and would revert.
            "gas": BLOB_POST_GAS + BLOB_GAS_PER_LEAF * len(leaves),
        }))  # fmt: skip
        signed = proposer.sign_transaction(tx, blobs=[blob])
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        raw = dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05))
        raw["txBytes"] = len(signed.raw_transaction) - len(blob)  # the blob is not calldata
        receipt = self.chain.to_receipt(raw)
        if raw.get("status") != 1:
            raise ContractRevert("Rollup", "submit_batch_blob", "the transaction failed on chain")
        return int(receipt.event("BatchPosted").args["index"]), receipt, blob

    def blob_base_fee(self) -> int:
        """The current blob base fee in wei per blob gas."""
        try:
            return int(self.chain.w3.eth.blob_base_fee)
        except Exception:  # a node without EIP-4844 support answers with an error
            return 1

    def is_final(self, index: int) -> bool:
        """Whether batch ``index`` is past its challenge window."""
        return bool(self.contract.call("is_final", index))

    # -- exits ---------------------------------------------------------------------------

    def withdraw(
        self, state_at_batch: L2State, batch_index: int, exit_index: int, sender: LocalAccount
    ) -> Receipt:
        """Claim exit ``exit_index`` with a proof from the state as of ``batch_index``."""
        exit_ = state_at_batch.exits[exit_index]
        parts = state_at_batch.parts()
        return self.contract.transact(
            "withdraw", batch_index, exit_index, exit_.address, exit_.amount,
            state_at_batch.exit_tree.proof(exit_index), parts.accounts_root,
            parts.channels_root, parts.deposits_processed, parts.exit_count, sender=sender,
        )  # fmt: skip

    def freeze(self, sender: LocalAccount) -> Receipt:
        """Freeze the rollup (only when a queued operation is overdue)."""
        return self.contract.transact("freeze", sender=sender)

    def exit_account(self, final_state: L2State, account: Account, sender: LocalAccount) -> Receipt:
        """After a freeze: take out ``account``'s balance in the last final state."""
        parts: RootParts = final_state.parts()
        return self.contract.transact(
            "exit_account", account.index, account.address, account.balance, account.nonce,
            account.bls_key, final_state.account_tree.proof(account.index),
            parts.channels_root, parts.exits_root, parts.deposits_processed, parts.exit_count,
            sender=sender,
        )  # fmt: skip

    def exit_channel(
        self, final_state: L2State, channel: L2Channel, sender: LocalAccount
    ) -> Receipt:
        """After a freeze: pay out a live channel of the last final state."""
        parts = final_state.parts()
        c = channel.channel
        return self.contract.transact(
            "exit_channel", channel.index, as_rollup_tuple(c.params), channel.renter,
            channel.provider, c.deposit, c.best_amount, c.expires_at, c.close_deadline,
            int(c.status), final_state.channel_tree.proof(channel.index), parts.accounts_root,
            parts.exits_root, parts.deposits_processed, parts.exit_count, sender=sender,
        )  # fmt: skip

    def refund_queued(self, operation: L1Operation, sender: LocalAccount) -> Receipt:
        """After a freeze: return a deposit no final batch processed."""
        return self.contract.transact(
            "refund_queued", *self.queue_entry_args(operation), sender=sender
        )


def address_of(account: LocalAccount) -> Address:
    """An account's address as an :class:`Address`."""
    return Address.from_hex(account.address)


def withdraw_arguments(proof: dict[str, Any]) -> tuple[Any, ...]:
    """``Rollup.withdraw``'s arguments for an exit the node proved (a ``GET
    /l2/exits/{i}/proof`` answer), in the contract's order."""
    return (
        int(proof["batch"]), int(proof["exit_index"]),
        Address.from_hex(proof["recipient"]), int(proof["amount"]),
        [bytes.fromhex(h[2:]) for h in proof["proof"]],
        bytes.fromhex(proof["accounts_root"][2:]), bytes.fromhex(proof["channels_root"][2:]),
        int(proof["deposits_processed"]), int(proof["exit_count"]),
    )  # fmt: skip


def withdraw_calldata(proof: dict[str, Any]) -> bytes:
    """The ABI-encoded ``Rollup.withdraw`` call for the exit ``proof`` proves: the
    ``data`` of the L1 transaction any account may send to claim it (it pays the
    exit's recipient), encoded from the contract's own ABI."""
    abi = compile_contract(CONTRACT_SOURCE).abi
    entry: Any = next(i for i in abi if i.get("type") == "function" and i["name"] == "withdraw")
    types = list(get_abi_input_types(entry))
    return function_abi_to_4byte_selector(entry) + encode(
        types, to_web3(list(withdraw_arguments(proof)))
    )


def claim_proven_exit(
    chain: Chain, rollup: Address, proof: dict[str, Any], sender: LocalAccount
) -> Receipt:
    """Send ``Rollup.withdraw`` for an exit the node proved (a ``GET
    /l2/exits/{i}/proof`` answer) from ``sender``; it pays the exit's recipient."""
    contract = chain.attach(compile_contract(CONTRACT_SOURCE), rollup)
    return contract.transact("withdraw", *withdraw_arguments(proof), sender=sender)
