"""Loaders for the shared real data sets.

The data live beside the checkout, in ``<repo>/../shared/data`` (so in CI too);
``L2GPU_DATA_SETS`` points elsewhere. Each loader returns a tidy pandas frame
with the columns named in its docstring, and fails with an
:class:`~l2gpu.core.errors.L2gpuError` when a file is missing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from l2gpu.core.errors import L2gpuError

# src/l2gpu/analytics/datasets.py -> parents[3] is the repository root.
_REPO_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    """The folder that holds the data sets (``L2GPU_DATA_SETS`` overrides it)."""
    override = os.environ.get("L2GPU_DATA_SETS")
    return Path(override) if override else _REPO_ROOT.parent / "shared" / "data"


def data_file(*parts: str) -> Path:
    """The path of one data file, or an error saying where it was looked for."""
    path = data_root().joinpath(*parts)
    if not path.is_file():
        raise L2gpuError(
            f"data file '{path}' not found",
            "put the shared data sets beside the checkout (../shared/data) "
            "or set L2GPU_DATA_SETS to their folder",
        )
    return path


# --- adoption series -----------------------------------------------------------------


@dataclass(frozen=True)
class AdoptionSource:
    """One adoption series of the shared data: where it is and how to read it."""

    name: str
    file: str
    time_col: str
    value_col: str
    cumulative: bool
    group_col: str | None = None
    # Substitution shares rise, then fall as the next generation replaces them;
    # a single diffusion curve describes the rise, so those fits stop at the peak.
    until_peak: bool = False


def diffusion_sources() -> list[AdoptionSource]:
    """Every series in ``diffusion_benchmarks/`` with its reading (per period or level)."""
    folder = "diffusion_benchmarks"
    sources = [
        AdoptionSource(
            "answering_machines", "answering_machines_sales.csv", "year", "sales", False
        ),
        AdoptionSource("nl_car_stock", "netherlands_car_stock.csv", "year", "raw", True),
        AdoptionSource(
            "us_metal_share", "us_merchant_marine_metal_share.csv", "year", "substitution", True
        ),
    ]
    for column in ("SIU1", "SIU2", "SIU3", "SIU4"):
        sources.append(
            AdoptionSource(
                f"ibm_{column.lower()}",
                "ibm_mainframe_generations.csv",
                "year_index",
                column,
                False,
            )
        )
    for column in (f"ac{i}" for i in range(1, 9)):
        sources.append(
            AdoptionSource(
                f"assassins_creed_{column}",
                "assassins_creed_weekly_sales.csv",
                "week",
                column,
                False,
            )
        )
    for column in ("Win10", "Win8", "Win7", "Vista", "WinXP"):
        sources.append(
            AdoptionSource(
                f"windows_{column.lower()}",
                "windows_os_share_w3schools.csv",
                "Date",
                column,
                True,
                until_peak=True,
            )
        )
    for version in ("10.0", "9.1", "9.0", "8.0", "7.1", "7.0", "6.1", "6.0", "5.1", "5.0", "4.0"):
        sources.append(
            AdoptionSource(
                f"safari_{version}",
                "safari_version_share_statcounter.csv",
                "Date",
                f"Safari{version}",
                True,
                until_peak=True,
            )
        )
    return [
        AdoptionSource(
            s.name,
            f"{folder}/{s.file}",
            s.time_col,
            s.value_col,
            s.cumulative,
            s.group_col,
            s.until_peak,
        )
        for s in sources
    ]


def l2_sources() -> list[AdoptionSource]:
    """The L2 activity levels of ``l2_growthepie_2023/`` (one group per chain)."""
    file = "l2_growthepie_2023/l2_daily_metrics.csv"
    return [
        AdoptionSource(f"l2_{metric}", file, "date", metric, True, group_col="chain")
        for metric in ("txcount", "daa")
    ]


def load_l2_daily() -> pd.DataFrame:
    """``l2_daily_metrics.csv``: date (datetime), chain, txcount, daa, tvl_usd, fees, costs."""
    frame = pd.read_csv(data_file("l2_growthepie_2023", "l2_daily_metrics.csv"))
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def l2_share_of_users() -> pd.Series:
    """Daily share of active addresses on L2s among L2s plus Ethereum (the calibration target).

    Only days on which Ethereum and at least one L2 report active addresses count.
    """
    frame = load_l2_daily().pivot_table(index="date", columns="chain", values="daa")
    frame = frame.dropna(subset=["ethereum"])
    layer2 = frame.drop(columns=["ethereum"]).sum(axis=1, min_count=1)
    share = (layer2 / (layer2 + frame["ethereum"])).dropna()
    return share.rename("l2_share")


# --- cluster traces --------------------------------------------------------------------


def load_philly_jobs() -> pd.DataFrame:
    """The Philly trace: submit (s since first), duration (s), num_gpus, cluster, timestamp."""
    frame = pd.read_csv(data_file("philly_pollux", "philly_jobs.csv.gz"))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame["submit"] = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds()
    return frame


def load_alibaba_pods() -> pd.DataFrame:
    """Alibaba 2023 GPU pods that ran: submit, duration (s), gpus (fractional), qos, phase,
    observed_wait (s from creation to scheduling in production).

    Pods that never started (no ``scheduled_time``) have no run time and are dropped;
    so are CPU-only pods. ``gpus`` is ``num_gpu * gpu_milli / 1000``.
    """
    frame = pd.read_csv(data_file("alibaba_gpu_v2023", "openb_pod_list_default.csv"))
    frame = frame[(frame["num_gpu"] > 0) & frame["scheduled_time"].notna()].copy()
    frame["submit"] = frame["creation_time"].astype(float)
    # Queueing in the trace is the production scheduler's; a replay re-decides it.
    frame["duration"] = (frame["deletion_time"] - frame["scheduled_time"]).clip(lower=1.0)
    frame["gpus"] = frame["num_gpu"] * frame["gpu_milli"] / 1000.0
    frame["observed_wait"] = frame["scheduled_time"] - frame["creation_time"]
    frame = frame.sort_values("submit", kind="stable").reset_index(drop=True)
    return frame[
        [
            "name",
            "submit",
            "duration",
            "gpus",
            "num_gpu",
            "gpu_milli",
            "qos",
            "pod_phase",
            "observed_wait",
        ]
    ]


def load_alibaba_requests() -> pd.DataFrame:
    """Alibaba 2023 GPU pods as requested: submit (s), gpus (fractional), pod_phase.

    Unlike :func:`load_alibaba_pods` this keeps the pods that never started (``Pending``
    when the list was taken): they were asked for, so they are demand.
    """
    frame = pd.read_csv(data_file("alibaba_gpu_v2023", "openb_pod_list_default.csv"))
    frame = frame[frame["num_gpu"] > 0]
    return pd.DataFrame(
        {
            "submit": frame["creation_time"].astype(float).to_numpy(),
            "gpus": (frame["num_gpu"] * frame["gpu_milli"] / 1000.0).to_numpy(),
            "pod_phase": frame["pod_phase"].to_numpy(),
        }
    ).sort_values("submit", kind="stable", ignore_index=True)


def load_alibaba_nodes() -> pd.DataFrame:
    """Alibaba 2023 GPU nodes: sn, cpu_milli, memory_mib, gpu, model."""
    return pd.read_csv(data_file("alibaba_gpu_v2023", "openb_node_list_gpu_node.csv"))


def load_philly_node_usage() -> pd.DataFrame:
    """Philly nodes per minute: time (datetime index), active, total, utilization."""
    frame = pd.read_csv(data_file("philly_node_usage", "philly_node_sequence_minutely.csv.gz"))
    frame["time"] = pd.to_datetime(frame["time"])
    frame = frame.set_index("time")
    frame["utilization"] = frame["active"] / frame["total"]
    return frame


def load_venus_throughput() -> pd.DataFrame:
    """Helios Venus 10-minute bins (datetime index): jobs and GPUs submitted/started/ended."""
    frame = pd.read_csv(data_file("helios_sensetime", "venus_throughput_10min.csv"))
    frame["time"] = pd.to_datetime(frame["time"])
    return frame.set_index("time")


def load_earth_capacity() -> pd.Series:
    """Helios Earth: GPUs assigned to all VCs per day."""
    frame = pd.read_csv(data_file("helios_sensetime", "earth_vc_gpu_capacity_daily.csv"))
    return pd.Series(frame["total"].to_numpy(float), index=pd.to_datetime(frame["date"]))


def load_cluster_summaries() -> pd.DataFrame:
    """Published per-cluster statistics (Seren, Kalos, Philly, Helios, PAI), indexed by id."""
    return pd.read_csv(
        data_file("helios_sensetime", "acme_cluster_summary_with_philly_pai.csv"), index_col="id"
    )


# --- prices -----------------------------------------------------------------------------


def load_cloud_prices() -> pd.DataFrame:
    """FSDL cloud table: cloud, gpu_type, gpus, on_demand and per_gpu ($/h), spot ($/h)."""
    frame = pd.read_csv(data_file("gpu_cloud_prices_fsdl", "cloud-gpus.csv"))
    frame.columns = [c.strip() for c in frame.columns]
    out = pd.DataFrame(
        {
            "cloud": frame["Cloud"].astype(str).str.strip(),
            "gpu_type": frame["GPU Type"].astype(str).str.strip(),
            "gpus": pd.to_numeric(frame["GPUs"], errors="coerce"),
            "on_demand": pd.to_numeric(frame["On-demand"], errors="coerce"),
            "per_gpu": pd.to_numeric(frame["Per-GPU"], errors="coerce"),
            "spot": pd.to_numeric(frame["Spot"], errors="coerce"),
        }
    )
    return out.dropna(subset=["per_gpu"])


def load_cloud_price_history() -> pd.DataFrame:
    """FSDL's dated cloud tables: snapshot_date, cloud, gpu_type, per_gpu and spot
    ($/h per GPU; a price written "$4.10" in some snapshots is read as 4.10)."""
    frame = pd.read_csv(data_file("gpu_cloud_prices_fsdl", "cloud_gpus_history.csv"))

    def dollars(column: str) -> pd.Series:
        text = frame[column].astype(str).str.replace("$", "", regex=False).str.strip()
        return pd.to_numeric(text, errors="coerce")

    return pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(frame["snapshot_date"]),
            "cloud": frame["Cloud"].astype(str).str.strip(),
            "gpu_type": frame["GPU Type"].astype(str).str.strip(),
            "per_gpu": dollars("Per-GPU"),
            "spot": dollars("Spot"),
        }
    )


def load_vastai() -> pd.DataFrame:
    """Vast.ai snapshot (verification=all): gpu_model, state, count, price p10/p50/p90 ($/h)."""
    frame = pd.read_csv(data_file("vastai_market_2025-12", "gpu_stats_flat.csv"))
    frame = frame[frame["verification"] == "all"]
    return frame.rename(
        columns={
            "price_median": "p50",
            "price_10th_percentile": "p10",
            "price_90th_percentile": "p90",
        }
    )[["gpu_model", "state", "count", "p10", "p50", "p90"]].reset_index(drop=True)


@dataclass(frozen=True)
class GpuPrices:
    """USD per GPU-hour for one GPU model: market (vast.ai) and cloud (FSDL)."""

    gpu: str
    market_p10: float
    market_p50: float
    cloud_per_gpu: float


def gpu_prices(gpu: str = "V100") -> GpuPrices:
    """Prices of one GPU model: vast.ai p10 and median of all offers, FSDL median per-GPU.

    ``gpu`` matches case-insensitively as a word prefix (``V100`` matches
    ``Tesla V100`` and ``V100 (16 GB)``).
    """
    pattern = rf"(?i)(?:^|\s){re.escape(gpu)}\b"
    vast = load_vastai()
    vast = vast[(vast["state"] == "all") & vast["gpu_model"].str.contains(pattern)]
    cloud = load_cloud_prices()
    cloud = cloud[cloud["gpu_type"].str.contains(pattern)]
    if vast.empty or cloud.empty:
        raise L2gpuError(
            f"no market or cloud price for GPU model '{gpu}'",
            "choose a model listed in both vastai_market_2025-12 and gpu_cloud_prices_fsdl "
            "(for example V100, A100, H100, RTX 4090 has no cloud row)",
        )
    return GpuPrices(
        gpu=gpu,
        market_p10=_weighted(vast, "p10"),
        market_p50=_weighted(vast, "p50"),
        cloud_per_gpu=float(cloud["per_gpu"].median()),
    )


def _weighted(offers: pd.DataFrame, column: str) -> float:
    # Offer counts weight the variants of one model (SXM, PCIe, NVL); a variant
    # with no price in that percentile is left out rather than read as zero.
    known = offers.dropna(subset=[column])
    if known.empty:
        raise L2gpuError(
            f"the market snapshot has no {column} price for that GPU model",
            "choose another GPU model",
        )
    weights = known["count"].to_numpy(float)
    if weights.sum() <= 0:
        return float(known[column].median())
    return float(np.average(known[column], weights=weights))


def load_vastai_json() -> dict[str, object]:
    """The raw vast.ai response (kept for fields the flat table drops, e.g. dlperf)."""
    with data_file("vastai_market_2025-12", "gpu-stats.json").open() as handle:
        loaded: dict[str, object] = json.load(handle)
    return loaded
