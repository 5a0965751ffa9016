"""One interface to an EVM chain: deploy, call, transact, read logs, and dev controls.

:class:`Chain` wraps a web3.py connection. What differs between the embedded
py-evm chain and a JSON-RPC endpoint is only the provider and the
:class:`DevControls` (time travel, mining, snapshots), so both share this code.
Transactions are always signed locally with the sender's key and sent raw: the
same path works against eth-tester, anvil, geth or a public network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.abi import (
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from l2gpu.core.types import Address, Hash32, Timestamp, Wei
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.errors import ContractRevert, L1Error

REVERT_ERRORS: tuple[type[Exception], ...] = (ContractLogicError, ContractCustomError)
"""What a revert looks like: web3's errors over JSON-RPC; the embedded chain adds
eth-tester's own (:func:`add_revert_error`) when its module is imported. Why not here:
importing eth-tester (and py-evm with it) costs every JSON-RPC command a quarter of a
second of CPU."""


def add_revert_error(kind: type[Exception]) -> None:
    """Count ``kind`` as a revert from now on (the embedded chain's ``TransactionFailed``)."""
    global REVERT_ERRORS
    if kind not in REVERT_ERRORS:
        REVERT_ERRORS = (*REVERT_ERRORS, kind)


T = TypeVar("T")


class DevControls(Protocol):
    """Test-chain controls; a production chain raises NotADevChain for each."""

    def increase_time(self, seconds: int) -> None:
        """Advance the chain's clock by ``seconds`` and mine a block with the new time."""

    def mine(self, blocks: int) -> None:
        """Mine ``blocks`` empty blocks."""

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """Make the next mined block carry exactly ``timestamp`` (later than the latest)."""

    def snapshot(self) -> Any:
        """Save the chain state; return a handle for :meth:`revert`."""

    def revert(self, snapshot_id: Any) -> None:
        """Return to a saved state."""


@dataclass(frozen=True)
class ContractEvent:
    """One decoded contract log, in chain order (block number, then log index)."""

    contract: Address
    name: str
    args: Mapping[str, Any]
    block_number: int
    log_index: int
    tx_hash: Hash32


@dataclass(frozen=True)
class Receipt:
    """The outcome of a mined transaction with its decoded events."""

    tx_hash: Hash32
    block_number: int
    gas_used: int
    events: tuple[ContractEvent, ...] = field(default=())
    contract_address: Address | None = None
    tx_bytes: int = 0
    """Size of the signed transaction as sent to L1 (what L1 data costs are paid on)."""

    def event(self, name: str) -> ContractEvent:
        """The single event called ``name`` (raises if there is not exactly one)."""
        found = [e for e in self.events if e.name == name]
        if len(found) != 1:
            raise L1Error(f"expected one {name} event, found {len(found)}")
        return found[0]


class DeployedContract:
    """A contract at an address, with typed call/transact helpers and log decoding."""

    def __init__(self, chain: Chain, compiled: CompiledContract, address: Address) -> None:
        self.chain = chain
        self.name = compiled.name
        self.address = address
        self.abi = compiled.abi
        self._codecs: dict[str, tuple[bytes, list[str], list[str]]] = {}
        self._contract: Contract = chain.w3.eth.contract(
            address=checksum(address), abi=list(compiled.abi)
        )
        self._events_by_topic = {
            HexBytes(event.topic): event
            for event in (
                self._contract.events[item["name"]]
                for item in compiled.abi
                if item.get("type") == "event"
            )
        }

    def call(self, function: str, *args: Any, sender: Address | None = None) -> Any:
        """Call a view function; return its decoded result (addresses as :class:`Address`)."""
        fn = self._function(function, args)
        params = {"from": sender.checksum} if sender is not None else {}
        try:
            return to_python(fn.call(params))
        except REVERT_ERRORS as exc:
            raise ContractRevert(self.name, function, revert_reason(exc)) from exc

    def decode_input(self, data: bytes | str) -> tuple[str, dict[str, Any]]:
        """The function a transaction's ``data`` calls on this contract, and its
        arguments by name (raises ``ValueError`` when no function matches)."""
        try:
            function, params = self._contract.decode_function_input(data)
        except DecodingError as exc:  # a known selector with arguments that do not decode
            raise ValueError(f"the call's arguments do not decode: {exc}") from exc
        return str(function.fn_name), dict(params)

    def call_fast(self, function: str, *args: Any) -> Any:
        """Like :meth:`call`, encoding with eth-abi directly.

        Why: web3's contract layer spends about 6 ms encoding one fraud-proof
        witness (nested structs); eth-abi takes 0.5 ms, which matters to the
        watcher and to differential fuzzing with 10,000 calls.
        """
        selector, inputs, outputs = self._codec(function)
        data = selector + abi_encode(inputs, to_web3(list(args)))
        try:
            raw = self.chain.w3.eth.call({"to": self.address.checksum, "data": HexBytes(data)})
        except REVERT_ERRORS as exc:
            raise ContractRevert(self.name, function, revert_reason(exc)) from exc
        decoded = abi_decode(outputs, bytes(raw))
        result = to_python(tuple(decoded))
        return result[0] if len(result) == 1 else result

    def _codec(self, function: str) -> tuple[bytes, list[str], list[str]]:
        if function not in self._codecs:
            entry: Any = next((i for i in self.abi if i.get("type") == "function"
                          and i.get("name") == function), None)  # fmt: skip
            if entry is None:
                raise L1Error(f"{self.name} has no function {function}")
            self._codecs[function] = (
                function_abi_to_4byte_selector(entry),
                list(get_abi_input_types(entry)),
                list(get_abi_output_types(entry)),
            )
        return self._codecs[function]

    def transact(
        self,
        function: str,
        *args: Any,
        sender: LocalAccount,
        value: int = 0,
        gas: int | None = None,
    ) -> Receipt:
        """Send a transaction calling ``function``; wait for it; return its receipt.

        Raises :class:`ContractRevert` with the contract's reason when it reverts.
        """
        fn = self._function(function, args)
        params: dict[str, Any] = {"from": sender.address, "value": value}
        if gas is not None:
            params["gas"] = gas
        if value:
            self.chain.require_funds(sender, value)
        try:
            tx = self.chain.named_shortfall(
                sender, lambda: fn.build_transaction(self.chain.tx_params(sender, params))
            )
            if gas is None:
                # A margin over the estimate, as wallets add: anvil's estimate for calls
                # that touch other contracts is sometimes exactly one step short.
                tx["gas"] = int(tx["gas"]) * 6 // 5
        except REVERT_ERRORS as exc:
            raise ContractRevert(self.name, function, revert_reason(exc)) from exc
        receipt = self.chain.send_signed(tx, sender)
        if receipt["status"] != 1:
            # With a fixed gas limit nothing was simulated: replay it as a call for the reason.
            reason = (
                f"the transaction failed on chain (gas used {receipt['gasUsed']} of {tx['gas']})"
            )
            try:
                fn.call({"from": sender.address, "value": value}, receipt["blockNumber"] - 1)
            except REVERT_ERRORS as exc:
                reason = revert_reason(exc)
            except Exception:  # noqa: S110 - the reason is a courtesy; the failure stands
                pass
            raise ContractRevert(self.name, function, reason)
        return self.chain.to_receipt(receipt)

    def function(self, function: str, *args: Any) -> Any:
        """The web3 contract function bound to ``args`` (for custom transactions)."""
        return self._function(function, args)

    def decode_logs(self, logs: Sequence[Any]) -> tuple[ContractEvent, ...]:
        """Decode this contract's logs (others are skipped) into :class:`ContractEvent`."""
        decoded = []
        for log in logs:
            if Address(bytes(HexBytes(log["address"]))) != self.address or not log["topics"]:
                continue
            event = self._events_by_topic.get(HexBytes(log["topics"][0]))
            if event is None:
                continue
            processed = event.process_log(log)
            decoded.append(
                ContractEvent(
                    contract=self.address,
                    name=processed["event"],
                    args={k: to_python(v) for k, v in processed["args"].items()},
                    block_number=int(processed["blockNumber"]),
                    log_index=int(processed["logIndex"]),
                    tx_hash=Hash32(bytes(processed["transactionHash"])),
                )
            )
        return tuple(decoded)

    def _function(self, name: str, args: Sequence[Any]) -> Any:
        try:
            fn = self._contract.functions[name]
        except (KeyError, AttributeError, ValueError) as exc:
            names = sorted({i["name"] for i in self.abi if i.get("type") == "function"})
            raise L1Error(
                f"{self.name} has no function {name}", f"use one of: {', '.join(names)}"
            ) from exc
        return fn(*(to_web3(a) for a in args))


class Chain:
    """A connection to an EVM chain with signing accounts and optional dev controls."""

    def __init__(
        self,
        w3: Web3,
        accounts: Sequence[LocalAccount],
        dev: DevControls,
        *,
        description: str,
    ) -> None:
        self.w3 = w3
        self.accounts = list(accounts)
        self.dev = dev
        self.description = description
        self.chain_id = int(w3.eth.chain_id)
        self._contracts: dict[Address, DeployedContract] = {}

    # -- reading ---------------------------------------------------------------

    def block_number(self) -> int:
        """The number of the latest block."""
        return int(self.w3.eth.block_number)

    def timestamp(self) -> Timestamp:
        """The timestamp of the latest block: the chain's notion of now."""
        return Timestamp(int(self.w3.eth.get_block("latest")["timestamp"]))

    def balance(self, address: Address | str) -> Wei:
        """The ether balance of ``address`` (an Address or hex text) in wei."""
        if isinstance(address, str):
            address = Address.from_hex(address)
        return Wei(int(self.w3.eth.get_balance(checksum(address))))

    # -- writing ---------------------------------------------------------------

    def deploy(
        self, compiled: CompiledContract, *args: Any, sender: LocalAccount, value: int = 0
    ) -> DeployedContract:
        """Deploy ``compiled`` with constructor ``args``; return the contract at its address."""
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        try:
            tx = factory.constructor(*(to_web3(a) for a in args)).build_transaction(
                self.tx_params(sender, {"from": sender.address, "value": value})
            )
        except REVERT_ERRORS as exc:
            raise ContractRevert(compiled.name, "constructor", revert_reason(exc)) from exc
        receipt = self.send_signed(tx, sender)
        if receipt["status"] != 1 or not receipt["contractAddress"]:
            raise ContractRevert(compiled.name, "constructor", "deployment failed on chain")
        return self.attach(compiled, Address(bytes(HexBytes(receipt["contractAddress"]))))

    def attach(self, compiled: CompiledContract, address: Address) -> DeployedContract:
        """The contract ``compiled`` already deployed at ``address``; its logs get decoded too."""
        known = self._contracts.get(address)
        if known is not None and known.abi == compiled.abi:
            return known
        contract = DeployedContract(self, compiled, address)
        self._contracts[address] = contract
        return contract

    def send_ether(self, to: Address, amount: int, *, sender: LocalAccount) -> Receipt:
        """Send ``amount`` wei from ``sender`` to ``to``."""
        tx = self.tx_params(sender, {"from": sender.address, "to": to.checksum, "value": amount})
        tx["gas"] = 21_000
        return self.to_receipt(self.send_signed(tx, sender))

    def require_funds(self, sender: LocalAccount, value: int, *, gas: bool = False) -> None:
        """Refuse, as the user's mistake it is, a transaction sending more ether than the
        sender holds on L1 (the node's answer would otherwise surface as an RPC error);
        with ``gas``, ``value`` is what it can cost at most, its gas included."""
        from l2gpu.core.types import format_wei

        held = int(self.w3.eth.get_balance(sender.address))
        if held < value:
            what = "can cost, its gas at the current fee included" if gas else "sends (and its gas)"
            raise L1Error(
                f"{sender.address} holds {format_wei(held)} on L1, less than the "
                f"{format_wei(value)} this transaction {what}",
                "fund that account on L1 first, or send less",
            )

    def named_shortfall(self, sender: LocalAccount, build: Callable[[], T]) -> T:
        """Run ``build`` (which asks the node to estimate gas); a node's "insufficient
        funds" answer is named as the sender's shortfall, not as an internal error."""
        from l2gpu.core.types import format_wei

        try:
            return build()
        except Exception as exc:  # nodes and eth-tester each say it their own way
            text = str(exc).lower()
            if "insufficient funds" not in text and "cannot afford" not in text:
                raise
            held = int(self.w3.eth.get_balance(sender.address))
            raise L1Error(
                f"{sender.address} holds {format_wei(held)} on L1, not enough for this "
                "transaction's value and gas",
                "fund that account on L1 first, or send less",
            ) from exc

    def tx_params(self, sender: LocalAccount, params: dict[str, Any]) -> dict[str, Any]:
        """Fill in nonce and chain id for a transaction from ``sender``."""
        params.setdefault("nonce", self.w3.eth.get_transaction_count(sender.address, "pending"))
        params.setdefault("chainId", self.chain_id)
        return params

    def send_signed(self, tx: dict[str, Any], sender: LocalAccount) -> Any:
        """Sign ``tx`` with ``sender``'s key, send it raw and wait for the receipt."""
        if "gas" not in tx:
            tx["gas"] = self.w3.eth.estimate_gas(cast(Any, tx))
        if "maxFeePerGas" not in tx and "gasPrice" not in tx:
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
        fee = int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
        self.require_funds(sender, int(tx.get("value", 0)) + int(tx["gas"]) * fee, gas=True)
        signed = sender.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            raise L1Error(f"the L1 refused the transaction: {exc}") from exc
        receipt = dict(
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
        )
        receipt["txBytes"] = len(signed.raw_transaction)
        return receipt

    def to_receipt(self, raw: Any) -> Receipt:
        """Turn a web3 receipt into a :class:`Receipt` with every known contract's events."""
        events: list[ContractEvent] = []
        for contract in self._contracts.values():
            events.extend(contract.decode_logs(raw["logs"]))
        events.sort(key=lambda e: e.log_index)
        created = raw.get("contractAddress")
        return Receipt(
            tx_hash=Hash32(bytes(raw["transactionHash"])),
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            events=tuple(events),
            contract_address=Address(bytes(HexBytes(created))) if created else None,
            tx_bytes=int(raw.get("txBytes", 0)),
        )

    # -- dev controls (tests, demos) ---------------------------------------------

    def time_travel(self, seconds: int) -> Timestamp:
        """Advance the chain's clock by ``seconds`` (mining a block); return the new time."""
        if seconds < 0:
            raise L1Error("time travel goes forward only", "pass a number of seconds >= 0")
        self.dev.increase_time(seconds)
        return self.timestamp()

    def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` blocks; return the new block number."""
        self.dev.mine(blocks)
        return self.block_number()

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """The next transaction is mined at exactly ``timestamp`` (must be in the future)."""
        if timestamp <= self.timestamp():
            raise L1Error(
                f"timestamp {timestamp} is not after the latest block's {self.timestamp()}",
                "pass a later time",
            )
        self.dev.set_next_block_timestamp(timestamp)

    def snapshot(self) -> Any:
        """Save the chain state for :meth:`revert`."""
        return self.dev.snapshot()

    def revert(self, snapshot_id: Any) -> None:
        """Return the chain to a saved state."""
        self.dev.revert(snapshot_id)


def checksum(address: Address) -> ChecksumAddress:
    """``address`` in the form web3 wants."""
    return cast(ChecksumAddress, address.checksum)


def revert_reason(exc: Exception) -> str:
    """The human reason inside a web3 revert error (Vyper's ``assert ..., "reason"``)."""
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    text = str(message)
    for prefix in ("execution reverted: ", "execution reverted"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.strip() or "reverted without a reason"


def to_web3(value: Any) -> Any:
    """Convert l2gpu types to what web3 expects as call arguments."""
    if isinstance(value, Address):
        return value.checksum
    if isinstance(value, list | tuple):
        return type(value)(to_web3(v) for v in value)
    return value


def to_python(value: Any) -> Any:
    """Convert web3 results into plain l2gpu values (checksummed strings become Address)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Address.from_hex(value)
    if isinstance(value, HexBytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return type(value)(to_python(v) for v in value)
    return value
