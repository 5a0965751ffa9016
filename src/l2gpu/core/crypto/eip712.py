"""EIP-712 typed structured data: hashing, signing and signer recovery.

A :class:`TypedDataSchema` is built once per message type: it checks the type
definitions, computes each struct's ``encodeType`` and type hash, and compiles
one encoder per field. Hashing a message then costs a few byte joins and one
Keccak per struct. With pysha3 and libsecp256k1 (coincurve) this is the *fast
path*; the tests check it against eth-account's reference implementation on
random schemas and values (``tests/core/test_eip712_vs_eth_account.py``).

Signing domains bind a signature to one chain, one contract and one purpose,
so a voucher for one channel can never be replayed on another chain or contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey, recover_address
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.types import Address

Encoder = Callable[[Any], bytes]

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_ARRAY = re.compile(r"^(.+)\[([0-9]*)\]$")
_UINT = re.compile(r"^uint([0-9]+)$")
_INT = re.compile(r"^int([0-9]+)$")
_BYTES_N = re.compile(r"^bytes([0-9]+)$")


MAX_TYPE = 256
"""Longest type or field name: bounds the digits int() reads (``uint``, ``bytes``, array
sizes) and the nesting of arrays, which the encoders follow by recursion."""


class TypedDataError(L2gpuError):
    """A typed-data schema or message does not follow EIP-712."""


@dataclass(frozen=True, slots=True)
class Eip712Domain:
    """The EIP-712 domain. Unset fields are left out of the domain type, as the EIP allows."""

    name: str | None = None
    version: str | None = None
    chain_id: int | None = None
    verifying_contract: Address | None = None
    salt: bytes | None = None

    def fields(self) -> list[tuple[str, str, object]]:
        """The set fields as ``(name, type, value)``, in the EIP's canonical order."""
        candidates: list[tuple[str, str, object]] = [
            ("name", "string", self.name),
            ("version", "string", self.version),
            ("chainId", "uint256", self.chain_id),
            ("verifyingContract", "address", self.verifying_contract),
            ("salt", "bytes32", self.salt),
        ]
        return [c for c in candidates if c[2] is not None]

    @property
    def separator(self) -> bytes:
        """The domain separator: ``hashStruct(EIP712Domain)``."""
        return _domain_separator(self)


@lru_cache(maxsize=256)
def _domain_separator(domain: Eip712Domain) -> bytes:
    fields = domain.fields()
    schema = TypedDataSchema({"EIP712Domain": [(n, t) for n, t, _ in fields]}, "EIP712Domain")
    return schema.hash_struct({n: v for n, _, v in fields})


class TypedDataSchema:
    """The types of one kind of message and its primary type, compiled for fast hashing."""

    def __init__(self, types: Mapping[str, Sequence[tuple[str, str]]], primary_type: str) -> None:
        """Check ``types`` (struct name -> [(field name, field type)]) and compile encoders."""
        try:
            self.types: dict[str, tuple[tuple[str, str], ...]] = {
                str(name): tuple((str(f), str(t)) for f, t in fields)
                for name, fields in types.items()
            }
        except (AttributeError, TypeError, ValueError) as exc:
            raise TypedDataError(
                f"types must map struct names to lists of (name, type) pairs: {exc}"
            ) from exc
        if not isinstance(primary_type, str) or primary_type not in self.types:
            raise TypedDataError(
                f"primary type {str(primary_type)[:40]!r} is not among the defined types",
                f"define it or choose one of: {', '.join(sorted(self.types))}",
            )
        self.primary_type = primary_type
        for name, fields in self.types.items():
            _check_struct(name, fields, self.types)
        self._type_hash = {name: keccak256(self.encode_type(name).encode()) for name in self.types}
        self._encoders: dict[str, list[tuple[str, Encoder]]] = {}
        for name, fields in self.types.items():
            self._encoders[name] = [(f, self._field_encoder(t)) for f, t in fields]

    def dependencies(self, struct: str) -> list[str]:
        """All struct types that ``struct`` refers to (transitively), itself first."""
        found: list[str] = []
        pending = [struct]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.append(current)
            for _, field_type in self.types[current]:
                base = _base_type(field_type)
                if base in self.types and base not in found:
                    pending.append(base)
        return [struct, *sorted(found[1:])]

    def encode_type(self, struct: str) -> str:
        """``encodeType``: the struct's signature followed by its dependencies, sorted by name."""
        return "".join(
            f"{name}({','.join(f'{t} {f}' for f, t in self.types[name])})"
            for name in self.dependencies(struct)
        )

    def type_hash(self, struct: str) -> bytes:
        """``keccak256(encodeType(struct))``."""
        return self._type_hash[struct]

    def hash_struct(self, value: Mapping[str, Any], struct: str | None = None) -> bytes:
        """``hashStruct``: Keccak-256 of the type hash and the encoded fields."""
        name = struct or self.primary_type
        if not isinstance(value, Mapping):
            raise TypedDataError(f"a {name} must be a mapping of field names to values")
        parts = [self._type_hash[name]]
        try:
            for field, encode in self._encoders[name]:
                parts.append(encode(value[field]))
        except KeyError as exc:
            raise TypedDataError(
                f"{name} is missing field {exc.args[0]!r}", "give every field of the type"
            ) from exc
        return keccak256(b"".join(parts))

    def digest(self, domain: Eip712Domain, message: Mapping[str, Any]) -> bytes:
        """The 32 bytes that are signed: ``keccak256(0x1901 || separator || hashStruct)``."""
        return keccak256(b"\x19\x01" + domain.separator + self.hash_struct(message))

    def sign(self, key: PrivateKey, domain: Eip712Domain, message: Mapping[str, Any]) -> bytes:
        """Sign ``message`` under ``domain``; return the 65-byte signature."""
        return key.sign_digest(self.digest(domain, message))

    def recover(
        self, domain: Eip712Domain, message: Mapping[str, Any], signature: bytes
    ) -> Address:
        """Return the address that signed ``message`` under ``domain``."""
        return recover_address(self.digest(domain, message), signature)

    def to_json(self, domain: Eip712Domain, message: Mapping[str, Any]) -> dict[str, Any]:
        """The standard JSON form (as ``eth_signTypedData_v4`` takes it), for wallets."""
        return {
            "types": {
                "EIP712Domain": [{"name": n, "type": t} for n, t, _ in domain.fields()],
                **{
                    name: [{"name": f, "type": t} for f, t in fields]
                    for name, fields in self.types.items()
                },
            },
            "primaryType": self.primary_type,
            "domain": {
                n: (v.checksum if isinstance(v, Address) else v) for n, _, v in domain.fields()
            },
            "message": dict(message),
        }

    # -- compiling encoders ------------------------------------------------------

    def _field_encoder(self, field_type: str) -> Encoder:
        array = _ARRAY.fullmatch(field_type)
        if array:
            inner = self._field_encoder(array.group(1))
            length = int(array.group(2)) if array.group(2) else None
            return _array_encoder(inner, length, field_type)
        if field_type in self.types:
            return lambda value: self.hash_struct(value, field_type)
        return _atomic_encoder(field_type)


def _base_type(field_type: str) -> str:
    while (array := _ARRAY.fullmatch(field_type)) is not None:
        field_type = array.group(1)
    return field_type


def _check_struct(
    name: str, fields: tuple[tuple[str, str], ...], types: Mapping[str, object]
) -> None:
    if len(name) > MAX_TYPE or not _IDENT.fullmatch(name):
        raise TypedDataError(f"type name '{name[:40]}' is not an identifier")
    seen: set[str] = set()
    for field, field_type in fields:
        if len(field) > MAX_TYPE or not _IDENT.fullmatch(field):
            raise TypedDataError(f"{name}: field name '{field[:40]}' is not an identifier")
        if len(field_type) > MAX_TYPE:
            raise TypedDataError(
                f"{name}: the type of '{field}' is {len(field_type)} characters long",
                f"use a type of at most {MAX_TYPE} characters",
            )
        if field in seen:
            raise TypedDataError(f"{name}: field '{field}' is defined twice")
        seen.add(field)
        base = _base_type(field_type)
        if base not in types:
            _atomic_encoder(base)  # raises for an unknown type


def _array_encoder(inner: Encoder, length: int | None, field_type: str) -> Encoder:
    def encode(values: Any) -> bytes:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise TypedDataError(f"a {field_type} value must be a list")
        if length is not None and len(values) != length:
            raise TypedDataError(f"a {field_type} holds exactly {length} items, got {len(values)}")
        return keccak256(b"".join(inner(v) for v in values))

    return encode


def _atomic_encoder(field_type: str) -> Encoder:
    """One encoder per atomic type, each producing 32 bytes (dynamic types hash)."""
    if field_type == "address":
        return _encode_address
    if field_type == "bool":
        return _encode_bool
    if field_type == "string":
        return _encode_string
    if field_type == "bytes":
        return _encode_dynamic_bytes
    if m := _UINT.fullmatch(field_type):
        bits = int(m.group(1))
        _check_bits(field_type, bits)
        return _uint_encoder(bits)
    if m := _INT.fullmatch(field_type):
        bits = int(m.group(1))
        _check_bits(field_type, bits)
        return _int_encoder(bits)
    if m := _BYTES_N.fullmatch(field_type):
        size = int(m.group(1))
        if not 1 <= size <= 32:
            raise TypedDataError(f"unknown type '{field_type}': bytesN takes 1 <= N <= 32")
        return _bytes_n_encoder(size)
    raise TypedDataError(
        f"unknown type '{field_type}'",
        "use a defined struct or an atomic type: address, bool, string, bytes, uintN, intN "
        "or bytesN",
    )


def _check_bits(field_type: str, bits: int) -> None:
    if not (8 <= bits <= 256 and bits % 8 == 0):
        raise TypedDataError(f"unknown type '{field_type}': N must be a multiple of 8 up to 256")


def _uint_encoder(bits: int) -> Encoder:
    limit = 1 << bits

    def encode(value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            raise InvalidValue(f"uint{bits}", value, "out of range", f"use 0 <= x < 2**{bits}")
        return value.to_bytes(32, "big")

    return encode


def _int_encoder(bits: int) -> Encoder:
    bound = 1 << (bits - 1)

    def encode(value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int) or not -bound <= value < bound:
            raise InvalidValue(f"int{bits}", value, "out of range", f"use |x| < 2**{bits - 1}")
        return value.to_bytes(32, "big", signed=True)

    return encode


def _bytes_n_encoder(size: int) -> Encoder:
    def encode(value: Any) -> bytes:
        raw = _as_bytes(value, f"bytes{size}")
        if len(raw) != size:
            raise InvalidValue(f"bytes{size}", value, f"it is {len(raw)} bytes", f"give {size}")
        return raw.ljust(32, b"\x00")

    return encode


def _encode_address(value: Any) -> bytes:
    address = Address.from_hex(value) if isinstance(value, str) else Address(value)
    return bytes(12) + address


def _encode_bool(value: Any) -> bytes:
    if not isinstance(value, bool):
        raise InvalidValue("bool", value, "it is not true or false", "pass a boolean")
    return (1 if value else 0).to_bytes(32, "big")


def _encode_string(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidValue("string", value, "it is not text", "pass a str")
    try:
        return keccak256(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, as JSON's "\ud800" decodes to
        raise InvalidValue(
            "string", value, "it is not Unicode text (a lone surrogate)", "pass valid text"
        ) from None


def _encode_dynamic_bytes(value: Any) -> bytes:
    return keccak256(_as_bytes(value, "bytes"))


def _as_bytes(value: Any, kind: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise InvalidValue(kind, value, "it is not bytes or 0x-prefixed hex", "pass bytes")
