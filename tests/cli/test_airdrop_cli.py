"""`l2gpu airdrop` from the command line, on anvil: a simulated market's early adopters
found, two of them registered with their own keys, the airdrop published, one claim
proven and relayed to a fresh address, another account erased; and what each command
says, in one line and with no traceback, when its input is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import create_engine

from l2gpu.airdrop.eligibility import simulate_market_history, simulated_account_keys
from l2gpu.airdrop.operator import AirdropOperator
from l2gpu.core.types import Address
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import ANVIL_KEYS
from .helpers import cli, refused

OPERATOR_KEY, RELAYER_KEY = ANVIL_KEYS  # anvil's funded dev accounts 0 and 1
RELAYER = Account.from_key(RELAYER_KEY).address
ACCOUNTS, SEED = 120, 7
NAME, CHAIN_ID = "early adopters", 31337
REWARDS = {"innovators": 5 * 10**17, "early_adopters": 10**17}  # the flags given below
FEE = 10**15  # '0.001 ether'


def key_hex(account: object) -> str:
    return "0x" + bytes(account.key).hex()  # type: ignore[attr-defined]


@dataclass
class Airdrop:
    """An operator's folder whose eligible accounts are recorded, and their keys."""

    folder: Path
    airdrop_id: str
    eligible: dict[str, str]  # account (lower case) -> tier
    keys: dict[str, str]  # account (lower case) -> private key (hex)

    def pick(self, tier: str, n: int) -> list[str]:
        accounts = sorted(a for a, t in self.eligible.items() if t == tier)
        assert len(accounts) >= n, self.eligible
        return accounts[:n]


def eligible_airdrop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Airdrop:
    market = tmp_path / "market.db"
    assert simulate_market_history(create_engine(f"sqlite:///{market}"), accounts=ACCOUNTS,
                                   seed=SEED) > 0  # fmt: skip
    folder = tmp_path / "airdrop"
    code, out, err = cli(capsys, "airdrop", "eligible", "--market-db", f"sqlite:///{market}",
                         "--dir", str(folder), "--innovators", "0.5 ether",
                         "--early-adopters", "0.1 ether")  # fmt: skip
    assert code == 0, err
    assert re.search(r"early_adopters: \d+ accounts", out), out
    found = re.search(r"airdrop id (\d+) on chain 31337", out)
    assert found, out
    state = AirdropOperator(folder, name=NAME, chain_id=CHAIN_ID).state()  # reads the vault
    eligible = {str(a).lower(): tier for a, tier in state.eligible.items()}
    assert re.search(rf"recorded {len(eligible)} eligible accounts", out), out
    keys = {key.address.lower(): key_hex(key) for key in simulated_account_keys(ACCOUNTS, SEED)}
    return Airdrop(folder, found.group(1), eligible, keys)


def register(
    capsys: pytest.CaptureFixture[str], airdrop: Airdrop, key: str, secrets: Path, out: Path
) -> tuple[int, str, str]:
    return cli(capsys, "--private-key", key, "airdrop", "register", "--airdrop-id",
               airdrop.airdrop_id, "--secrets-out", str(secrets), "--out", str(out))  # fmt: skip


def accept(
    capsys: pytest.CaptureFixture[str], airdrop: Airdrop, registration: Path
) -> tuple[int, str, str]:
    return cli(capsys, "airdrop", "accept", str(registration), "--dir", str(airdrop.folder))


def register_and_accept(
    capsys: pytest.CaptureFixture[str], airdrop: Airdrop, account: str, where: Path
) -> Path:
    """Register ``account`` with its own key; the operator accepts it. Its secrets file."""
    secrets, registration = where / f"{account}.secrets", where / f"{account}.registration"
    code, out, err = register(capsys, airdrop, airdrop.keys[account], secrets, registration)
    assert code == 0, err
    assert str(secrets) in out, out
    assert str(registration) in out, out
    code, out, err = accept(capsys, airdrop, registration)
    assert code == 0, err
    assert out.strip().lower() == f"registered {account} in {airdrop.eligible[account]}", out
    return secrets


def publish(capsys: pytest.CaptureFixture[str], airdrop: Airdrop, anvil_url: str) -> Path:
    treasury = Account.create().address
    code, out, err = cli(capsys, "--private-key", OPERATOR_KEY, "airdrop", "publish", "--dir",
                         str(airdrop.folder), "--treasury", treasury, "--dev-keys",
                         "--l1-rpc", anvil_url)  # fmt: skip
    assert code == 0, err
    published = airdrop.folder / "published.json"
    assert str(published) in out, out
    assert published.is_file()
    assert (airdrop.folder / "claim-keys").is_dir()
    return published


def claim(
    capsys: pytest.CaptureFixture[str], published: Path, secrets: Path, to: str, out: Path
) -> tuple[int, str, str]:
    return cli(capsys, "airdrop", "claim", "--published", str(published), "--secrets",
               str(secrets), "--to", to, "--relayer", RELAYER, "--fee", "0.001 ether",
               "--out", str(out))  # fmt: skip


def relay(
    capsys: pytest.CaptureFixture[str], key: str, claim_file: Path, published: Path, url: str
) -> tuple[int, str, str]:
    return cli(capsys, "--private-key", key, "airdrop", "relay", str(claim_file),
               "--published", str(published), "--l1-rpc", url)  # fmt: skip


def test_an_airdrop_end_to_end_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    airdrop = eligible_airdrop(tmp_path, capsys)
    claimer, forgotten = airdrop.pick("early_adopters", 2)
    # Registration is off chain: the simulated accounts hold no ether and need none.
    secrets = register_and_accept(capsys, airdrop, claimer, tmp_path)
    register_and_accept(capsys, airdrop, forgotten, tmp_path)
    published = publish(capsys, airdrop, anvil_url)
    data = json.loads(published.read_text())
    assert str(claimer) not in published.read_text().lower()  # no account is published
    assert {t["name"]: len(t["leaves"]) for t in data["tiers"]} == {"early_adopters": 2}

    fresh = Account.create().address
    claim_file = tmp_path / "claim.json"
    code, out, err = claim(capsys, published, secrets, fresh, claim_file)
    assert code == 0, err
    assert "your claim hides among 2 members of early_adopters" in out, out
    assert "fewer than 10 members" in err  # two members hide little: the claimer is told
    assert claimer not in claim_file.read_text().lower()

    code, out, err = relay(capsys, RELAYER_KEY, claim_file, published, anvil_url)
    assert code == 0, err
    assert out.startswith("claimed: "), out
    chain = connect_jsonrpc(anvil_url, [])
    assert chain.balance(Address.from_hex(fresh)) == REWARDS["early_adopters"] - FEE

    code, out, err = cli(capsys, "airdrop", "erase", "--dir", str(airdrop.folder),
                         "--account", forgotten)  # fmt: skip
    assert code == 0, err
    erased = re.fullmatch(rf"erased {forgotten}: (\d+) fields unreadable from now on, "
                          r"backups included", out.strip())  # fmt: skip
    # tier, reward and usage: its commitment's link was dropped at publication
    assert erased, out
    assert int(erased.group(1)) == 3, out


def test_registrations_the_operator_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    airdrop = eligible_airdrop(tmp_path, capsys)
    # An account that is not eligible can sign a registration; the operator refuses it.
    code, _, err = register(capsys, airdrop, key_hex(Account.create()), tmp_path / "s.secrets",
                            tmp_path / "s.registration")  # fmt: skip
    assert code == 0, err
    refused(accept(capsys, airdrop, tmp_path / "s.registration"), "is not eligible")

    # The same account twice: the second registration is refused, the first one stands.
    account, other = airdrop.pick("early_adopters", 2)
    register_and_accept(capsys, airdrop, account, tmp_path)
    second = tmp_path / "second.registration"
    code, _, err = register(capsys, airdrop, airdrop.keys[account], tmp_path / "second.secrets",
                            second)  # fmt: skip
    assert code == 0, err
    refused(accept(capsys, airdrop, second), "already registered")
    first = json.loads((tmp_path / f"{account}.registration").read_text())
    state = AirdropOperator(airdrop.folder, name=NAME, chain_id=CHAIN_ID).state()
    assert state.registered == {Address.from_hex(account): int(first["commitment"])}

    # A registration naming an eligible account that did not sign it.
    forged = tmp_path / "forged.registration"
    forged.write_text(json.dumps({**json.loads(second.read_text()), "account": other}))
    refused(accept(capsys, airdrop, forged), "not signed by the account it names")
    # A registration file that is not one.
    broken = tmp_path / "broken.registration"
    broken.write_text('{"format": "l2gpu-airdrop-registration/1", "account": "0x12"}')
    refused(accept(capsys, airdrop, broken), "cannot be read")
    assert AirdropOperator(airdrop.folder, name=NAME, chain_id=CHAIN_ID).state() == state


def test_register_again_into_the_same_files_leaves_no_new_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second 'register' whose --out or --secrets-out exists is refused, overwrites
    nothing and leaves no new file behind: a secrets file with no registration beside it
    could never be claimed, and its owner could keep it in place of the right one."""
    key = key_hex(Account.create())  # registering is off line: no airdrop folder is needed
    secrets, registration = tmp_path / "a.secrets", tmp_path / "a.registration"
    args = ("--private-key", key, "airdrop", "register", "--airdrop-id", "12345")
    assert cli(capsys, *args, "--secrets-out", str(secrets), "--out", str(registration))[0] == 0
    before = secrets.read_text(), registration.read_text()

    other_secrets, other_registration = tmp_path / "b.secrets", tmp_path / "b.registration"
    refused(cli(capsys, *args, "--secrets-out", str(secrets), "--out", str(other_registration)),
            "exists")  # fmt: skip
    assert not other_registration.exists()
    refused(cli(capsys, *args, "--secrets-out", str(other_secrets), "--out", str(registration)),
            "exists")  # fmt: skip
    assert (secrets.read_text(), registration.read_text()) == before
    assert not other_secrets.exists(), "a secrets file was left with no registration"


def test_claims_and_relays_that_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    # publish without a chain that outlives the command
    empty = tmp_path / "empty"
    empty.mkdir()
    message = refused(cli(capsys, "--private-key", OPERATOR_KEY, "airdrop", "publish", "--dir",
                          str(empty), "--treasury", RELAYER, "--dev-keys"))  # fmt: skip
    assert "--l1-rpc" in message
    assert "l2gpu airdrop demo" in message

    airdrop = eligible_airdrop(tmp_path, capsys)
    (account,) = airdrop.pick("innovators", 1)
    secrets = register_and_accept(capsys, airdrop, account, tmp_path)
    published = publish(capsys, airdrop, anvil_url)

    # secrets whose commitment is in no tier: made, but never accepted
    code, _, err = register(capsys, airdrop, key_hex(Account.create()), tmp_path / "x.secrets",
                            tmp_path / "x.registration")  # fmt: skip
    assert code == 0, err
    refused(claim(capsys, published, tmp_path / "x.secrets", Account.create().address,
                  tmp_path / "x.claim"), "in no tier")  # fmt: skip
    assert not (tmp_path / "x.claim").exists()

    fresh = Account.create().address
    claim_file = tmp_path / "claim.json"
    code, out, err = claim(capsys, published, secrets, fresh, claim_file)
    assert code == 0, err
    assert "your claim hides among 1 members of innovators" in out, out
    chain = connect_jsonrpc(anvil_url, [])

    # corrupted claim files: not JSON, a field that is not a number; a fee other than the
    # one proven (well formed: L1 refuses the proof)
    text = claim_file.read_text()
    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    (tmp_path / "bad-fee.json").write_text(json.dumps({**json.loads(text), "fee": "a lot"}))
    (tmp_path / "other-fee.json").write_text(json.dumps({**json.loads(text), "fee": "0"}))
    for name in ("truncated.json", "bad-fee.json"):
        refused(relay(capsys, RELAYER_KEY, tmp_path / name, published, anvil_url), "claim file")
    refused(relay(capsys, RELAYER_KEY, tmp_path / "other-fee.json", published, anvil_url),
            "does not verify")  # fmt: skip
    # a key other than the relayer the claim names
    refused(relay(capsys, OPERATOR_KEY, claim_file, published, anvil_url), RELAYER)
    assert chain.balance(Address.from_hex(fresh)) == 0

    code, _, err = relay(capsys, RELAYER_KEY, claim_file, published, anvil_url)
    assert code == 0, err
    assert chain.balance(Address.from_hex(fresh)) == REWARDS["innovators"] - FEE
    # the same claim twice
    refused(relay(capsys, RELAYER_KEY, claim_file, published, anvil_url), "already claimed")
    assert chain.balance(Address.from_hex(fresh)) == REWARDS["innovators"] - FEE

    # a proof cut short is a corrupted claim file too, and is named as one (last: the
    # checks above do not wait on it)
    (tmp_path / "short-proof.json").write_text(json.dumps({**json.loads(text), "proof": "00"}))
    refused(relay(capsys, RELAYER_KEY, tmp_path / "short-proof.json", published, anvil_url),
            "claim file")  # fmt: skip


def test_the_airdrop_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "airdrop", "demo", "--accounts", "120", "--claims", "1")
    assert code == 0, err
    steps = [line.split(":", 1)[0] for line in out.splitlines()]
    assert [s for i, s in enumerate(steps) if s not in steps[:i]] == [
        "history", "eligible", "register", "publish", "claim", "erase",
    ]  # fmt: skip
    assert steps.count("claim") == 1


def test_with_json_each_step_prints_one_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    market = tmp_path / "market.db"
    simulate_market_history(create_engine(f"sqlite:///{market}"), accounts=ACCOUNTS, seed=SEED)
    folder = tmp_path / "airdrop"
    code, out, err = cli(capsys, "airdrop", "eligible", "--market-db", f"sqlite:///{market}",
                         "--dir", str(folder), "--json")  # fmt: skip
    assert code == 0, err
    found = json.loads(out)
    assert found["recorded"] > 0
    assert {t["tier"] for t in found["tiers"]} <= {"innovators", "early_adopters"}
    assert all(t["total"].isdigit() for t in found["tiers"])  # wei as a decimal string
    assert found["innovators_until_iso"].endswith("Z")
    account = next(iter(AirdropOperator(folder, name=NAME, chain_id=CHAIN_ID).state().eligible))
    key = {k.address.lower(): key_hex(k) for k in simulated_account_keys(ACCOUNTS, SEED)}[
        str(account).lower()
    ]
    secrets, registration = tmp_path / "a.secrets", tmp_path / "a.registration"
    code, out, err = cli(capsys, "--private-key", key, "airdrop", "register", "--airdrop-id",
                         found["airdrop_id"], "--secrets-out", str(secrets), "--out",
                         str(registration), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["registration"] == str(registration)
    code, out, err = cli(capsys, "airdrop", "accept", str(registration), "--dir", str(folder),
                         "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["account"].lower() == str(account).lower()
    code, out, err = cli(capsys, "airdrop", "accept", str(registration), "--dir", str(folder),
                         "--json")  # fmt: skip
    assert code == 2, out  # an error with --json: one line on stderr, nothing on stdout
    assert out == ""
    assert len(err.strip().splitlines()) == 1
