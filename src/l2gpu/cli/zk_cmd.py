"""``l2gpu zk``: a user's commands on the zk rollup (its node: :mod:`l2gpu.cli.zk_node`).

The node proves every batch with a Groth16 proof that L1 checks at once: a withdrawal
is final when its batch is accepted, with no challenge window. The user's zk key is
derived from their L1 key (:mod:`l2gpu.node.zk.l2key` says how and why).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import (
    AsJson,
    LegacyNodeOption,
    NodeOption,
    l2_node_url,
    parse_amount,
    signing_account,
)
from l2gpu.cli.live import waiting
from l2gpu.cli.onchain import tx_hex
from l2gpu.cli.output import Eth, emit
from l2gpu.cli.zk_node import register_exit, trusted_rollup
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings

if TYPE_CHECKING:
    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient

app = typer.Typer(help="Deposit, transfer, withdraw and claim on the zk rollup.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
WAIT_SECONDS = 180.0


# -- a user's commands ---------------------------------------------------------------


class _User:
    """The command's signer, the node, and (when needed) L1's ZkRollup."""

    def __init__(self, ctx: typer.Context, node: str | None, legacy: str | None) -> None:
        from l2gpu.node.zk.client import ZkNodeClient

        self.settings: Settings = ctx.obj
        self.account = signing_account(ctx)
        self.node = ZkNodeClient(l2_node_url(self.settings, node, legacy))
        self._rollup: ZkRollupClient | None = None
        self._deployment: tuple[int, Address] | None = None
        self._key: bytes | None = None

    @property
    def deployment(self) -> tuple[int, Address]:
        """The chain id and ZkRollup address the node reports (read once)."""
        if self._deployment is None:
            status = self.node.status()
            self._deployment = (int(status["chain_id"]), Address.from_hex(status["rollup"]))
        return self._deployment

    @property
    def key(self) -> bytes:
        """This user's zk key on the node's deployment (its chain and ZkRollup): a key
        of another deployment would sign nothing that verifies here."""
        if self._key is None:
            from l2gpu.node.zk.l2key import zk_private_key

            self._key = zk_private_key(self.account, *self.deployment)
        return self._key

    @property
    def rollup(self) -> ZkRollupClient:
        """L1's ZkRollup, at the address the node reports."""
        if self._rollup is None:
            from l2gpu.l1 import compile_contract, open_chain
            from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient

            if not self.settings.l1_rpc:
                raise L2gpuError(
                    "this command reads or writes L1, and the embedded chain lives inside "
                    "'l2gpu up'",
                    "run the node and this command with --l1-rpc URL (e.g. anvil: make devnet)",
                )
            chain_id, address = self.deployment
            chain = open_chain(self.settings, [self.account])
            if chain.chain_id != chain_id:
                raise L2gpuError(
                    f"--l1-rpc is chain {chain.chain_id}, the zk node runs on chain "
                    f"{chain_id}", "pass the L1 the node was started with")  # fmt: skip
            compiled = compile_contract(CONTRACT_SOURCE, cache_dir=self.settings.cache_dir)
            self._rollup = ZkRollupClient(chain, chain.attach(compiled, address))
        return self._rollup

    def index(self) -> int:
        """This user's account index, from L1 (0: never deposited)."""
        return self.rollup.account_index(self.account.address)

    def my_account(self) -> dict[str, Any]:
        """This user's account in the node's sealed state; a clear error if none."""
        index = self.index()
        found = self.node.account(index) if index else None
        if found is None:
            raise L2gpuError(f"{self.account.address} has no zk account yet",
                             "deposit first: l2gpu zk deposit '0.1 ether'")  # fmt: skip
        return found


def _transfer_amount(text: str) -> int:
    from l2gpu.core.zk.pubdata import representable

    value = parse_amount(text)
    if value == 0:
        raise L2gpuError("the amount is zero", "send at least 1 wei")
    if not representable(value):
        raise L2gpuError(
            f"{text} has no float40 form (at most 35 bits of mantissa times a power of ten)",
            "round it to fewer significant digits, e.g. '0.123456789 ether' rather than "
            "more digits",
        )
    return value


@app.command("key")
def key(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None,
        as_json: AsJson = False) -> None:  # fmt: skip
    """Print your zk public key on the node's deployment, derived from your L1 key
    (nothing is stored; each chain and ZkRollup gets its own key)."""
    from l2gpu.node.zk.l2key import zk_public_key

    user = _User(ctx, node, api)
    ax, ay = zk_public_key(user.key)
    chain_id, rollup = user.deployment
    emit({"l1_address": user.account.address, "ax": str(ax), "ay": str(ay),
          "chain_id": chain_id, "rollup": rollup.checksum,
          "derived_from": "keccak256 of your L1 signature of a text naming the chain "
          "and the rollup"}, as_json, title="your zk public key")  # fmt: skip


@app.command("deposit")
def deposit(
    ctx: typer.Context, amount: Annotated[str, typer.Argument(help="e.g. '0.5 ether'")],
    rollup_address: Annotated[
        str | None,
        typer.Option(
            "--rollup",
            help="The ZkRollup you mean to deposit into (from a source you trust); the "
            "deposit is refused when the node serves another. Default: the one recorded "
            "for this chain in the data folder, if any, else the node's.",
        ),
    ] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Deposit from L1 into your zk account (an L1 transaction); waits for the node."""
    from l2gpu.node.zk.l2key import zk_public_key

    value = parse_amount(amount)
    if not 0 < value < 2**128:
        raise L2gpuError(f"cannot deposit {amount}", "deposit more than 0 and below 2^128 wei")
    user = _User(ctx, node, api)
    rollup = user.rollup
    _check_deposit_target(user, rollup, rollup_address)
    if rollup.chain.balance(user.account.address) < value:
        raise L2gpuError(f"{user.account.address} holds less than {format_wei(value)} on L1",
                         "deposit less, or fund the address first")  # fmt: skip
    with waiting(f"depositing {format_wei(value)} on L1"):
        receipt = rollup.deposit(user.account, zk_public_key(user.key), value)
    args = receipt.event("Deposited").args
    queue_index, index = int(args["queue_index"]), int(args["account_index"])
    with waiting(f"deposit {queue_index} queued on L1 for account {index}; waiting for the "
                 "node to seal it into a batch", plain=True):  # fmt: skip
        _wait_deposit_taken(user, queue_index)
    emit({"deposited": Eth(value), "rollup": rollup.address.checksum,
          "l1_tx": tx_hex(receipt.tx_hash), "account": _account(user.node.account(index))},
         as_json, title="deposited")  # fmt: skip


def _wait_deposit_taken(user: _User, queue_index: int) -> None:
    """Poll the node until it has taken L1's deposit ``queue_index`` into a batch."""
    deadline = time.monotonic() + WAIT_SECONDS
    while user.node.status()["deposits_taken"] <= queue_index:
        if time.monotonic() > deadline:
            raise L2gpuError(f"the node has not taken deposit {queue_index} within "
                             f"{WAIT_SECONDS:.0f} s", "it stays queued on L1: check "
                             "'l2gpu zk status' and the node's log")  # fmt: skip
        time.sleep(0.5)  # the node seals on its own timer: polling it, not a clock


def _wait_sealed(user: _User, position: int) -> dict[str, Any]:
    """Wait for the node to seal the transaction at ``position`` into a batch: a spinner
    on a terminal, one line elsewhere, on stderr."""
    with waiting(f"waiting for the node to seal transaction {position} into a batch",
                 plain=True):  # fmt: skip
        return user.node.wait_included(position, seconds=WAIT_SECONDS)


def _check_deposit_target(user: _User, rollup: ZkRollupClient, named: str | None) -> None:
    """Refuse to send L1 funds to the node's ZkRollup when it is not the one the user
    trusts (:func:`~l2gpu.cli.zk_node.trusted_rollup`): a node is the operator's word, and a decoy
    contract would keep the deposit."""
    trusted = trusted_rollup(user.settings, rollup.chain.chain_id, named)
    if trusted is None:
        return  # nothing named or recorded: the node's rollup, printed with the result
    expected, source = trusted
    if expected != rollup.address:
        raise L2gpuError(
            f"the node serves the ZkRollup {rollup.address.checksum}, not "
            f"{expected.checksum} ({source}): nothing was deposited",
            "check --node, or pass --rollup with the contract you mean to deposit into",
        )


@app.command("transfer")
def transfer(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="Recipient: an account index or a 0x L1 address.")],
    amount: Annotated[str, typer.Argument(help="e.g. '0.1 ether'")],
    fee_code: Annotated[
        int, typer.Option("--fee-code", help="Fee paid to the operator: code x 10^12 wei (0-255).")
    ] = 0,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """Send to another zk account (signed with your zk key); waits until it is sealed."""
    from l2gpu.core.zk.pubdata import fee_of
    from l2gpu.core.zk.transfer import TransferTx

    value = _transfer_amount(amount)
    if not 0 <= fee_code <= 255:
        raise L2gpuError(f"--fee-code {fee_code} is not a byte", "pass 0 to 255")
    user = _User(ctx, node, api)
    recipient = _recipient(user, to)
    mine = user.my_account()
    _check_balance(mine, value + fee_of(fee_code), "send")
    tx = TransferTx(int(mine["index"]), recipient, value, fee_code, int(mine["next_nonce"]))
    position = user.node.transfer(user.key, tx)
    found = _wait_sealed(user, position)
    emit({"transferred": Eth(value), "to": recipient, "fee": Eth(fee_of(fee_code)), **found,
          "account": _account(user.node.account(tx.from_index))}, as_json,
         title="transferred")  # fmt: skip


def _recipient(user: _User, to: str) -> int:
    if to.isdigit():
        index = int(to)
    else:
        try:
            address = Address.from_hex(to)
        except (ValueError, L2gpuError):
            raise L2gpuError(
                f"recipient '{to}' is neither an account index nor an address",
                "pass the recipient's index (e.g. 3) or 0x L1 address",
            ) from None
        index = user.rollup.account_index(address.checksum)
        if index == 0:
            raise L2gpuError(f"{to} has no zk account", "its owner must deposit first")
    if index == 0 or user.node.account(index) is None:
        raise L2gpuError(f"there is no zk account at index {index}",
                         "check the index ('l2gpu zk balance' shows yours)")  # fmt: skip
    return index


def _check_balance(account: dict[str, Any], needed: int, what: str) -> None:
    balance = int(account["balance"])
    if needed > balance:
        raise L2gpuError(
            f"your zk balance is {format_wei(balance)} (sealed state): too little to {what} "
            f"{format_wei(needed)}",
            "send less, or deposit more with 'l2gpu zk deposit'",
        )


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Amount to move to your L1 address.")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """Withdraw to your L1 address; claim it with 'l2gpu zk claim' once its batch is on L1."""
    from l2gpu.core.zk.withdrawal import WithdrawalTx

    value = parse_amount(amount)
    if not 0 < value < 2**128:
        raise L2gpuError(f"cannot withdraw {amount}", "withdraw more than 0 and below 2^128 wei")
    user = _User(ctx, node, api)
    mine = user.my_account()
    _check_balance(mine, value, "withdraw")
    tx = WithdrawalTx(int(mine["index"]), value, int(mine["next_nonce"]))
    position = user.node.withdraw(user.key, tx)
    found = _wait_sealed(user, position)
    emit({"withdrawing": Eth(value), **found, "final": "once L1 accepts the batch's proof; "
          "then 'l2gpu zk claim'"}, as_json, title="withdrawing")  # fmt: skip


@app.command("force-exit")
def force_exit(
    ctx: typer.Context,
    what: Annotated[
        str, typer.Argument(help="'all' (the default): a forced exit is always the whole "
                            "balance.", show_default=False)
    ] = "all",
    rollup_address: Annotated[
        str | None,
        typer.Option("--rollup", help="The ZkRollup you deposited into (from a source you "
                     "trust); refused when the node serves another."),
    ] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Withdraw your whole balance without the operator: ask L1 itself (an L1
    transaction). The next batches must pay all of it to your L1 address within
    FORCE_DELAY, or anyone may freeze the rollup and you leave with 'l2gpu zk exit'.
    For an operator that leaves your withdrawals out; for part of a balance, use
    'l2gpu zk withdraw'."""
    if what.strip().lower() != "all":
        raise L2gpuError(f"cannot force an exit of {what}: a forced exit takes the whole "
                         "balance", "run 'l2gpu zk force-exit' (or 'all'); for part of "
                         "a balance, 'l2gpu zk withdraw AMOUNT'")  # fmt: skip
    user = _User(ctx, node, api)
    rollup = user.rollup
    _check_deposit_target(user, rollup, rollup_address)
    if user.index() == 0:
        raise L2gpuError(f"{user.account.address} has no zk account",
                         "deposit first: l2gpu zk deposit '0.1 ether'")  # fmt: skip
    delay = int(rollup.contract.call("FORCE_DELAY"))
    with waiting("asking L1 for a forced exit"):
        receipt = rollup.force_exit(user.account)
    position = int(receipt.event("ForcedExitQueued").args["queue_index"])
    out: dict[str, Any] = {"asked": "your whole balance", "queue_index": position,
                           "l1_tx": tx_hex(receipt.tx_hash),
                           "rollup": rollup.address.checksum}  # fmt: skip
    deadline = time.monotonic() + WAIT_SECONDS
    with waiting(f"forced exit {position} queued on L1; waiting for a batch to take it",
                 plain=True):  # fmt: skip
        while rollup.forced_exits_done() <= position:
            if time.monotonic() > deadline:
                out["taken"] = False
                out["next"] = (f"no batch has taken it yet: one must within {delay} s of the "
                               "request, or anyone may freeze the rollup, and then "
                               "'l2gpu zk exit' pays your balance")  # fmt: skip
                emit(out, as_json, title="forced exit queued")
                return
            time.sleep(1.0)  # L1 blocks: polling the chain, not a clock
    out["taken"] = True
    out["l1_credit"] = Eth(rollup.credit(user.account.address))
    out["next"] = "'l2gpu zk claim' pulls it to your L1 address"
    emit(out, as_json, title="forced exit paid")


@app.command("balance")
def balance(
    ctx: typer.Context,
    index: Annotated[int | None, typer.Argument(help="An account index (default: yours).")] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """A zk account's balance in the sealed state (default: yours, with your L1 credit)."""
    from l2gpu.node.zk.client import ZkNodeClient

    if index is not None:
        found = ZkNodeClient(l2_node_url(ctx.obj, node, api)).account(index)
        if found is None:
            raise L2gpuError(f"there is no zk account at index {index}",
                             "its owner must deposit first")  # fmt: skip
        emit(_account(found) or {}, as_json, title=f"zk account {index}")
        return
    user = _User(ctx, node, api)
    mine = user.my_account()
    credit = user.rollup.credit(user.account.address)
    emit({**(_account(mine) or {}), "l1_credit": Eth(credit)}, as_json, title="your zk account")


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None,
           as_json: AsJson = False) -> None:  # fmt: skip
    """The node's batches sealed, proven and posted; with --l1-rpc, L1's view too."""
    from l2gpu.node.zk.client import ZkNodeClient

    settings: Settings = ctx.obj
    client = ZkNodeClient(l2_node_url(settings, node, api))
    out: dict[str, Any] = {"node": client.status()}
    if settings.l1_rpc:
        user = _User(ctx, node, api)
        rollup = user.rollup
        out["l1"] = {"batches_accepted": rollup.batch_count(),
                     "state_root": str(rollup.state_root()),
                     "my_credit": Eth(rollup.credit(user.account.address))}  # fmt: skip
    emit(out, as_json, title="zk rollup")


@app.command("claim")
def claim(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None,
          as_json: AsJson = False) -> None:  # fmt: skip
    """Pull your withdrawals' credit on L1 (final as soon as L1 accepted the batch)."""
    user = _User(ctx, node, api)
    rollup = user.rollup
    credit = rollup.credit(user.account.address)
    if credit == 0:
        state = user.node.status()
        raise L2gpuError(
            f"nothing to claim for {user.account.address} on L1",
            f"a withdrawal is credited when L1 accepts its batch ({state['batches_posted']} of "
            f"{state['batches_sealed']} sealed batches posted): wait and claim again",
        )
    with waiting(f"claiming {format_wei(credit)} on L1"):
        receipt = rollup.withdraw_credit(user.account)
    emit({"claimed": Eth(credit), "l1_tx": tx_hex(receipt.tx_hash), "gas_used": receipt.gas_used},
         as_json, title="claimed")  # fmt: skip


def _account(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A zk account as the node answers it, its balance marked as an amount."""
    if found is None:
        return None
    return {**found, "balance": Eth(int(found["balance"]))}


register_exit(app)
