"""The root of l2gpu's exception tree.

Every error a user can cause derives from :class:`L2gpuError` and carries two
parts: what was wrong and what to do about it. Shells print ``str(error)`` and
exit with status 2; nothing a user typed ever ends in a traceback.

    L2gpuError
    ├── InvalidValue          a value (address, key, amount, URL, setting) is malformed
    ├── SignatureError        a signature does not parse or does not verify
    ├── RuleViolation         an input a protocol's rules reject; ``reason`` names the rule
    │   (ChannelError, L2Error, CodecError: reasons equal the contracts' revert strings)
    └── (shell errors)        l2gpu.l1.errors, l2gpu.config ... extend this tree
"""

from __future__ import annotations


class L2gpuError(Exception):
    """An error with a message for the user: what was wrong, then what to do."""

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; {fix}" if fix else what)


class InvalidValue(L2gpuError, ValueError):
    """A value given by a user or a peer is malformed."""

    def __init__(
        self, kind: str, value: object, problem: str, fix: str, *, secret: bool = False
    ) -> None:
        self.kind = kind
        # A secret (a private key, a password) is never echoed back, not even in part.
        if secret:
            shown = "(hidden)"
        elif isinstance(value, str):
            shown = _shorten(f"'{value}'")
        else:
            shown = _shorten(repr(value))
        super().__init__(f"invalid {kind} {shown}: {problem}", fix)


class SignatureError(L2gpuError):
    """A signature is malformed or was not made by the expected signer."""


class RuleViolation(L2gpuError):
    """An input that a protocol's rules reject. ``reason`` is the rule's name, the same
    string the matching contract reverts with, so that vectors can compare the two."""

    def __init__(self, reason: str, fix: str = "") -> None:
        self.reason = reason
        super().__init__(reason, fix)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
