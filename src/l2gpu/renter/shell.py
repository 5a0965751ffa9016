"""The renter's side of ``l2gpu ssh``: a shell (or one command) inside a running lease's
sandbox, relayed by the market from the provider's agent (:mod:`l2gpu.api.shell_relay`).

With no command the shell runs under a terminal on the provider's side; when this
side's input is a terminal it is put in raw mode (every key, Ctrl-C included, goes to
the remote shell) and restored on the way out, whatever the way out (an error, the
relay closing, a signal); the window's size follows the local terminal (SIGWINCH).
With a command, it runs over pipes: its output and errors come back apart, and its
exit code is what :func:`run_shell` returns, as ``ssh HOST COMMAND`` does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import BinaryIO

from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.shell import (
    ANSWER_WITHIN_S,
    MAX_COMMAND,
    STDERR,
    STDIN,
    ShellRequest,
    sign_shell,
)
from l2gpu.shell_link import ShellLink, open_link

CLOSED_WITHOUT_EXIT = 255
"""The exit status when the session ended without the shell's own (as ssh's)."""
READ_BYTES = 16 * 1024


def shell_request(
    client: MarketClient,
    lease_id: int,
    command: list[str],
    *,
    issued_at: int,
    size: tuple[int, int],
) -> ShellRequest:
    """The signed opening request: ``command``'s words quoted for ``/bin/sh -c`` (so
    each reaches the remote side as one word, unlike ssh, which joins them)."""
    text = shlex.join(command) if command else ""
    if len(text) > MAX_COMMAND:
        raise L2gpuError(
            f"the command is {len(text)} characters, over {MAX_COMMAND}",
            "put it in a script in the job's folder and run that",
        )
    nonce = secrets.token_hex(16)
    signature = sign_shell(client.key, lease_id, text, nonce, issued_at)
    term = os.environ.get("TERM", "xterm")
    term = term if term.replace("-", "").isalnum() and len(term) <= 32 else "xterm"
    return ShellRequest(lease_id, text, nonce, issued_at, signature, *size, term)


def run_shell(
    client: MarketClient,
    lease_id: int,
    command: list[str],
    *,
    issued_at: int,
    stdin: int = 0,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
) -> int:
    """Open the shell, relay it until it ends; its exit code. An :class:`L2gpuError`
    says why the market or the agent refused it."""
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr.buffer
    size = shutil.get_terminal_size((80, 24))
    request = shell_request(
        client, lease_id, command, issued_at=issued_at, size=(size.lines, size.columns)
    )
    link = open_link(client, f"/jobs/{lease_id}/shell")
    try:
        link.send_control(**request.to_json())
        _await_ready(link, lease_id)
        raw = request.interactive and os.isatty(stdin)
        with _raw(stdin, raw), _resizing(link, raw):
            threading.Thread(target=_send_input, args=(link, stdin), daemon=True).start()
            return _receive(link, out, err)
    finally:
        link.close()


def _await_ready(link: ShellLink, lease_id: int) -> None:
    try:
        first = link.receive(ANSWER_WITHIN_S + 10)
    except TimeoutError:
        first = None
    if not isinstance(first, dict) or first.get("kind") != "ready":
        raise L2gpuError(
            f"lease {lease_id}'s shell did not open",
            "check that the lease runs ('l2gpu jobs list') and try again",
        )


def _receive(link: ShellLink, out: BinaryIO, err: BinaryIO) -> int:
    while True:
        try:
            message = link.receive(0.5)
        except TimeoutError:  # wake up now and then: a window's resize is sent between
            continue
        if message is None:
            return CLOSED_WITHOUT_EXIT
        if isinstance(message, tuple):
            sink = err if message[0] == STDERR else out
            sink.write(message[1])
            sink.flush()
        elif message.get("kind") == "exit":
            code = message.get("code")
            return code if isinstance(code, int) and 0 <= code < 256 else CLOSED_WITHOUT_EXIT


def _send_input(link: ShellLink, stdin: int) -> None:
    """This side's input to the shell, then end-of-input (a thread: reading blocks)."""
    with contextlib.suppress(OSError, L2gpuError, Exception):
        while True:
            data = os.read(stdin, READ_BYTES)
            if not data:
                link.send_control("eof")
                return
            link.send_data(STDIN, data)


@contextlib.contextmanager
def _raw(fd: int, raw: bool) -> Iterator[None]:
    """The terminal in raw mode (keys go through as typed), restored on any exit."""
    if not raw:
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resizing(link: ShellLink, on: bool) -> Iterator[None]:
    """Send the window's new size whenever the local terminal is resized."""
    if not on or threading.current_thread() is not threading.main_thread():
        yield
        return

    def resized(_signum: int, _frame: object) -> None:
        size = shutil.get_terminal_size((80, 24))
        with contextlib.suppress(Exception):
            link.send_control("resize", rows=size.lines, cols=size.columns)

    before = signal.signal(signal.SIGWINCH, resized)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, before)
