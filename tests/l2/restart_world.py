"""Accounts shared by the crashing node process and the test that restarts it."""

from __future__ import annotations

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.envelope import Envelope, seal
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei
from l2gpu.node.cosigners import LocalCoSigner

# anvil's first five dev keys; 0 proposes and collects fees, 1-4 are users.
ANVIL_KEYS_ALL = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
]


def cosigners_and_keys() -> tuple[dict[int, LocalCoSigner], list[PrivateKey]]:
    """Co-signers that approve whatever transfers :func:`envelopes` makes."""
    keys = [PrivateKey.from_hex(k) for k in ANVIL_KEYS_ALL]
    cosigners = {i: _Approving(i, BlsSecretKey.from_seed(k.secret)) for i, k in enumerate(keys)}
    return cosigners, keys


class _Approving(LocalCoSigner):
    """Approves every transfer sent in its name (the test's users always agree)."""

    def cosign(self, message, commitment, mine):  # type: ignore[no-untyped-def]
        return self.key.sign(message)


def envelopes(node, count: int, amount: Wei) -> list[Envelope]:  # type: ignore[no-untyped-def]
    """``count`` transfers round-robin among users 1-4, signed with the next nonces."""
    _, keys = cosigners_and_keys()
    nonces = {i: node.state.accounts[i].nonce for i in range(1, 5)}
    out = []
    for j in range(count):
        sender, to = 1 + j % 4, 1 + (j + 1) % 4
        tx = Transfer(sender, to, amount, Wei(0))
        out.append(seal(keys[sender], node.sequencer.domain, tx, nonces[sender]))
        nonces[sender] += 1
    return out
