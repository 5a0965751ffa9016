"""Signed-in browsers: an opaque cookie names a server-side session holding the
market token, the address and the session's CSRF token.

Bounded: at most ``capacity`` sessions (the least recently used go first) and each
lives ``ttl`` seconds; an expired one is gone, and its page asks to sign in again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from l2gpu.core.types import Address

COOKIE = "l2gpu_console"
TTL_S = 3600.0
CAPACITY = 10_000


@dataclass(frozen=True)
class WebSession:
    """One signed-in browser."""

    sid: str
    address: Address
    token: str
    csrf: str
    expires_at: float
    dev: bool
    """Signed in with the console's development wallet (demo only): it can rent."""


class SessionStore:
    """The console's sessions, in memory (see the module)."""

    def __init__(
        self, *, ttl: float = TTL_S, capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.ttl, self.capacity, self.clock = ttl, capacity, clock
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, address: Address, token: str, *, dev: bool) -> WebSession:
        """A new session for ``address`` holding its market ``token``."""
        session = WebSession(secrets.token_urlsafe(32), address, token,
                             secrets.token_urlsafe(32), self.clock() + self.ttl, dev)  # fmt: skip
        with self._lock:
            self._sessions[session.sid] = session
            while len(self._sessions) > self.capacity:
                self._sessions.popitem(last=False)
        return session

    def get(self, sid: str | None) -> WebSession | None:
        """The live session of cookie value ``sid``; None when unknown or expired."""
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[sid]
                return None
            self._sessions.move_to_end(sid)
            return session

    def drop(self, sid: str | None) -> None:
        """Sign out."""
        with self._lock:
            self._sessions.pop(sid or "", None)
