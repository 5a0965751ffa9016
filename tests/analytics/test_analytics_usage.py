"""Usage patterns of the shared traces, and the demand series forecasting is judged on."""

from __future__ import annotations

import json

import pytest


def test_usage_traces_reports_every_trace_and_draws_philly_utilization(cli, tmp_path) -> None:
    png = tmp_path / "philly.png"
    status, out, err = cli("usage", "traces", "--plot", str(png), "--json")
    assert status == 0, err
    printed = json.loads(out)
    assert printed["philly"]["jobs"] == 82_247
    assert 0 < printed["philly"]["node_utilization_mean"] < 1
    assert set(printed) == {"philly", "venus", "alibaba2023", "plot"}
    assert png.read_bytes().startswith(b"\x89PNG")


def test_alibaba_demand_counts_every_gpu_pod_asked_for() -> None:
    from l2gpu.analytics import datasets
    from l2gpu.analytics.usage import demand_series

    requests = datasets.load_alibaba_requests()
    assert (requests["pod_phase"] == "Pending").sum() == 861  # never scheduled, still demand
    recent = requests[requests["submit"] >= 1.0e7]
    series = {d.name: d.series for d in demand_series()}["alibaba_gpus_submitted"]
    assert float(series.y.sum()) == pytest.approx(float(recent["gpus"].sum()))
    ran = datasets.load_alibaba_pods()
    assert float(series.y.sum()) > float(ran[ran["submit"] >= 1.0e7]["gpus"].sum())
