"""Keys: dev accounts, hex keys and encrypted keystores, with their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from l2gpu.core.errors import InvalidValue
from l2gpu.l1.keys import (
    KeystoreError,
    account_from_private_key,
    load_keystore,
    save_keystore,
)


def test_keystore_round_trip_and_file_mode(tmp_path: Path) -> None:
    account = Account.create()
    path = save_keystore(account, tmp_path / "keys" / "me.json", "correct horse")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keystore(path, "correct horse").address == account.address


def test_keystore_errors_say_what_went_wrong(tmp_path: Path) -> None:
    account = Account.create()
    path = save_keystore(account, tmp_path / "me.json", "correct horse")
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, "wrong horse")
    with pytest.raises(KeystoreError, match="already exists"):
        save_keystore(account, path, "correct horse")
    with pytest.raises(KeystoreError, match="does not exist"):
        load_keystore(tmp_path / "nope.json", "x")
    (tmp_path / "junk.json").write_text("not json")
    with pytest.raises(KeystoreError, match="not a JSON keystore"):
        load_keystore(tmp_path / "junk.json", "x")
    (tmp_path / "partial.json").write_text('{"version": 3}')
    with pytest.raises(KeystoreError, match="lacks fields"):
        load_keystore(tmp_path / "partial.json", "x")
    with pytest.raises(InvalidValue, match="shorter than 8"):
        save_keystore(account, tmp_path / "short.json", "abc")
    assert not (tmp_path / "short.json").exists()


@pytest.mark.parametrize("text", ["", "0x12", "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32])
def test_malformed_private_keys_are_rejected_without_echoing_them(text: str) -> None:
    with pytest.raises(InvalidValue) as info:
        account_from_private_key(text)
    assert "(hidden)" in str(info.value)
    if len(text) > 6:
        assert text[2:10] not in str(info.value)
