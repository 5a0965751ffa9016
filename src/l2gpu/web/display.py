"""How the console shows amounts and times: ether, local times, countdowns, and the
local days and hours that a provider's earnings are counted in.

Times are shown in the console's time zone (``tz``; None: the machine's own, which
is the user's: the console runs beside the browser). Countdowns are counted by the
caller from the clock that matters (the market's, or L1's for the rollup), never
from this machine's wall clock.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo

WEI_PER_ETH = 10**18
MINUTE, HOUR, DAY = 60, 3600, 86_400


def eth(wei: int) -> str:
    """``wei`` in ether, exactly, without trailing zeros: ``'0.0000036 ETH'``."""
    sign = "-" if wei < 0 else ""
    whole, fraction = divmod(abs(int(wei)), WEI_PER_ETH)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{sign}{whole}{'.' + digits if digits else ''} ETH"


def countdown(seconds: int) -> str:
    """A duration for people, its two largest units: ``'6 d 23 h'``, ``'4 min 10 s'``."""
    seconds = max(0, int(seconds))
    if seconds == 0:
        return "now"
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, MINUTE)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next(i for i, (count, _) in enumerate(parts) if count)
    shown = [f"{count} {unit}" for count, unit in parts[first : first + 2] if count]
    return " ".join(shown)


def local_time(timestamp: int, tz: tzinfo | None = None) -> str:
    """A Unix time as a local date and time with its zone: ``'2027-01-15 08:00:00 UTC'``."""
    if tz is None:
        return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(timestamp))
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def local_date(timestamp: int, tz: tzinfo | None = None) -> str:
    """The local date of a Unix time, with its weekday: ``'Fri 2027-01-15'``."""
    return datetime.fromtimestamp(timestamp, tz).strftime("%a %Y-%m-%d")


def local_hour(timestamp: int, tz: tzinfo | None = None) -> str:
    """The local hour a Unix time starts: ``'08:00'``."""
    return datetime.fromtimestamp(timestamp, tz).strftime("%H:%M")


def day_boundaries(now: int, days: int, tz: tzinfo | None = None) -> list[int]:
    """The starts of the last ``days`` local days (today last) and the next midnight:
    ``days + 1`` rising Unix times. Local midnights, so a day of a change to or from
    summer time is 23 or 25 hours long."""
    today = datetime.fromtimestamp(now, tz).date()
    first = today - timedelta(days=days - 1)
    return [
        int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())
        for d in (first + timedelta(days=i) for i in range(days + 1))
    ]


def hour_boundaries(now: int, hours: int, tz: tzinfo | None = None) -> list[int]:
    """The starts of the last ``hours`` local hours (this one last) and the next hour's."""
    local = datetime.fromtimestamp(now, tz)
    this_hour = int(local.replace(minute=0, second=0, microsecond=0).timestamp())
    return [this_hour - (hours - 1 - i) * HOUR for i in range(hours + 1)]
