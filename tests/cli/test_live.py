"""The live line of ``rent`` and ``jobs logs -f``, and the progress bars: what they
print on a terminal, what they print anywhere else, and that ``--json`` stays clean.

Time is simulated: the clock and the sleep are arguments, never the wall's."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from l2gpu.cli.live import LiveLine, follow_lease, lease_line, progress_bars, stage, voucher_lag
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.progress import no_progress

PRICE = 10**15  # wei per GPU-second
GPUS = 2
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _Terminal(io.StringIO):
    """A stdout that says it is a terminal (the one stderr draws on)."""

    def isatty(self) -> bool:
        return True


def _info(status: LeaseStatus = LeaseStatus.RUNNING, seconds: int = 42, vouched: int = 40):
    # Only what lease_line reads of a LeasePublic.
    return SimpleNamespace(
        id=7,
        status=status,
        metered_seconds=seconds,
        price_per_gpu_second=PRICE,
        num_gpus=GPUS,
        voucher=SimpleNamespace(amount=vouched * PRICE * GPUS),
        channel=SimpleNamespace(deposit=10**18),
    )


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200), buffer


def _pipe() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_voucher_lag_counts_metered_seconds_no_voucher_pays_for() -> None:
    assert voucher_lag(42, 40 * PRICE, PRICE) == 2
    assert voucher_lag(42, 42 * PRICE, PRICE) == 0
    assert voucher_lag(42, 42 * PRICE - 1, PRICE) == 1  # a part-second is not paid
    assert voucher_lag(10, 50 * PRICE, PRICE) == 0  # ahead of the meter: no lag
    assert voucher_lag(10, 0, 0) == 0  # a free lease never lags


def test_the_line_shows_seconds_spend_deposit_left_and_lag() -> None:
    line = lease_line(_info())  # type: ignore[arg-type]
    assert (line.seconds, line.spent, line.lag) == (42, 80 * PRICE, 2)
    assert line.plain() == (
        "lease 7 running 42 s, spent 0.08 ETH, voucher lag 2 s, deposit left 0.92 ETH"
    )
    # The renter's own best voucher, newer than the market's copy, is what it spent.
    info: Any = _info()
    mine = lease_line(info, spent=42 * PRICE * GPUS, deposit=2 * 10**18)
    assert (mine.lag, mine.left) == (0, 2 * 10**18 - 84 * PRICE)


def test_a_terminal_gets_the_line_drawn_with_rich() -> None:
    console, buffer = _terminal()
    with LiveLine(console=console, out=io.StringIO()) as live:
        live.show(lease_line(_info()))  # type: ignore[arg-type]
        drawn = buffer.getvalue()
    assert "\x1b[" in drawn  # colours and cursor moves: a terminal's
    text = ANSI.sub("", drawn)
    assert "running" in text
    assert "42 s" in text
    assert "spent 0.08 ETH" in text
    assert "deposit left 0.92 ETH" in text
    assert "voucher lag 2 s" in text


def test_job_output_goes_above_the_line_in_whole_lines() -> None:
    console, buffer = _terminal()
    live = LiveLine(console=console, out=_Terminal())
    live.show(lease_line(_info()))  # type: ignore[arg-type]
    live.output("epoch 1 lo")
    assert "epoch 1" not in buffer.getvalue()  # half a line waits for its end
    live.output("ss 0.5\nepoch 2")
    assert "epoch 1 loss 0.5\n" in ANSI.sub("", buffer.getvalue())
    live.close()
    assert "epoch 2\n" in ANSI.sub("", buffer.getvalue())
    # stdout elsewhere (a file, a pipe): the output goes there as it comes
    console, buffer = _terminal()
    out = io.StringIO()
    live = LiveLine(console=console, out=out)
    live.show(lease_line(_info()))  # type: ignore[arg-type]
    live.output("partial")
    assert out.getvalue() == "partial"
    assert "partial" not in buffer.getvalue()
    live.close()


def test_off_a_terminal_plain_lines_come_every_ten_seconds_and_on_changes() -> None:
    console, buffer = _pipe()
    now = [0.0]
    live = LiveLine(console=console, out=io.StringIO(), clock=lambda: now[0])
    for second in range(25):  # a lease that runs 25 s, shown every second
        now[0] = float(second)
        live.show(lease_line(_info(seconds=second, vouched=second)))  # type: ignore[arg-type]
    now[0] = 25.0
    waiting: Any = _info(seconds=25, vouched=25)
    live.show(lease_line(waiting, note="waiting: market down"))
    now[0] = 26.0
    ended: Any = _info(LeaseStatus.ENDED, seconds=25, vouched=25)
    live.show(lease_line(ended))
    live.close()
    lines = buffer.getvalue().splitlines()
    assert [line.split()[3] for line in lines] == ["0", "10", "20", "25", "25"]
    assert "(waiting: market down)" in lines[3]
    assert lines[4].startswith("lease 7 ended 25 s, spent 0.05 ETH")
    assert "\x1b" not in buffer.getvalue()
    assert "\r" not in buffer.getvalue()


class _Market:
    """A market whose lease runs for three reads, then ends; its output is paged."""

    def __init__(self) -> None:
        self.reads = 0
        self.output = ["step 1\n", "step 2\n", "step 3\n", "done\n"]

    def lease(self, lease_id: int):
        self.reads += 1
        status = LeaseStatus.RUNNING if self.reads < 3 else LeaseStatus.ENDED
        return _info(status, seconds=10 * self.reads, vouched=10 * self.reads - 1)

    def logs(self, lease_id: int, after: int = 0):
        # one chunk per read: the end's output needs reads after the lease is final
        ready = self.output[: self.reads + 1]
        chunks = [SimpleNamespace(seq=i + 1, text=t) for i, t in enumerate(ready)][after:]
        return SimpleNamespace(chunks=chunks[:1], done=self.reads >= 3)


def test_jobs_logs_follow_streams_output_under_the_line_until_the_lease_is_final() -> None:
    console, buffer = _pipe()
    market, out, slept = _Market(), io.StringIO(), []
    live = LiveLine(console=console, out=out, clock=lambda: 0.0)
    last = follow_lease(market, 7, live, sleep=slept.append)  # type: ignore[arg-type]
    live.close()
    assert last.status is LeaseStatus.ENDED
    assert out.getvalue() == "step 1\nstep 2\nstep 3\ndone\n"
    assert slept == [1.0, 1.0]  # none once the lease is final: the rest is read at once
    lines = buffer.getvalue().splitlines()
    assert lines[0] == (
        "lease 7 running 10 s, spent 0.018 ETH, voucher lag 1 s, deposit left 0.982 ETH"
    )
    assert lines[-1].startswith("lease 7 ended ")


def test_progress_bars_draw_on_a_terminal_only_and_never_with_json() -> None:
    console, buffer = _terminal()
    with progress_bars(console=console) as on_progress:
        for done in range(5):
            on_progress(done, 4, "replay philly under fifo")
        with stage(on_progress, "compile circuit batch"):
            pass
    text = ANSI.sub("", buffer.getvalue())
    assert "replay philly under fifo" in text
    assert "4/4" in text
    assert "compile circuit batch" in text
    assert "1/1" in text
    for console, buffer, enabled in ((*_terminal(), False), (*_pipe(), True)):
        with progress_bars(enabled=enabled, console=console) as on_progress:
            assert on_progress is no_progress
            on_progress(1, 2, "backtest")
        assert buffer.getvalue() == ""
