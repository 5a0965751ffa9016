"""A user's CSV as validated time series: the way into ``adoption`` and ``forecast``.

Users bring their own data, so every way a file can be wrong ends in an
:class:`~l2gpu.core.errors.L2gpuError` that names the file, the column or the row,
and says what to do. Nothing here returns half-parsed data.

A time column holds either dates (any format pandas reads) or numbers. Whole
numbers between 1500 and 2500 are read as calendar years, so that a yearly series
such as ``year,sales`` still reports segment dates as ISO dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from l2gpu.core.errors import L2gpuError

# Day lengths of the calendar steps we recognize; months and years use calendar
# arithmetic because their length in days varies.
_MONTHS_BY_DAYS = ((28, 31, 1), (89, 92, 3), (365, 366, 12))


@dataclass(frozen=True)
class TimeAxis:
    """Maps time values to positions (periods since the first value) and back.

    ``kind`` is ``"datetime"``, ``"year"`` (numbers read as calendar years) or
    ``"number"``. For datetimes, ``months`` > 0 means a calendar step of that many
    months; otherwise ``step`` is a fixed pandas Timedelta. For numbers ``step``
    is a float.
    """

    kind: str
    start: pd.Timestamp | float
    step: pd.Timedelta | float
    months: int = 0

    def positions(self, values: pd.Series) -> np.ndarray:
        """Periods since ``start`` (0.0 for the first value) as floats."""
        if self.kind != "datetime":
            return (values.to_numpy(dtype=float) - float(self.start)) / float(self.step)  # type: ignore[arg-type]
        start = pd.Timestamp(self.start)
        if self.months:
            stamps = pd.DatetimeIndex(values)
            months = (stamps.year - start.year) * 12 + (stamps.month - start.month)
            return np.asarray(months, dtype=float) / self.months
        return np.asarray((pd.DatetimeIndex(values) - start) / pd.Timedelta(self.step), dtype=float)

    def value_at(self, position: float) -> pd.Timestamp | float:
        """The time value at a (possibly fractional) position."""
        if self.kind != "datetime":
            return float(self.start) + position * float(self.step)  # type: ignore[arg-type]
        start = pd.Timestamp(self.start)
        if not self.months:
            return start + position * pd.Timedelta(self.step)
        whole = int(np.floor(position))
        left = start + pd.DateOffset(months=whole * self.months)
        right = start + pd.DateOffset(months=(whole + 1) * self.months)
        return left + (position - whole) * (right - left)

    def label(self, position: float, *, date_only: bool = False) -> str:
        """ISO-8601 text for a position; calendar years become dates too."""
        value = self.value_at(position)
        if self.kind == "number":
            return f"{float(value):.6g}"
        if self.kind == "year":
            year = float(value)
            whole = int(np.floor(year))
            stamp = pd.Timestamp(year=whole, month=1, day=1) + pd.Timedelta(
                days=(year - whole) * 365.25
            )
        else:
            stamp = pd.Timestamp(value)
        coarse = self.kind == "year" or self.months > 0 or self.step >= pd.Timedelta(days=1)
        if date_only or (coarse and stamp == stamp.normalize()):
            return stamp.date().isoformat()
        return stamp.isoformat()

    @property
    def pandas_freq(self) -> str:
        """A pandas frequency alias for the step (used by statsforecast)."""
        if self.kind != "datetime":
            return "1"
        if self.months:
            return {1: "MS", 3: "QS", 12: "YS"}.get(self.months, f"{self.months}MS")
        return pd.tseries.frequencies.to_offset(pd.Timedelta(self.step)).freqstr


@dataclass(frozen=True)
class Series:
    """One validated series: positions ``t`` (periods since start), values ``y``."""

    name: str
    axis: TimeAxis
    t: np.ndarray
    y: np.ndarray


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a CSV (plain or .gz) or fail with a message saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise L2gpuError(f"file '{path}' not found", "check the path and try again")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise L2gpuError(f"file '{path}' is empty", "give a CSV with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2gpuError(
            f"file '{path}' is not a readable CSV ({reason})", "fix the file"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def require_columns(frame: pd.DataFrame, path: Path | str, *columns: str | None) -> None:
    """Fail unless every named column is in the table."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise L2gpuError(
            f"file '{path}' has no column {', '.join(repr(c) for c in missing)}",
            f"choose from: {', '.join(frame.columns)}",
        )


def parse_times(raw: pd.Series, path: Path | str, column: str) -> tuple[pd.Series, str]:
    """Parse a time column to datetimes or numbers; returns (values, kind)."""
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all() and len(raw):
        whole = bool(np.all(np.mod(numbers, 1) == 0))
        is_year = whole and bool(numbers.between(1500, 2500).all())
        return numbers.astype(float), "year" if is_year else "number"
    stamps = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise L2gpuError(
            f"file '{path}', column '{column}', row {row + 2}: cannot read "
            f"'{raw.iloc[row]}' as a date or a number",
            "write times as ISO dates (2023-06-30), timestamps or plain numbers",
        )
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps, "datetime"


def infer_axis(values: pd.Series, kind: str) -> TimeAxis:
    """The regular step of sorted, distinct time values (the median gap)."""
    if kind != "datetime":
        gaps = np.diff(values.to_numpy(dtype=float))
        return TimeAxis(kind, float(values.iloc[0]), float(np.median(gaps)))
    stamps = pd.DatetimeIndex(values)
    gap = pd.Series(stamps[1:] - stamps[:-1]).median()
    days = gap / pd.Timedelta(days=1)
    for low, high, months in _MONTHS_BY_DAYS:
        if low <= days <= high:
            return TimeAxis("datetime", stamps[0], pd.Timedelta(0), months)
    return TimeAxis("datetime", stamps[0], pd.Timedelta(gap))


def read_series(
    path: Path | str,
    time_col: str,
    value_col: str,
    *,
    group_col: str | None = None,
    min_points: int = 5,
    skipped: list[str] | None = None,
) -> dict[str, Series]:
    """Read ``value_col`` over ``time_col`` (one series per ``group_col`` value).

    Empty value cells are skipped (data sets have gaps); text in a value cell,
    unparsable times and repeated times are errors. A series shorter than
    ``min_points`` is an error, unless ``skipped`` is given: then short groups
    are left out and named there, and only a file with no long enough group fails.
    """
    frame = read_table(path)
    require_columns(frame, path, time_col, value_col, group_col)
    if frame.empty:
        raise L2gpuError(f"file '{path}' has a header but no rows", "add data rows")
    values = pd.to_numeric(frame[value_col], errors="coerce")
    bad = values.isna() & frame[value_col].notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise L2gpuError(
            f"file '{path}', column '{value_col}', row {row + 2}: "
            f"'{frame[value_col].iloc[row]}' is not a number",
            "the value column must hold numbers (empty cells are skipped)",
        )
    times, kind = parse_times(frame[time_col], path, time_col)
    table = pd.DataFrame({"time": times, "value": values})
    table["group"] = frame[group_col].astype(str) if group_col else value_col
    result: dict[str, Series] = {}
    for group, part in table.groupby("group", sort=True):
        part = part.dropna(subset=["value"]).sort_values("time")
        if part["time"].duplicated().any():
            repeated = part["time"][part["time"].duplicated()].iloc[0]
            raise L2gpuError(
                f"file '{path}': time {repeated} appears twice in series '{group}'",
                "give one row per time, or name the column that tells series apart "
                "with --group-col",
            )
        if len(part) < min_points:
            if skipped is not None:
                skipped.append(f"{group} ({len(part)} points)")
                continue
            raise L2gpuError(
                f"file '{path}': series '{group}' has {len(part)} usable points, "
                f"fewer than the {min_points} needed",
                "give a longer series",
            )
        axis = infer_axis(part["time"], kind)
        result[str(group)] = Series(
            str(group), axis, axis.positions(part["time"]), part["value"].to_numpy(float)
        )
    return result


def position_of(axis: TimeAxis, text: str) -> float:
    """The position of a time given as text (a date for date axes, else a number)."""
    try:
        if axis.kind == "datetime":
            stamp = pd.Timestamp(text)
            return float(axis.positions(pd.Series([stamp]))[0])
        return float(axis.positions(pd.Series([float(text)]))[0])
    except (ValueError, TypeError):
        kind = "a date" if axis.kind == "datetime" else "a number"
        raise L2gpuError(f"cannot read '{text}' as {kind}", f"give --until as {kind}") from None


def resample(series: Series, freq: str, how: str = "mean") -> Series:
    """The series on a regular calendar grid of ``freq`` (mean or sum per bin)."""
    if series.axis.kind != "datetime":
        raise L2gpuError("--freq needs a time column of dates", "drop --freq for numeric times")
    times = pd.DatetimeIndex([series.axis.value_at(float(p)) for p in series.t])
    try:
        binned = pd.Series(series.y, index=times).resample(freq)
    except ValueError:
        raise L2gpuError(
            f"unknown frequency '{freq}'", "use a pandas alias: min, h, D, W, MS"
        ) from None
    values = binned.sum() if how == "sum" else binned.mean().interpolate()
    axis = TimeAxis("datetime", values.index[0], pd.Timedelta(0))
    step = pd.tseries.frequencies.to_offset(freq)
    months = {"MS": 1, "ME": 1, "QS": 3, "YS": 12}.get(step.name, 0) * step.n
    if months:
        axis = TimeAxis("datetime", values.index[0], pd.Timedelta(0), months)
    else:
        axis = TimeAxis("datetime", values.index[0], pd.Timedelta(step))
    return Series(
        series.name, axis, axis.positions(pd.Series(values.index)), values.to_numpy(float)
    )


_SEASONS = {"h": 24, "30min": 48, "D": 7, "W": 52, "MS": 12, "QS": 4, "YS": 1}


def season_for(freq: str) -> int:
    """The natural season of a frequency (1 when it has none we know)."""
    key = freq.split("-")[0]
    if key.startswith("W"):
        key = "W"
    return _SEASONS.get(key, 1)
