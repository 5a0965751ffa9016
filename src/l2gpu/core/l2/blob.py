"""Packing batch bytes into one EIP-4844 blob, and back.

A blob is 4,096 field elements of 32 bytes, each below the BLS12-381 scalar field
modulus. Writing 31 data bytes after a zero byte in each element keeps every
element valid: 126,976 usable bytes. The first 4 bytes hold the data length.
"""

from __future__ import annotations

from l2gpu.core.errors import L2gpuError

FIELD_ELEMENTS = 4096
BLOB_SIZE = FIELD_ELEMENTS * 32
USABLE_PER_ELEMENT = 31
MAX_DATA = FIELD_ELEMENTS * USABLE_PER_ELEMENT - 4


class BlobError(L2gpuError):
    """Data that does not fit a blob, or a blob that does not decode."""


def to_blob(data: bytes) -> bytes:
    """The blob carrying ``data`` (at most 126,972 bytes)."""
    if len(data) > MAX_DATA:
        raise BlobError(f"{len(data)} bytes do not fit one blob", f"split batches below {MAX_DATA}")
    payload = len(data).to_bytes(4, "big") + data
    blob = bytearray(BLOB_SIZE)
    for element, start in enumerate(range(0, len(payload), USABLE_PER_ELEMENT)):
        chunk = payload[start : start + USABLE_PER_ELEMENT]
        blob[element * 32 + 1 : element * 32 + 1 + len(chunk)] = chunk
    return bytes(blob)


def from_blob(blob: bytes) -> bytes:
    """The data :func:`to_blob` packed."""
    if len(blob) != BLOB_SIZE:
        raise BlobError(f"a blob is {BLOB_SIZE} bytes, got {len(blob)}")
    payload = b"".join(blob[i * 32 + 1 : i * 32 + 32] for i in range(FIELD_ELEMENTS))
    length = int.from_bytes(payload[:4], "big")
    if length > MAX_DATA:
        raise BlobError("the blob's length prefix is out of range")
    return payload[4 : 4 + length]
