"""Where l2gpu's contracts live on each chain: ``<data_dir>/deployments/<chain id>.json``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address


def _path(data_dir: Path, chain_id: int) -> Path:
    return data_dir / "deployments" / f"{chain_id}.json"


def record(data_dir: Path, chain_id: int, name: str, address: Address, block: int) -> None:
    """Remember that ``name`` is deployed at ``address`` since ``block`` on ``chain_id``."""
    path = _path(data_dir, chain_id)
    known = json.loads(path.read_text()) if path.exists() else {}
    known[name] = {"address": address.checksum, "block": block}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle, indent=2)
    os.replace(tmp, path)


def lookup(data_dir: Path, chain_id: int, name: str) -> tuple[Address, int]:
    """The address and deployment block of ``name`` on ``chain_id``."""
    path = _path(data_dir, chain_id)
    try:
        entry = json.loads(path.read_text())[name]
        return Address.from_hex(entry["address"]), int(entry["block"])
    except FileNotFoundError as exc:
        raise L2gpuError(
            f"no {name} is recorded for chain {chain_id}",
            "deploy one with 'l2gpu channel deploy' or pass --manager ADDRESS",
        ) from exc
    except (KeyError, ValueError) as exc:
        raise L2gpuError(
            f"{path} has no valid {name} entry",
            "deploy again with 'l2gpu channel deploy' or pass --manager ADDRESS",
        ) from exc
