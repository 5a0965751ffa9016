"""What the CLI shows while it waits: a lease's live line and progress bars, on stderr.

On a terminal the live line is drawn with rich and redrawn in place every second,
with the job's output printed above it; anywhere else (a pipe, a log file, CI, a
test) there are no cursor tricks: :class:`LiveLine` prints the same line as plain
text when the status changes and at most every :data:`PLAIN_EVERY_S` seconds
otherwise, so that logs stay readable.

:func:`progress_bars` yields an :data:`~l2gpu.core.progress.OnProgress` callback that
draws one rich bar per label on a terminal and does nothing elsewhere (or with
``--json``): analytics and core code take that callback and never import rich.

rich is imported inside the functions that draw: ``l2gpu --help`` imports every
command module, and this one with them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from l2gpu.core.progress import OnProgress, no_progress
from l2gpu.core.types import format_wei

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.progress import TaskID
    from rich.text import Text

    from l2gpu.client import MarketClient
    from l2gpu.wire import LeasePublic

PLAIN_EVERY_S = 10.0
"""Off a terminal, the live line is printed again at most this often (and on a change
of status), so that a day-long lease leaves a readable log."""


def voucher_lag(metered_seconds: int, voucher_amount: int, price_per_second: int) -> int:
    """Seconds by which the best voucher signed (``voucher_amount`` wei) is behind the
    provider's meter: metered seconds the voucher does not pay for, 0 when it covers
    them all (or the lease is free)."""
    if price_per_second <= 0:
        return 0
    return max(0, metered_seconds - voucher_amount // price_per_second)


@dataclass(frozen=True)
class LeaseLine:
    """One state of a lease's live line: status, seconds metered, wei spent (the best
    voucher), the deposit, the voucher lag in seconds, and a note (an outage)."""

    lease_id: int
    status: str
    seconds: int
    spent: int
    deposit: int
    lag: int
    note: str = ""

    @property
    def left(self) -> int:
        """Wei of the deposit not yet spent."""
        return max(0, self.deposit - self.spent)

    def plain(self) -> str:
        """The line as plain text, e.g. ``lease 7 running 42 s, spent 0.08 ETH, voucher
        lag 2 s, deposit left 0.92 ETH``."""
        text = (
            f"lease {self.lease_id} {self.status} {self.seconds} s, spent "
            f"{format_wei(self.spent)}, voucher lag {self.lag} s, deposit left "
            f"{format_wei(self.left)}"
        )
        return f"{text} ({self.note})" if self.note else text

    def rich(self) -> Text:
        """The line for a terminal: the same figures, the lag in colour as it grows; cut
        short at the terminal's edge (the deposit left first), never wrapped."""
        from rich.text import Text

        lag_style = "green" if self.lag <= 1 else "yellow" if self.lag <= 5 else "bold red"
        line = Text.assemble(
            (f"lease {self.lease_id} ", "dim"),
            (self.status, "bold"),
            f" {self.seconds} s  spent ",
            (format_wei(self.spent), "cyan"),
            "  voucher lag ",
            (f"{self.lag} s", lag_style),
            "  deposit left ",
            format_wei(self.left),
            no_wrap=True,
            overflow="ellipsis",
        )
        if self.note:
            line.append(f"  {self.note}", style="yellow")
        return line


def lease_line(
    info: LeasePublic, *, spent: int | None = None, deposit: int | None = None, note: str = ""
) -> LeaseLine:
    """The live line of ``info`` as the market returned it. ``spent`` is the best
    voucher the caller signed (a renter paying it knows it before the market does;
    default: the voucher the market holds) and ``deposit`` the channel's (default:
    the market's record of it)."""
    paid = int(info.voucher.amount) if spent is None else spent
    locked = int(info.channel.deposit) if deposit is None else deposit
    per_second = int(info.price_per_gpu_second) * info.num_gpus
    return LeaseLine(
        lease_id=info.id,
        status=info.status.value,
        seconds=info.metered_seconds,
        spent=paid,
        deposit=locked,
        lag=voucher_lag(info.metered_seconds, paid, per_second),
        note=note,
    )


def stderr_console() -> Console:
    """A rich console on stderr: a terminal's gets colours and cursor moves, any other
    file plain text."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class LiveLine:
    """A lease's live line under the job's output.

    On a terminal (``console.is_terminal``) the line is a rich ``Live`` redrawn on
    every :meth:`show`; :meth:`output` prints the job's text above it (through the
    console when stdout is that terminal as well, straight to ``out`` when stdout goes
    elsewhere). Off a terminal :meth:`show` prints :meth:`LeaseLine.plain` on a change
    of status or once ``every_s`` passed on ``clock`` since the last print.
    """

    def __init__(
        self,
        *,
        console: Console | None = None,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self.console = console if console is not None else stderr_console()
        self.out = out if out is not None else sys.stdout
        self.clock = clock
        self.every_s = every_s
        self.live: Live | None = None
        self.last: LeaseLine | None = None
        self.printed_at: float | None = None
        self.pending = ""  # output up to its next newline, held while the line is drawn

    @property
    def drawn(self) -> bool:
        """True where the line is redrawn in place (stderr is a terminal)."""
        return self.console.is_terminal

    def _shares_terminal(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def __enter__(self) -> LiveLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def show(self, line: LeaseLine) -> None:
        """Draw ``line`` (a terminal) or print it when it is due (anywhere else)."""
        before = self.last
        changed = before is None or (before.status, before.note) != (line.status, line.note)
        self.last = line
        if self.drawn:
            self._draw(line)
            return
        now = self.clock()
        if changed or self.printed_at is None or now - self.printed_at >= self.every_s:
            self.console.print(line.plain(), markup=False, highlight=False, soft_wrap=True)
            self.printed_at = now

    def _draw(self, line: LeaseLine) -> None:
        if self.live is None:
            from rich.live import Live

            self.live = Live(console=self.console, auto_refresh=False, transient=True,
                             redirect_stdout=False, redirect_stderr=False)  # fmt: skip
            self.live.start()
        self.live.update(line.rich(), refresh=True)

    def output(self, text: str) -> None:
        """Print the job's ``text`` on stdout, above the line where one is drawn."""
        if not text:
            return
        if self.live is None or not self._shares_terminal():
            self.out.write(text)
            self.out.flush()
            return
        # Whole lines only: the live line is redrawn below each one.
        self.pending += text
        done, sep, self.pending = self.pending.rpartition("\n")
        if sep:
            self._print_above(done + sep)

    def say(self, message: str) -> None:
        """Print a one-line ``message`` on stderr (above the line where one is drawn)."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def _print_above(self, text: str) -> None:
        from rich.text import Text

        assert self.live is not None
        self.live.console.print(Text(text), end="", soft_wrap=True)

    def close(self) -> None:
        """Take the line away (a terminal) and print what output was held back."""
        if self.live is not None:
            if self.pending:
                self._print_above(self.pending + "\n")
                self.pending = ""
            self.live.stop()
            self.live = None


@contextmanager
def progress_bars(*, enabled: bool = True, console: Console | None = None) -> Iterator[OnProgress]:
    """Yield an ``on_progress(done, total, label)`` that draws one bar per label on
    stderr while the block runs. Off a terminal, or with ``enabled`` False (``--json``),
    it is :func:`~l2gpu.core.progress.no_progress` and nothing is printed."""
    console = console if console is not None else stderr_console()
    if not enabled or not console.is_terminal:
        yield no_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console, transient=False) as bars:

        def on_progress(done: int, total: int, label: str) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(label, total=total)
            bars.update(tasks[label], completed=done, total=total)

        yield on_progress


@contextmanager
def waiting(label: str, *, console: Console | None = None, plain: bool = False) -> Iterator[None]:
    """Say on stderr what the block waits for (a transaction's inclusion, a batch, a
    proof): a spinner with ``label`` on a terminal, cleared when done. Off a terminal
    nothing is printed, as with :func:`progress_bars`: a log gets the result or the
    one-line error alone; with ``plain``, ``label`` is printed there once as a line (a
    wait of minutes for a node's batch, which a log should show). Never on stdout, so
    that ``--json`` output stays one object."""
    console = console if console is not None else stderr_console()
    if not console.is_terminal:
        if plain:
            console.print(label, markup=False, highlight=False, soft_wrap=True)
        yield
        return
    with console.status(label):
        yield


@contextmanager
def stage(on_progress: OnProgress, label: str) -> Iterator[None]:
    """Report ``label`` as one unit of work: begun (0 of 1) on entry, done on exit; a
    step with no progress of its own (a compile, a trusted setup, a proof) gets a bar."""
    on_progress(0, 1, label)
    yield
    on_progress(1, 1, label)


def follow_lease(
    client: MarketClient,
    lease_id: int,
    line: LiveLine,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 1.0,
) -> LeasePublic:
    """Print lease ``lease_id``'s output as it comes, with its live line (spend and
    voucher lag as the market reports them), until the lease is final and its output
    read to the end; return the lease as last read."""
    after = 0
    while True:
        # The lease before its output: once it reads final, the output read after it
        # is complete.
        info = client.lease(lease_id)
        page = client.logs(lease_id, after)
        for chunk in page.chunks:
            after = chunk.seq
            line.output(chunk.text)
        line.show(lease_line(info))
        if info.status.is_final:
            if not page.chunks:
                return info
            continue  # the rest of the output, at once
        sleep(poll_s)
