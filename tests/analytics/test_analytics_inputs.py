"""Bad input files end in one 'error:' line and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.analytics.series import read_series
from l2gpu.core.errors import L2gpuError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "in.csv"
    path.write_text(text)
    return str(path)


GOOD = "date,v\n" + "".join(f"2024-01-{d:02d},{d * 3}\n" for d in range(1, 21))


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (None, ("--time-col", "date", "--value-col", "v"), "not found"),
        (GOOD, ("--time-col", "day", "--value-col", "v"), "no column 'day'"),
        (GOOD, ("--time-col", "date", "--value-col", "w"), "no column 'w'"),
        (
            "date,v\n2024-01-01,1\nnot a date,2\n" + GOOD[7:],
            ("--time-col", "date", "--value-col", "v"),
            "cannot read 'not a date'",
        ),
        (
            "date,v\n2024-01-01,1\n2024-01-02,x\n",
            ("--time-col", "date", "--value-col", "v"),
            "'x' is not a number",
        ),
        (
            "date,v\n2024-01-01,1\n2024-01-02,2\n",
            ("--time-col", "date", "--value-col", "v"),
            "fewer than",
        ),
        ("", ("--time-col", "date", "--value-col", "v"), "is empty"),
    ],
)
@pytest.mark.parametrize("command", [("adoption", "fit"), ("forecast",)])
def test_bad_files_are_rejected_with_a_message(tmp_path, cli, text, args, message, command):
    path = str(tmp_path / "missing.csv") if text is None else write(tmp_path, text)
    extra = ("--horizon", "3") if command == ("forecast",) else ()
    status, out, err = cli(*command, path, *args, *extra, "--json")
    assert status == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_repeated_times_ask_for_a_group_column(tmp_path):
    path = write(tmp_path, GOOD + GOOD[7:])
    with pytest.raises(L2gpuError, match="--group-col"):
        read_series(path, "date", "v")


def test_years_read_as_calendar_and_dates_keep_their_step(tmp_path, data):
    years = read_series(data("diffusion_benchmarks", "netherlands_car_stock.csv"), "year", "raw")
    axis = years["raw"].axis
    assert axis.kind == "year"
    assert axis.label(0.0, date_only=True) == "1965-01-01"
    months = read_series(
        data("diffusion_benchmarks", "windows_os_share_w3schools.csv"), "Date", "Win7"
    )["Win7"]
    assert months.axis.months == 1
    assert months.axis.label(1.0) == "2003-04-01"


def test_groups_with_too_few_points_are_skipped_not_fatal(data):
    skipped: list[str] = []
    series = read_series(
        data("l2_growthepie_2023", "l2_daily_metrics.csv"),
        "date",
        "txcount",
        group_col="chain",
        skipped=skipped,
    )
    assert "arbitrum" in series
    assert any(s.startswith("base") for s in skipped)
