"""A task file for ``l2gpu launch``, in the manner of SkyPilot's task YAML:

```yaml
name: train-mnist                # optional, for messages
resources:
  gpu: RTX_4090                  # a model of the market's catalog
  count: 1                       # GPUs (an offer with at least this many is rented whole)
# or, as SkyPilot writes it:  resources: {accelerators: "RTX_4090:1"}
max_price: 0.5 ether             # per GPU-hour, at most
hours: 1                         # the lease's length
workdir: ./project               # the job's folder (rent --dir), from the file's folder
envs: {EPOCHS: "3"}              # variables of the job
setup: pip install -r requirements.txt
run: python train.py
retries: 2                       # more attempts, after a failed start or a preemption
checkpoint_every: 60             # seconds between fetches of checkpoints/ (0: never)
idle_stop: 15                    # minutes: stop the lease once the job is idle (rent --idle-stop)
image: pytorch/pytorch:2.3.0     # a container image (rent --image): container offers only
```

:func:`parse_task` reads it into a :class:`Task`, or raises :class:`TaskError` naming
the key that is wrong, what it should be, and (for an unknown key) the keys a task
takes. Pure: the workdir is joined to the file's folder here and packed by the CLI.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.gpus import catalog_name, known_models
from l2gpu.core.market.images import ImageError, check_image
from l2gpu.core.types import Wei, parse_wei
from l2gpu.renter.idle import IdleStopError, idle_limit_s

KEYS = (
    "name",
    "resources",
    "max_price",
    "hours",
    "workdir",
    "envs",
    "setup",
    "run",
    "retries",
    "checkpoint_every",
    "idle_stop",
    "image",
)
RESOURCE_KEYS = ("gpu", "count", "accelerators")
MAX_RETRIES = 20
MAX_HOURS = 24 * 365
DEFAULT_CHECKPOINT_EVERY = 60
_AMOUNT = re.compile(r"[0-9][0-9_]*(\.[0-9_]+)? [A-Za-z]+")


class TaskError(L2gpuError):
    """A task file that cannot be launched; ``what`` names the key."""


@dataclass(frozen=True)
class Task:
    """What ``launch`` runs: the GPUs, the price cap, the lease's length, the job."""

    gpu: str
    count: int
    max_price_per_gpu_hour: Wei | None
    hours: float
    run: str
    setup: str = ""
    workdir: PurePath | None = None
    envs: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    name: str = "task"
    idle_stop_s: int | None = None
    image: str | None = None

    @property
    def duration(self) -> int:
        """The lease's length in whole seconds."""
        return max(1, round(self.hours * 3600))

    @property
    def max_price_per_gpu_second(self) -> Wei | None:
        """The cap per GPU-second, rounded down (never above the cap per hour)."""
        cap = self.max_price_per_gpu_hour
        return None if cap is None else Wei(cap // 3600)

    @property
    def command(self) -> str:
        """The job's command: the setup, then the run, stopping at the first failure."""
        if not self.setup.strip():
            return self.run
        return f"set -e\n{self.setup.rstrip()}\n{self.run}"


def parse_task(text: str, *, base: PurePath, where: str = "the task") -> Task:
    """The task in the YAML ``text`` (a file in the folder ``base``, named ``where`` in
    messages)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TaskError(
            f"{where} is not valid YAML{at}: {problem}", "fix the file's syntax"
        ) from exc
    if not isinstance(data, Mapping):
        raise TaskError(
            f"{where} is not a mapping of keys to values", f"write keys such as: {', '.join(KEYS)}"
        )
    _known(data, KEYS, where)
    if "run" not in data:
        raise TaskError(f"{where} has no 'run'", "say what to run, e.g. run: python train.py")
    gpu, count = _resources(data.get("resources"), where)
    workdir = data.get("workdir")
    return Task(
        gpu=gpu,
        count=count,
        max_price_per_gpu_hour=_price(data.get("max_price"), where),
        hours=_number(data.get("hours", 1), "hours", where, low=1 / 3600, high=MAX_HOURS),
        run=_text(data["run"], "run", where, empty=False),
        setup=_text(data.get("setup", ""), "setup", where),
        workdir=None if workdir is None else base / _text(workdir, "workdir", where, empty=False),
        envs=_envs(data.get("envs"), where),
        retries=int(
            _number(data.get("retries", 0), "retries", where, low=0, high=MAX_RETRIES, whole=True)
        ),
        checkpoint_every=int(
            _number(
                data.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY),
                "checkpoint_every",
                where,
                low=0,
                high=86_400,
                whole=True,
            )
        ),
        name=_text(data.get("name", "task"), "name", where, empty=False),
        idle_stop_s=_idle_stop(data.get("idle_stop"), where),
        image=_image(data.get("image"), where),
    )


def _known(data: Mapping[Any, Any], keys: tuple[str, ...], where: str, inside: str = "") -> None:
    for key in data:
        if key not in keys:
            near = difflib.get_close_matches(str(key), keys, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            raise TaskError(
                f"{where}: unknown key '{inside}{key}'",
                f"{hint}{inside or 'a task'} takes: {', '.join(keys)}",
            )


def _resources(value: object, where: str) -> tuple[str, int]:
    if value is None:
        raise TaskError(
            f"{where} has no 'resources'",
            "name the GPUs, e.g. resources: {gpu: RTX_4090, count: 1}",
        )
    if not isinstance(value, Mapping):
        raise TaskError(
            f"{where}: 'resources' is not a mapping", "write resources: {gpu: RTX_4090, count: 1}"
        )
    _known(value, RESOURCE_KEYS, where, "resources.")
    if "accelerators" in value:
        if "gpu" in value or "count" in value:
            raise TaskError(
                f"{where}: 'resources' has both accelerators and gpu/count", "give one of them"
            )
        model, _, number = _text(
            value["accelerators"], "resources.accelerators", where, empty=False
        ).partition(":")
        count: object = int(number) if number.strip().isdigit() else (number or 1)
    else:
        model = _text(value.get("gpu", ""), "resources.gpu", where, empty=False)
        count = value.get("count", 1)
    gpu = catalog_name(model)
    if gpu is None:
        raise TaskError(
            f"{where}: the GPU model '{model}' is not in the market's catalog",
            f"use one of: {known_models()}",
        )
    return gpu, int(_number(count, "resources.count", where, low=1, high=2**16 - 1, whole=True))


def _price(value: object, where: str) -> Wei | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value.strip()):
        raise TaskError(
            f"{where}: max_price {value!r} is not an amount with its unit",
            "write the price per GPU-hour with a unit, e.g. max_price: 0.5 ether",
        )
    try:
        return parse_wei(value.strip())
    except L2gpuError as exc:
        raise TaskError(f"{where}: max_price {value!r}: {exc.what}", exc.fix) from exc


def _number(
    value: object, key: str, where: str, *, low: float, high: float, whole: bool = False
) -> float:
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaskError(f"{where}: {key} {value!r} is not {kind}", f"write e.g. {key}: 1")
    if whole and value != int(value):
        raise TaskError(f"{where}: {key} {value!r} is not {kind}", f"write e.g. {key}: 1")
    if not low <= value <= high:
        shown = f"{low:g}" if not whole else str(int(low))
        raise TaskError(f"{where}: {key} {value!r} is out of range", f"give {shown} to {high:g}")
    return float(value)


def _idle_stop(value: object, where: str) -> int | None:
    if value is None:
        return None
    try:
        return idle_limit_s(value, name="idle_stop", example="idle_stop: 15")
    except IdleStopError as exc:
        raise TaskError(f"{where}: {exc.what}", exc.fix) from exc


def _image(value: object, where: str) -> str | None:
    if value is None:
        return None
    try:
        return check_image(_text(value, "image", where, empty=False), name="image")
    except ImageError as exc:
        raise TaskError(f"{where}: {exc.what}", exc.fix) from exc


def _text(value: object, key: str, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise TaskError(
            f"{where}: {key} is not text ({type(value).__name__})", f"write {key} as a string"
        )
    if not empty and not value.strip():
        raise TaskError(f"{where}: {key} is empty", f"give {key} a value")
    return value


def _envs(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TaskError(f"{where}: envs is not a mapping", "write envs: {EPOCHS: '3'}")
    out = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or "=" in name:
            raise TaskError(f"{where}: envs has a bad name {name!r}", "name variables as text")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise TaskError(
                f"{where}: envs.{name} is not text or a number", f"write envs: {{{name}: '...'}}"
            )
        out[name] = str(item)
    return out
