"""The personal data vault: per-user encryption, and erasure by deleting the user's key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import Engine, create_engine, event, text

from l2gpu.airdrop.vault import (
    MAX_VALUE_BYTES,
    Erased,
    Erasure,
    NotFound,
    PersonalDataVault,
    Tampered,
    VaultError,
)
from l2gpu.clock import SimulatedClock
from l2gpu.core.errors import InvalidValue
from l2gpu.db import open_database

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
START = 1_800_000_000


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


def sqlite_engine(path: Path, journal_mode: str = "delete") -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _journal(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA journal_mode={journal_mode}")

    return engine


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    """The data store's file and the key store's file, apart as an operator keeps them."""
    return tmp_path / "data.db", tmp_path / "keys.db"


@pytest.fixture
def vault(stores: tuple[Path, Path], clock: SimulatedClock) -> PersonalDataVault:
    data, keys = stores
    return PersonalDataVault(sqlite_engine(data), sqlite_engine(keys), clock=clock)


def raw_key(keys_file: Path, account: str) -> bytes:
    """The key as the key store holds it, read behind the vault's back."""
    engine = create_engine(f"sqlite:///{keys_file}")
    with engine.connect() as conn:
        key = conn.execute(
            text("SELECT key FROM airdrop_vault_keys WHERE account = :a"), {"a": account}
        ).scalar_one()
    engine.dispose()
    return bytes(key)


def file_bytes(path: Path) -> bytes:
    """A SQLite database as it is on disk: the file with its journal or write-ahead log."""
    parts = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def test_round_trip_overwrite_export_and_accounts(vault: PersonalDataVault) -> None:
    vault.put(ALICE, "email", "alice@example.org")
    vault.put(ALICE.upper().replace("0X", "0x"), "usage_history", '{"gpu_hours": 12}')
    vault.put(BOB, "email", "bob@example.org")
    vault.put(ALICE, "email", "alice@example.net")

    assert vault.get(ALICE, "email") == "alice@example.net"
    assert vault.export(ALICE) == {
        "email": "alice@example.net",
        "usage_history": '{"gpu_hours": 12}',
    }
    assert vault.accounts() == [ALICE, BOB]
    assert vault.export("0x" + "00" * 20) == {}
    with pytest.raises(NotFound, match="no 'phone' is stored"):
        vault.get(ALICE, "phone")
    with pytest.raises(NotFound, match="nothing is stored"):
        vault.get("0x" + "00" * 20, "email")


def test_erase_makes_every_field_unreadable(
    vault: PersonalDataVault, clock: SimulatedClock
) -> None:
    vault.put(ALICE, "email", "alice@example.org")
    vault.put(ALICE, "commitment", "0x1234")
    vault.put(BOB, "email", "bob@example.org")
    clock.advance(60)

    assert vault.erase(ALICE) == Erasure(ALICE, fields_unreadable=2, erased_at=START + 60)

    with pytest.raises(Erased, match=f"erased at {START + 60}"):
        vault.get(ALICE, "email")
    with pytest.raises(Erased):
        vault.export(ALICE)
    assert vault.accounts() == [BOB]
    assert vault.get(BOB, "email") == "bob@example.org"
    # A second request changes nothing and reports the first erasure.
    clock.advance(60)
    assert vault.erase(ALICE) == Erasure(ALICE, 0, START + 60)
    with pytest.raises(NotFound, match="nothing to erase"):
        vault.erase("0x" + "00" * 20)


def test_a_backup_of_the_data_store_is_unreadable_once_the_key_is_erased(
    vault: PersonalDataVault, stores: tuple[Path, Path], tmp_path: Path, clock: SimulatedClock
) -> None:
    data, keys = stores
    vault.put(ALICE, "email", "alice@example.org")
    backup = tmp_path / "backup-of-data.db"
    shutil.copy(data, backup)
    vault.erase(ALICE, now=START + 1)

    restored = PersonalDataVault(sqlite_engine(backup), sqlite_engine(keys), clock=clock)
    # The ciphertext is still in the backup, under a tag that names no account...
    with create_engine(f"sqlite:///{backup}").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM airdrop_vault_records")).scalar() == 1
    assert ALICE.encode() not in backup.read_bytes()
    assert b"alice@example.org" not in backup.read_bytes()
    # ... and nothing opens it.
    with pytest.raises(Erased):
        restored.get(ALICE, "email")
    # Restoring such a backup brings back rows nobody can read: they are purged.
    assert restored.purge_orphans() == 1
    assert restored.purge_orphans() == 0


@pytest.mark.parametrize("journal_mode", ["delete", "wal", "open_database"])
def test_the_erased_key_leaves_the_key_store_file(
    tmp_path: Path, clock: SimulatedClock, journal_mode: str
) -> None:
    # "open_database": the engines l2gpu's servers use (WAL, transactions that begin
    # IMMEDIATE, Alembic's tables beside the vault's).
    data, keys = tmp_path / "data.db", tmp_path / "keys.db"
    if journal_mode == "open_database":
        engines = open_database(f"sqlite:///{data}"), open_database(f"sqlite:///{keys}")
    else:
        engines = sqlite_engine(data, journal_mode), sqlite_engine(keys, journal_mode)
    vault = PersonalDataVault(*engines, clock=clock)
    vault.put(ALICE, "email", "alice@example.org")
    vault.put(BOB, "email", "bob@example.org")
    alice_key, bob_key = raw_key(keys, ALICE), raw_key(keys, BOB)
    assert alice_key in file_bytes(keys)  # the search below would find it

    vault.erase(ALICE)

    on_disk = file_bytes(keys)
    assert alice_key not in on_disk
    assert bob_key in on_disk


def test_a_ciphertext_moved_to_another_row_fails_authentication(
    vault: PersonalDataVault, stores: tuple[Path, Path]
) -> None:
    vault.put(ALICE, "email", "alice@example.org")
    vault.put(BOB, "email", "bob@example.org")
    vault.put(BOB, "phone", "+41 00 000 00 00")
    engine = create_engine(f"sqlite:///{stores[0]}")
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT account_tag, nonce, ciphertext FROM airdrop_vault_records "
                "WHERE field = 'email'"
            )
        ).all()
        assert len(rows) == 2
        # Swap the two users' e-mail records, nonce and ciphertext together.
        for (tag, _, _), (_, nonce, ciphertext) in zip(rows, reversed(rows), strict=True):
            conn.execute(
                text(
                    "UPDATE airdrop_vault_records SET nonce = :n, ciphertext = :c "
                    "WHERE account_tag = :t AND field = 'email'"
                ),
                {"n": nonce, "c": ciphertext, "t": tag},
            )
        # Move one of Bob's fields onto another of his fields.
        conn.execute(
            text("UPDATE airdrop_vault_records SET field = 'email_moved' WHERE field = 'phone'")
        )
    engine.dispose()

    for account in (ALICE, BOB):
        with pytest.raises(Tampered, match="fails authentication"):
            vault.get(account, "email")
    with pytest.raises(Tampered):
        vault.get(BOB, "email_moved")


def test_bad_input_is_refused_with_what_to_do(vault: PersonalDataVault) -> None:
    with pytest.raises(InvalidValue, match=r"over 65536.*store a summary") as oversized:
        vault.put(ALICE, "usage_history", "x" * (MAX_VALUE_BYTES + 1))
    assert "xxxx" not in str(oversized.value)  # personal data is never echoed
    vault.put(ALICE, "usage_history", "é" * (MAX_VALUE_BYTES // 2))  # bytes, not chars

    for field in ("Email", "e-mail", "", "a" * 33, "email\n"):
        with pytest.raises(InvalidValue, match="field name"):
            vault.put(ALICE, field, "x")
    with pytest.raises(InvalidValue, match="0x and 40 hex digits"):
        vault.put("alice", "email", "x")


def test_new_data_after_erasure_needs_fresh_consent(
    vault: PersonalDataVault, clock: SimulatedClock
) -> None:
    vault.put(ALICE, "email", "alice@example.org")
    vault.erase(ALICE)

    with pytest.raises(Erased, match="allow_new_after_erasure=True"):
        vault.put(ALICE, "email", "alice@example.org")
    vault.put(ALICE, "email", "alice@new.example", allow_new_after_erasure=True)
    vault.put(ALICE, "commitment", "0x99")  # the new key is live: no new consent needed

    assert vault.export(ALICE) == {"commitment": "0x99", "email": "alice@new.example"}
    clock.advance(10)
    assert vault.erase(ALICE) == Erasure(ALICE, 2, START + 10)
    with pytest.raises(Erased, match=f"erased at {START + 10}"):
        vault.get(ALICE, "email")


def test_delete_field_removes_one_field(vault: PersonalDataVault) -> None:
    vault.put(ALICE, "email", "alice@example.org")
    vault.put(ALICE, "usage_history", "[]")

    assert vault.delete_field(ALICE, "usage_history")
    assert not vault.delete_field(ALICE, "usage_history")
    assert vault.export(ALICE) == {"email": "alice@example.org"}


def test_one_database_for_both_stores_is_refused(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "both.db")
    with pytest.raises(VaultError, match="same database"):
        PersonalDataVault(engine, engine)


def _postgres_engine(url: str, schema: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()

    return engine


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql(database_url: tuple[str, str], clock: SimulatedClock) -> None:
    # Two private schemas on the shared test server stand for the two stores; the
    # fixture drops the key store's, this test the data store's.
    url, schema = database_url
    data_schema = f"{schema}_data"
    data, keys = _postgres_engine(url, data_schema), _postgres_engine(url, schema)
    try:
        vault = PersonalDataVault(data, keys, clock=clock)
        vault.put(ALICE, "email", "alice@example.org")
        vault.put(ALICE, "email", "alice@example.net")
        vault.put(BOB, "email", "bob@example.org")
        assert vault.export(ALICE) == {"email": "alice@example.net"}
        assert vault.accounts() == [ALICE, BOB]

        assert vault.erase(ALICE, now=START + 5) == Erasure(ALICE, 1, START + 5)
        with pytest.raises(Erased):
            vault.get(ALICE, "email")
        with pytest.raises(Erased):
            vault.put(ALICE, "email", "again")
        assert vault.accounts() == [BOB]
        with data.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM airdrop_vault_records")).scalar() == 1
    finally:
        data.dispose()
        keys.dispose()
        cleanup = sqlalchemy.create_engine(url)
        with cleanup.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{data_schema}" CASCADE'))
        cleanup.dispose()
