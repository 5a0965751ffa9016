"""``l2gpu up --design zk`` (the zk rollup's node) and ``l2gpu zk`` (a user's commands).

The node proves every batch with a Groth16 proof that L1 checks at once: a withdrawal
is final when its batch is accepted, with no challenge window. The user's zk key is
derived from their L1 key (:mod:`l2gpu.node.zk.l2key` says how and why).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import (
    LegacyNodeOption,
    NodeOption,
    l2_node_url,
    parse_amount,
    print_json,
    signing_account,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings
    from l2gpu.core.zk.pubdata import BatchShape

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient

app = typer.Typer(help="Deposit, transfer, withdraw and claim on the zk rollup.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
ZK_ROLLUP = "ZkRollup"
DEFAULT_SHAPE = "1,2,1,1,1,1"
DEFAULT_DEPTH = 8
OPERATOR_STAKE = 10**9  # wei the operator deposits to open its fee account (1 gwei)
WAIT_SECONDS = 180.0
log = logging.getLogger("l2gpu.up")


# -- the node ------------------------------------------------------------------------


def parse_shape(text: str) -> BatchShape:
    """``D,T,W[,O,C,R]``: deposit, transfer and withdrawal slots per batch, then the
    channel opens, closes and reclaims (1 each when left out), each at least 1."""
    from l2gpu.core.zk.pubdata import BatchShape

    parts = text.replace(" ", "").split(",")
    if len(parts) not in (3, 6) or not all(p.isdigit() for p in parts):
        raise L2gpuError(f"--zk-shape '{text}' is not three or six numbers D,T,W[,O,C,R]",
                         f"e.g. --zk-shape {DEFAULT_SHAPE} (deposits, transfers, withdrawals, "
                         "channel opens, closes and reclaims per batch)")  # fmt: skip
    numbers = [int(p) for p in parts] + [1, 1, 1][: 6 - len(parts)]
    if min(numbers) < 1:
        raise L2gpuError(
            f"--zk-shape '{text}' has an empty section",
            "every section needs at least one slot (circom has no empty arrays)",
        )
    limits = (64, 1024, 64, 64, 64, 64)  # ZkRollup.vy's bounds on each section
    if any(n > limit for n, limit in zip(numbers, limits, strict=True)):
        raise L2gpuError(
            f"--zk-shape '{text}' is larger than ZkRollup accepts",
            "at most 64 deposits, 1024 transfers, 64 withdrawals and 64 of each channel "
            "operation per batch",
        )
    return BatchShape(*numbers)


def up_zk(
    settings: Settings,
    operator_key: LocalAccount | None,
    *,
    interval: float,
    shape_text: str,
    depth: int,
    force_delay: int,
    validium: bool = False,
) -> None:
    """Run the zk rollup's node (see ``l2gpu up --help``); ``validium`` keeps the
    transfer and channel sections off L1, served by this node."""
    import uvicorn

    from l2gpu.cli.live import progress_bars, stage
    from l2gpu.db import open_database
    from l2gpu.l1 import open_chain
    from l2gpu.node.zk.api import create_zk_app
    from l2gpu.node.zk.recovery import open_node
    from l2gpu.node.zk.service import ZkSealer
    from l2gpu.serving.connections import require_free_port, uvicorn_options
    from l2gpu.zk.batch_circuit import batch_name, compile_batch
    from l2gpu.zk.setup import DEV_SETUP_LABEL, dev_setup

    shape = parse_shape(shape_text)
    if not 2 <= depth <= 24:
        raise L2gpuError(f"--zk-depth {depth} is outside 2..24",
                         "ZkRollup's indices are 3 bytes: the depth is 2 to 24")  # fmt: skip
    require_free_port(settings.api_host, settings.api_port, "l2gpu up", "--port or L2GPU_API_PORT")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    typer.echo(f"WARNING: {DEV_SETUP_LABEL}", err=True)
    name = batch_name(shape, depth, validium=validium)
    with progress_bars() as on_progress:  # a bar per stage on a terminal, log lines after
        started = time.monotonic()
        with stage(on_progress, f"compile circuit {name}"):
            circuit = compile_batch(shape, depth, validium=validium, cache_dir=settings.cache_dir)
        compiled = time.monotonic()
        with stage(on_progress, f"development keys of {name}"):
            keys = dev_setup(circuit, cache_dir=settings.cache_dir)
    log.info("circuit %s (%s…) compiled in %.1f s, its development keys ready in %.1f s",
             circuit.name, circuit.key[:16], compiled - started,
             time.monotonic() - compiled)  # fmt: skip
    if settings.l1_rpc:
        assert operator_key is not None
        operator, chain = operator_key, open_chain(settings, [operator_key])
    else:  # the embedded chain: its first funded dev account operates
        chain = open_chain(settings)
        operator = chain.accounts[0]
    rollup = _zk_rollup(settings, chain, operator, circuit, keys, shape, depth, force_delay,
                        validium)  # fmt: skip
    fee_account = _fee_account(rollup, operator)
    if settings.l1_rpc:
        folder = settings.data_dir / "zk" / str(chain.chain_id)
    else:  # the embedded chain ends with this process, so its log must not outlive it
        folder = Path(tempfile.mkdtemp(prefix="l2gpu-zk-up-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{folder / (rollup.address.checksum + '.db')}"
    started = time.monotonic()
    node = open_node(rollup, open_database(database), operator, circuit, keys,
                     fee_account=fee_account, toolchain=None)  # fmt: skip
    status = node.status()
    log.info("replayed the log: %d batch(es) sealed, %d posted, %d pending (%.1f s)",
             status["batches_sealed"], status["batches_posted"], status["pending"],
             time.monotonic() - started)  # fmt: skip
    sealer = ZkSealer(node, interval)
    node.start(poll_seconds=max(interval, 1.0))
    sealer.start()
    described = f"{','.join(str(n) for n in shape.sections)} depth {depth}"
    kind = "zk rollup"
    if validium:
        kind = "zk validium (transfer and channel data off L1, served here)"
    typer.echo(f"{kind} {rollup.address} on {chain.description}, batches {described}, "
               f"fee account {fee_account}; API on "
               f"http://{settings.api_host}:{settings.api_port}", err=True)  # fmt: skip
    try:
        uvicorn.run(create_zk_app(node), host=settings.api_host, port=settings.api_port,
                    log_level="warning", **uvicorn_options())  # fmt: skip
    finally:
        sealer.stop.set()
        node.stop()  # after the batch it is proving: a later start proves the rest


def _zk_rollup(
    settings: Settings, chain: Any, operator: LocalAccount, circuit: Any, keys: Any,
    shape: BatchShape, depth: int, force_delay: int, validium: bool,
) -> ZkRollupClient:  # fmt: skip
    """The ZkRollup recorded for this chain, checked to be this circuit's; else a new
    one (recorded when the chain outlives this process)."""
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient
    from l2gpu.node.zk.service import deploy_zk_rollup
    from l2gpu.payments import deployments

    if settings.l1_rpc:
        try:
            address, _ = deployments.lookup(settings.data_dir, chain.chain_id, ZK_ROLLUP)
        except L2gpuError:
            address = None  # nothing recorded for this chain: deploy below
        if address is not None and chain.w3.eth.get_code(address.checksum):
            compiled = compile_contract(CONTRACT_SOURCE, cache_dir=settings.cache_dir)
            rollup = ZkRollupClient(chain, chain.attach(compiled, address))
            if rollup.validium() != validium:
                kinds = ("zk", "validium")
                raise L2gpuError(
                    f"the ZkRollup recorded for chain {chain.chain_id} ({address}) is a "
                    f"{kinds[rollup.validium()]}, not a {kinds[validium]}",
                    f"pass --design {kinds[rollup.validium()]}, or use another --data-dir "
                    "to deploy anew",
                )
            if (rollup.shape(), rollup.depth()) != (shape, depth):
                on_l1 = rollup.shape()
                theirs = ",".join(str(n) for n in on_l1.sections)
                ours = ",".join(str(n) for n in shape.sections)
                raise L2gpuError(
                    f"the ZkRollup recorded for chain {chain.chain_id} ({address}) proves "
                    f"batches of shape {theirs} at depth {rollup.depth()}, not {ours} at "
                    f"depth {depth}",
                    f"pass --zk-shape {theirs} --zk-depth {rollup.depth()}, or use another "
                    "--data-dir to deploy anew",
                )
            log.info("attached to ZkRollup %s recorded for chain %d", address, chain.chain_id)
            return rollup  # the node checks CIRCUIT_HASH against the keys when it opens
    rollup = deploy_zk_rollup(chain, operator, circuit, keys, shape=shape, depth=depth,
                              force_delay=force_delay, validium=validium)  # fmt: skip
    log.info("deployed the verifier and ZkRollup %s", rollup.address)
    if settings.l1_rpc:
        deployments.record(settings.data_dir, chain.chain_id, ZK_ROLLUP, rollup.address,
                           chain.block_number())  # fmt: skip
    return rollup


def _fee_account(rollup: ZkRollupClient, operator: LocalAccount) -> int:
    """The operator's own account, where batches credit their fees: opened with a
    deposit of :data:`OPERATOR_STAKE` the first time (every batch needs it)."""
    from l2gpu.node.zk.l2key import zk_private_key, zk_public_key

    index = rollup.account_index(operator.address)
    if index == 0:
        key = zk_private_key(operator, rollup.chain.chain_id, rollup.address)
        rollup.deposit(operator, zk_public_key(key), OPERATOR_STAKE)
        index = rollup.account_index(operator.address)
        log.info("opened the fee account %d with a deposit of %s", index,
                 format_wei(OPERATOR_STAKE))  # fmt: skip
    return index


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


def _progress(line: str) -> None:
    typer.echo(line, err=True)


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
def key(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None) -> None:
    """Print your zk public key on the node's deployment, derived from your L1 key
    (nothing is stored; each chain and ZkRollup gets its own key)."""
    from l2gpu.node.zk.l2key import zk_public_key

    user = _User(ctx, node, api)
    ax, ay = zk_public_key(user.key)
    chain_id, rollup = user.deployment
    print_json({"l1_address": user.account.address, "ax": str(ax), "ay": str(ay),
                "chain_id": chain_id, "rollup": rollup.checksum,
                "derived_from": "keccak256 of your L1 signature of a text naming the chain "
                "and the rollup"})  # fmt: skip


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
    receipt = rollup.deposit(user.account, zk_public_key(user.key), value)
    args = receipt.event("Deposited").args
    queue_index, index = int(args["queue_index"]), int(args["account_index"])
    _progress(f"deposit {queue_index} queued on L1 for account {index}; waiting for the node "
              "to seal it into a batch")  # fmt: skip
    deadline = time.monotonic() + WAIT_SECONDS
    while user.node.status()["deposits_taken"] <= queue_index:
        if time.monotonic() > deadline:
            raise L2gpuError(f"the node has not taken deposit {queue_index} within "
                             f"{WAIT_SECONDS:.0f} s", "it stays queued on L1: check "
                             "'l2gpu zk status' and the node's log")  # fmt: skip
        time.sleep(0.5)  # the node seals on its own timer: polling it, not a clock
    print_json({"deposited": value, "rollup": rollup.address.checksum,
                "account": user.node.account(index)})  # fmt: skip


def _trusted_rollup(settings: Settings, chain_id: int, named: str | None
                    ) -> tuple[Address, str] | None:  # fmt: skip
    """The ZkRollup the user trusts, never the node's word: ``--rollup`` if given, else
    the one recorded for ``chain_id`` in the data folder; with where it came from. None
    when neither is there."""
    from l2gpu.payments import deployments

    if named is not None:
        return Address.from_hex(named), "--rollup"
    try:
        address, _ = deployments.lookup(settings.data_dir, chain_id, ZK_ROLLUP)
    except L2gpuError:
        return None
    return address, "the deployment recorded in the data folder"


def _check_deposit_target(user: _User, rollup: ZkRollupClient, named: str | None) -> None:
    """Refuse to send L1 funds to the node's ZkRollup when it is not the one the user
    trusts (:func:`_trusted_rollup`): a node is the operator's word, and a decoy
    contract would keep the deposit."""
    trusted = _trusted_rollup(user.settings, rollup.chain.chain_id, named)
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
    found = user.node.wait_included(position, seconds=WAIT_SECONDS, progress=_progress)
    print_json({"transferred": value, "to": recipient, "fee": fee_of(fee_code), **found,
                "account": user.node.account(tx.from_index)})  # fmt: skip


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
    found = user.node.wait_included(position, seconds=WAIT_SECONDS, progress=_progress)
    print_json({"withdrawing": value, **found, "final": "once L1 accepts the batch's proof; "
                "then 'l2gpu zk claim'"})  # fmt: skip


@app.command("balance")
def balance(
    ctx: typer.Context,
    index: Annotated[int | None, typer.Argument(help="An account index (default: yours).")] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
) -> None:
    """A zk account's balance in the sealed state (default: yours, with your L1 credit)."""
    from l2gpu.node.zk.client import ZkNodeClient

    if index is not None:
        found = ZkNodeClient(l2_node_url(ctx.obj, node, api)).account(index)
        if found is None:
            raise L2gpuError(f"there is no zk account at index {index}",
                             "its owner must deposit first")  # fmt: skip
        print_json({**found, "balance_readable": format_wei(int(found["balance"]))})
        return
    user = _User(ctx, node, api)
    mine = user.my_account()
    credit = user.rollup.credit(user.account.address)
    print_json({**mine, "balance_readable": format_wei(int(mine["balance"])),
                "l1_credit": credit})  # fmt: skip


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None) -> None:
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
                     "my_credit": rollup.credit(user.account.address)}  # fmt: skip
    print_json(out)


@app.command("claim")
def claim(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None) -> None:
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
    receipt = rollup.withdraw_credit(user.account)
    print_json({"claimed": credit, "l1_tx": str(receipt.tx_hash), "gas_used": receipt.gas_used})


@app.command("exit")
def exit_rollup(
    ctx: typer.Context,
    rollup_address: Annotated[
        str | None,
        typer.Option(
            "--rollup",
            help="The ZkRollup's address; default: the one recorded for this chain in the "
            "data folder (never the node's word).",
        ),
    ] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
) -> None:
    """After a freeze, leave without the operator: rebuild the last proven state from
    L1's batches (a validium's transfer and channel data from --node), refund your
    deposits no batch took, exit your account and the channels you rent, and pull it
    all to your L1 address."""
    from l2gpu.l1 import compile_contract, open_chain
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient
    from l2gpu.node.zk.client import ZkNodeClient
    from l2gpu.node.zk.escape import escape

    settings: Settings = ctx.obj
    if not settings.l1_rpc:
        raise L2gpuError("'l2gpu zk exit' works on L1, and needs its address",
                         "pass --l1-rpc URL of the chain the rollup lives on")  # fmt: skip
    account = signing_account(ctx)
    chain = open_chain(settings, [account])
    url = l2_node_url(settings, node, api)
    client = ZkNodeClient(url)
    # never from the node: it is the operator being left, and could name a decoy
    trusted = _trusted_rollup(settings, chain.chain_id, rollup_address)
    if trusted is None:
        raise L2gpuError(
            f"no ZkRollup is recorded for chain {chain.chain_id} in this data folder",
            "pass --rollup ADDRESS, the contract you deposited into (from your "
            "deposit's L1 transaction, or a source you trust: not the node)",
        )
    address, _ = trusted
    compiled = compile_contract(CONTRACT_SOURCE, cache_dir=settings.cache_dir)
    rollup = ZkRollupClient(chain, chain.attach(compiled, address))
    try:
        report = escape(rollup, account, client.batch_data)
    finally:  # what was credited before a failure is the user's: pull it anyway
        claimed = rollup.credit(account.address)
        if claimed:
            rollup.withdraw_credit(account)
    print_json({"rollup": address.checksum, "refunded": report.refunded,
                "account": report.account, "channels": report.channels, "claimed": claimed,
                "claimed_readable": format_wei(claimed),
                "l1_transactions": report.transactions})  # fmt: skip
