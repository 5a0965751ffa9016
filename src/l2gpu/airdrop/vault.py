"""Personal data of airdrop users, kept off chain and erasable by crypto-shredding.

Whatever the operator keeps about a user (an e-mail address, the usage history that
decides eligibility, which commitment an account registered) is encrypted with a key
of that user's own: AES-256-GCM, a random 96-bit nonce per record, and associated data
naming the account and the field, so a ciphertext copied to another row fails
authentication instead of decrypting as someone else's data.

Ciphertexts and keys live in two stores, kept and backed up apart, so a backup of the
data store holds no key. Erasing a user deletes the user's key: every copy of the
ciphertexts, backups included, becomes unreadable. The data store does not name the
account in clear either: rows are found by a tag derived from the key, so once the key
is gone no row can be tied back to anyone.

Deleted bytes do not leave the disk by themselves. On SQLite the vault turns on
``secure_delete`` and truncates the write-ahead log after an erasure, so the key's
bytes leave the files (the file system may keep old blocks). On PostgreSQL a deleted
row stays in its page until VACUUM reuses the space, and in WAL archives and base
backups until their retention ends: those bound when an erased key is really gone.
``docs/privacy.md`` lists the limits.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    LargeBinary,
    String,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from l2gpu.clock import system_clock
from l2gpu.core.errors import InvalidValue, L2gpuError

MAX_VALUE_BYTES = 64 * 1024
"""The largest value one field holds, in bytes of UTF-8."""

_ACCOUNT = re.compile(r"0x[0-9a-f]{40}")
_FIELD = re.compile(r"[a-z_]{1,32}")
_KEY_BYTES = 32
_NONCE_BYTES = 12
# Every derived value carries a label with a version, so that a future format cannot
# be confused with this one.
_LABEL = b"l2gpu/airdrop/vault/v1/"


class VaultError(L2gpuError):
    """The personal data vault refused a request."""


class Erased(VaultError):
    """The account's data was erased: its key is gone and nothing can be read."""


class NotFound(VaultError):
    """Nothing is stored for this account, or for this field of it."""


class Tampered(VaultError):
    """A record failed authentication: it was altered or moved from another row."""


@dataclass(frozen=True)
class Erasure:
    """What :meth:`PersonalDataVault.erase` did: how many fields became unreadable, when."""

    account: str
    fields_unreadable: int
    erased_at: int


class _DataBase(DeclarativeBase):
    """Tables of the data store (ciphertexts only)."""


class _KeyBase(DeclarativeBase):
    """Tables of the key store (keys and tombstones)."""


class _Record(_DataBase):
    __tablename__ = "airdrop_vault_records"

    account_tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(_NONCE_BYTES))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class _Key(_KeyBase):
    __tablename__ = "airdrop_vault_keys"

    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(_KEY_BYTES))
    created_at: Mapped[int] = mapped_column(BigInteger)


class _Tombstone(_KeyBase):
    __tablename__ = "airdrop_vault_tombstones"

    account_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    erased_at: Mapped[int] = mapped_column(BigInteger)


class PersonalDataVault:
    """Per-user encrypted personal data over a data store and a separate key store.

    The keys are stored as they are: whoever reads the key store and a copy of the
    data store reads the data, so the key store gets the tighter access control (or
    the storage's own encryption at rest). ``clock`` gives Unix seconds for key
    creation and erasure times.
    """

    def __init__(
        self,
        data_engine: Engine,
        key_engine: Engine,
        *,
        clock: Callable[[], int] = system_clock,
    ) -> None:
        """Open the vault, creating its tables in either store if they are missing."""
        if data_engine is key_engine:
            raise VaultError(
                "the data store and the key store are the same database",
                "give the keys their own database, backed up apart from the data",
            )
        self._data = data_engine
        self._keys = key_engine
        self._clock = clock
        _overwrite_deleted_bytes(data_engine)
        _overwrite_deleted_bytes(key_engine)
        _DataBase.metadata.create_all(data_engine)
        _KeyBase.metadata.create_all(key_engine)

    def put(
        self, account: str, field: str, value: str, *, allow_new_after_erasure: bool = False
    ) -> None:
        """Store ``value`` as ``field`` of ``account``, replacing what was there.

        The account's key is made at its first ``put``. An erased account is refused
        unless ``allow_new_after_erasure`` says the user came back and consented again.
        """
        account, field = _check_account(account), _check_field(field)
        data = value.encode()
        if len(data) > MAX_VALUE_BYTES:
            problem, fix = f"{len(data)} bytes, over {MAX_VALUE_BYTES}", "store a summary"
            raise InvalidValue(f"value of '{field}'", value, problem, fix, secret=True)
        key = self._key_for_write(account, allow_new_after_erasure)
        nonce = os.urandom(_NONCE_BYTES)
        # A random nonce is safe here: one key encrypts a handful of fields per user,
        # far below the 2^32 messages at which random 96-bit nonces may collide.
        ciphertext = _cipher(key).encrypt(nonce, data, _associated(account, field))
        row = {"account_tag": _tag(key), "field": field, "nonce": nonce, "ciphertext": ciphertext}
        with self._data.begin() as conn:
            _upsert(conn, row)

    def get(self, account: str, field: str) -> str:
        """The value of ``field`` of ``account``; :class:`Erased` if the account was
        erased, :class:`NotFound` if nothing is stored, :class:`Tampered` if the record
        fails authentication."""
        account, field = _check_account(account), _check_field(field)
        key = self._key_for_read(account)
        with self._data.connect() as conn:
            row = conn.execute(
                select(_Record.nonce, _Record.ciphertext).where(
                    _Record.account_tag == _tag(key), _Record.field == field
                )
            ).first()
        if row is None:
            raise NotFound(f"no '{field}' is stored for {account}", "store it with put first")
        return _decrypt(key, account, field, row.nonce, row.ciphertext)

    def export(self, account: str) -> dict[str, str]:
        """Every field stored for ``account``, decrypted (the rights of access and to
        portability). Empty if nothing is stored; :class:`Erased` if it was erased."""
        account = _check_account(account)
        try:
            key = self._key_for_read(account)
        except NotFound:
            return {}
        with self._data.connect() as conn:
            rows = conn.execute(
                select(_Record.field, _Record.nonce, _Record.ciphertext)
                .where(_Record.account_tag == _tag(key))
                .order_by(_Record.field)
            ).all()
        return {r.field: _decrypt(key, account, r.field, r.nonce, r.ciphertext) for r in rows}

    def delete_field(self, account: str, field: str) -> bool:
        """Delete one field of ``account`` (an objection to one use of the data); True
        if it was stored. Backups still hold it, readable while the account's key
        lives: only :meth:`erase` makes every copy unreadable."""
        account, field = _check_account(account), _check_field(field)
        key = self._key_for_read(account)
        query = delete(_Record).where(_Record.account_tag == _tag(key), _Record.field == field)
        with self._data.begin() as conn:
            _secure_delete_on(conn)
            result = conn.execute(query)
        return bool(result.rowcount)

    def erase(self, account: str, *, now: int | None = None) -> Erasure:
        """Erase everything stored for ``account`` by deleting its key (right to erasure).

        One key-store transaction deletes the key and records a tombstone (a hash of
        the account and the time), which refuses a later ``put`` without fresh consent.
        The ciphertexts are deleted too, as defence in depth; the guarantee rests on
        the key. Erasing an erased account again changes nothing and returns the first
        erasure's time. :class:`NotFound` if the account never stored anything.
        """
        account = _check_account(account)
        erased_at = self._clock() if now is None else now
        with self._keys.begin() as conn:
            _secure_delete_on(conn)
            key = self._load_key(conn, account)
            if key is None:
                previous = self._erased_at(conn, account)
                if previous is None:
                    raise NotFound(f"nothing is stored for {account}", "there is nothing to erase")
                return Erasure(account, 0, previous)
            conn.execute(delete(_Key).where(_Key.account == account))
            conn.execute(delete(_Tombstone).where(_Tombstone.account_hash == _hash(account)))
            conn.execute(
                insert(_Tombstone).values(account_hash=_hash(account), erased_at=erased_at)
            )
        _truncate_wal(self._keys)
        # The data is unreadable from here on. If deleting the rows fails, they stay
        # behind, unreadable and tied to no account; purge_orphans() removes them.
        with self._data.begin() as conn:
            _secure_delete_on(conn)
            result = conn.execute(delete(_Record).where(_Record.account_tag == _tag(key)))
        _truncate_wal(self._data)
        return Erasure(account, result.rowcount, erased_at)

    def is_erased(self, account: str) -> bool:
        """Whether ``account`` was erased (and has not come back with fresh consent)."""
        account = _check_account(account)
        with self._keys.connect() as conn:
            if self._load_key(conn, account) is not None:
                return False
            return self._erased_at(conn, account) is not None

    def accounts(self) -> list[str]:
        """The accounts whose key is live (erased ones are not listed), sorted."""
        with self._keys.connect() as conn:
            return list(conn.execute(select(_Key.account).order_by(_Key.account)).scalars())

    def purge_orphans(self) -> int:
        """Delete ciphertexts whose key is gone (left by an interrupted erasure, or
        brought back by restoring an old backup of the data store); how many."""
        with self._data.connect() as conn:
            tags = set(conn.execute(select(_Record.account_tag).distinct()).scalars())
        # Keys are read after the tags: put commits a key before its row, so a row
        # written meanwhile is either not among the tags or has its key among the keys.
        with self._keys.connect() as conn:
            live = {_tag(key) for key in conn.execute(select(_Key.key)).scalars()}
        with self._data.begin() as conn:
            _secure_delete_on(conn)
            result = conn.execute(delete(_Record).where(_Record.account_tag.in_(tags - live)))
        return result.rowcount

    def _key_for_read(self, account: str) -> bytes:
        with self._keys.connect() as conn:
            key = self._load_key(conn, account)
            if key is not None:
                return key
            erased_at = self._erased_at(conn, account)
        if erased_at is not None:
            raise Erased(
                f"the data of {account} was erased at {erased_at} (Unix time): its key is "
                "deleted and no copy can be read",
                "nothing can be recovered; ask the user to provide the data again",
            )
        raise NotFound(f"nothing is stored for {account}", "store its data with put first")

    def _key_for_write(self, account: str, allow_new_after_erasure: bool) -> bytes:
        # Two first puts for one account may race: the loser's insert violates the
        # primary key, and its second pass reads the winner's key.
        for _ in range(2):
            try:
                with self._keys.begin() as conn:
                    key = self._load_key(conn, account)
                    if key is not None:
                        return key
                    if self._erased_at(conn, account) is not None and not allow_new_after_erasure:
                        raise Erased(
                            f"{account} was erased; new data needs the user's fresh consent",
                            "once the user consented again, pass allow_new_after_erasure=True",
                        )
                    key = os.urandom(_KEY_BYTES)
                    row = {"account": account, "key": key, "created_at": self._clock()}
                    conn.execute(insert(_Key).values(row))
                    return key
            except IntegrityError:
                continue
        raise VaultError(f"could not create a key for {account}", "try again")

    def _load_key(self, conn: Connection, account: str) -> bytes | None:
        return conn.execute(select(_Key.key).where(_Key.account == account)).scalar()

    def _erased_at(self, conn: Connection, account: str) -> int | None:
        query = select(_Tombstone.erased_at).where(_Tombstone.account_hash == _hash(account))
        return conn.execute(query).scalar()


def _check_account(account: str) -> str:
    lowered = account.lower()
    if not _ACCOUNT.fullmatch(lowered):
        raise InvalidValue("account", account, "not 0x and 40 hex digits", "give an address")
    return lowered


def _check_field(field: str) -> str:
    if not _FIELD.fullmatch(field):
        raise InvalidValue("field name", field, "not 1 to 32 of a-z and _", "e.g. 'email'")
    return field


# The user's key is never used directly: the cipher key and the row tag are each
# derived from it with HMAC-SHA256 under their own label, so they share no key bytes.
def _tag(key: bytes) -> bytes:
    return hmac.digest(key, _LABEL + b"account-tag", "sha256")


def _cipher(key: bytes) -> AESGCM:
    return AESGCM(hmac.digest(key, _LABEL + b"encrypt", "sha256"))


def _associated(account: str, field: str) -> bytes:
    return _LABEL + account.encode() + b"\0" + field.encode()


def _decrypt(key: bytes, account: str, field: str, nonce: bytes, ciphertext: bytes) -> str:
    try:
        return _cipher(key).decrypt(nonce, ciphertext, _associated(account, field)).decode()
    except InvalidTag as exc:
        raise Tampered(
            f"the stored '{field}' of {account} fails authentication: it was altered or "
            "moved from another row",
            "restore the record from a backup, or delete it and ask the user again",
        ) from exc


def _hash(account: str) -> bytes:
    return hashlib.sha256(_LABEL + b"tombstone\0" + account.encode()).digest()


def _upsert(conn: Connection, row: Mapping[str, object]) -> None:
    # Both databases l2gpu runs on (db/engine.py) have INSERT ... ON CONFLICT: two puts
    # to one field at once both succeed, the later one winning.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_Record).values(row)
    new = statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["account_tag", "field"],
            set_={"nonce": new.nonce, "ciphertext": new.ciphertext},
        )
    )


def _overwrite_deleted_bytes(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    # Without secure_delete SQLite only unlinks a deleted row from its page: the key's
    # bytes would stay in the file until the page happened to be reused, and a copy
    # of the file would still hold them. It is set per connection, hence on connect.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA secure_delete=ON")


def _secure_delete_on(conn: Connection) -> None:
    # Again before each delete: connections pooled before this vault was made did not
    # pass through the connect hook.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def _truncate_wal(engine: Engine) -> None:
    # In WAL mode the frames that once wrote the key stay in the -wal file until it is
    # rewritten; a TRUNCATE checkpoint copies the cleared pages into the database file
    # and empties the log. It cannot run inside a transaction, hence the raw driver
    # connection. If a reader holds the log it does nothing; the next checkpoint does.
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
