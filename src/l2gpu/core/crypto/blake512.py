"""BLAKE-512, the SHA-3 finalist (not BLAKE2b), as circomlib's EdDSA uses it.

circomlibjs derives an EdDSA key's scalar and each signature's nonce with the
``blake-hash`` npm package's ``blake512``: the original BLAKE of Aumasson, Henzen,
Meier and Phan (2008, final round version with 16 rounds). Python's ``hashlib``
has only BLAKE2, and PyPI has no maintained BLAKE-512 (a ``blake256`` package from
2018 and BLAKE2/BLAKE3 bindings), so it is written out here from the specification
and checked against the specification's test vectors and another implementation
(``tests/zk/test_blake512.py``). Speed does not matter: it runs once per key and
once per signature, on less than 100 bytes.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1

_IV = (
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
)  # fmt: skip
"""The initial value: SHA-512's."""

_C = (
    0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89,
    0x452821E638D01377, 0xBE5466CF34E90C6C, 0xC0AC29B7C97C50DD, 0x3F84D5B5B5470917,
    0x9216D5D98979FB1B, 0xD1310BA698DFB5AC, 0x2FFD72DBD01ADFB7, 0xB8E1AFED6A267E96,
    0xBA7C9045F12C7F99, 0x24A19947B3916CF7, 0x0801F2E2858EFC16, 0x636920D871574E69,
)  # fmt: skip
"""The round constants: the first 1024 bits of the fractional part of pi."""

_SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)
"""The message-word permutations; round r uses ``_SIGMA[r % 10]``."""

_ROUNDS = 16
_BLOCK = 128
_STEPS = (  # the G function's four state words: four columns, then four diagonals
    (0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
    (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14),
)  # fmt: skip


def blake512(data: bytes) -> bytes:
    """The 64-byte BLAKE-512 digest of ``data`` (no salt)."""
    bit_length = 8 * len(data)
    padded = _pad(data)
    h = list(_IV)
    for offset in range(0, len(padded), _BLOCK):
        # The counter is the message bits hashed up to the end of this block; a block
        # holding padding only counts zero.
        counter = min(bit_length, 8 * (offset + _BLOCK)) if 8 * offset < bit_length else 0
        h = _compress(h, padded[offset : offset + _BLOCK], counter)
    return b"".join(word.to_bytes(8, "big") for word in h)


def _pad(data: bytes) -> bytes:
    """The message, a 1 bit, zeros, a 1 bit, and the length in bits (128-bit big endian),
    to a multiple of 128 bytes."""
    zeros = (111 - len(data)) % _BLOCK
    # When one byte of padding is all that fits, the two 1 bits share it.
    tail = b"\x81" if zeros == 0 else b"\x80" + bytes(zeros - 1) + b"\x01"
    return data + tail + (8 * len(data)).to_bytes(16, "big")


def _compress(h: list[int], block: bytes, counter: int) -> list[int]:
    m = [int.from_bytes(block[i : i + 8], "big") for i in range(0, _BLOCK, 8)]
    low, high = counter & _MASK, counter >> 64
    v = [
        *h,
        _C[0], _C[1], _C[2], _C[3],
        low ^ _C[4], low ^ _C[5], high ^ _C[6], high ^ _C[7],
    ]  # fmt: skip
    for r in range(_ROUNDS):
        sigma = _SIGMA[r % 10]
        for i, (a, b, c, d) in enumerate(_STEPS):
            x, y = sigma[2 * i], sigma[2 * i + 1]
            v[a] = (v[a] + v[b] + (m[x] ^ _C[y])) & _MASK
            v[d] = _rotr(v[d] ^ v[a], 32)
            v[c] = (v[c] + v[d]) & _MASK
            v[b] = _rotr(v[b] ^ v[c], 25)
            v[a] = (v[a] + v[b] + (m[y] ^ _C[x])) & _MASK
            v[d] = _rotr(v[d] ^ v[a], 16)
            v[c] = (v[c] + v[d]) & _MASK
            v[b] = _rotr(v[b] ^ v[c], 11)
    return [h[i] ^ v[i] ^ v[i + 8] for i in range(8)]


def _rotr(word: int, bits: int) -> int:
    return ((word >> bits) | (word << (64 - bits))) & _MASK


__all__ = ["blake512"]
