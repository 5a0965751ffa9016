"""The GPU catalog (issue #23): an unknown model is refused with the list, NVML's names
map to the catalog, and the market lists no offer for a model outside it."""

from __future__ import annotations

import pytest

from l2gpu.agent.inventory import parse_declared
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.gpus import GPU_CATALOG, catalog_name
from l2gpu.core.market.offers import OfferError, validate_terms

from .helpers import T0, terms


@pytest.mark.parametrize(
    ("reported", "model"),
    [
        ("NVIDIA GeForce RTX 4090", "RTX_4090"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H100 PCIe", "H100"),
        ("Tesla T4", "T4"),
        ("NVIDIA RTX 6000 Ada Generation", "RTX_6000_ADA"),
        ("rtx_4090", "RTX_4090"),
        ("FOO_GPU", None),
        ("RTX4090", None),
    ],
)
def test_nvml_and_declared_names_map_to_the_catalog(reported: str, model: str | None) -> None:
    assert catalog_name(reported) == model


def test_an_unknown_declared_model_is_refused_with_the_list() -> None:
    with pytest.raises(L2gpuError) as caught:
        parse_declared("FOO_GPU:2")
    assert "unknown GPU model 'FOO_GPU'" in caught.value.what
    assert "RTX_4090" in caught.value.fix
    (gpu,) = parse_declared("h100:1")
    assert (gpu.name, gpu.memory_gb) == ("H100", GPU_CATALOG["H100"])


def test_the_market_refuses_an_offer_for_a_model_outside_the_catalog() -> None:
    with pytest.raises(OfferError, match="not in the catalog") as caught:
        validate_terms(terms(gpu_name="FOO_GPU"), T0)
    assert "RTX_4090" in caught.value.fix
    with pytest.raises(OfferError, match="it names RTX_4090"):
        validate_terms(terms(gpu_name="rtx_4090"), T0)  # one spelling per model
    validate_terms(terms(gpu_name="RTX_4090"), T0)
