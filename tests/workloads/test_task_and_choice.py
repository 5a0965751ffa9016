"""``launch``'s pure parts: the task file (every error names its key) and the choice of
offer and of what follows an attempt."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.renter.choice import after_attempt, launch_query, rank_offers
from l2gpu.renter.task import Task, TaskError, parse_task
from l2gpu.wire import OfferPublic
from tests.cli.helpers import cli, refused

BASE = PurePosixPath("/home/me/proj")
GOOD = """
name: mnist
resources: {gpu: rtx_4090, count: 2}
max_price: 0.36 ether
hours: 0.5
workdir: ./code
envs: {EPOCHS: 3}
setup: pip install -r requirements.txt
run: python train.py
retries: 2
"""


def test_a_task_file_is_read_into_a_task() -> None:
    task = parse_task(GOOD, base=BASE)
    assert (task.gpu, task.count, task.duration, task.retries) == ("RTX_4090", 2, 1800, 2)
    assert task.max_price_per_gpu_hour == 36 * 10**16
    assert task.max_price_per_gpu_second == 10**14
    assert task.workdir == BASE / "code"
    assert task.envs == {"EPOCHS": "3"}
    assert task.command == "set -e\npip install -r requirements.txt\npython train.py"
    assert task.checkpoint_every == 60
    assert task.idle_stop_s is None
    assert parse_task(GOOD + "idle_stop: 0.5\n", base=BASE).idle_stop_s == 30
    bare = parse_task("resources: {accelerators: 'H100:8'}\nrun: nvidia-smi", base=BASE)
    assert (bare.gpu, bare.count, bare.command, bare.workdir, bare.retries) == (
        "H100", 8, "nvidia-smi", None, 0
    )  # fmt: skip
    assert bare.max_price_per_gpu_second is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "run: x\nresources: {gpu: H100}\nretry: 2",
            ["unknown key 'retry'", "did you mean 'retries'?", "a task takes: name, resources"],
        ),
        (
            "run: x\nresources: {gpu: H100, cnt: 2}",
            ["unknown key 'resources.cnt'", "resources. takes: gpu, count, accelerators"],
        ),
        ("resources: {gpu: H100}", ["has no 'run'"]),
        ("run: x", ["has no 'resources'"]),
        (
            "run: x\nresources: {gpu: H200X}",
            ["'H200X' is not in the market's catalog", "use one of:"],
        ),
        ("run: x\nresources: {gpu: H100, count: 0}", ["resources.count 0 is out of range"]),
        (
            "run: x\nresources: {gpu: H100, count: 1.5}",
            ["resources.count 1.5 is not a whole number"],
        ),
        ("run: x\nresources: {gpu: H100}\nmax_price: 0.5", ["max_price 0.5 is not an amount"]),
        ("run: x\nresources: {gpu: H100}\nmax_price: 0.5 eths", ["unknown unit 'eths'"]),
        ("run: x\nresources: {gpu: H100}\nhours: -1", ["hours -1 is out of range"]),
        ("run: x\nresources: {gpu: H100}\nhours: '1'", ["hours '1' is not a number"]),
        ("run: x\nresources: {gpu: H100}\nretries: 99", ["retries 99 is out of range", "0 to 20"]),
        ("run: [a, b]\nresources: {gpu: H100}", ["run is not text (list)"]),
        ("run: x\nresources: {gpu: H100, accelerators: H100}", ["both accelerators and gpu"]),
        ("run: x\nresources: {gpu: H100}\nenvs: [A]", ["envs is not a mapping"]),
        ("- just\n- a list", ["is not a mapping of keys to values"]),
        ("run: x\n  bad: indent", ["is not valid YAML at line 2, column 6"]),
    ],
)
def test_a_bad_task_file_is_refused_naming_the_key(text: str, words: list[str]) -> None:
    with pytest.raises(TaskError) as raised:
        parse_task(text, base=BASE, where="task.yaml")
    message = str(raised.value)
    assert message.startswith("task.yaml")
    for word in words:
        assert word in message, message


def _offer(offer_id: int, price: int, **changes: object) -> OfferPublic:
    base = {
        "id": offer_id, "provider": f"0x{offer_id:040x}", "gpu_name": "RTX_4090",
        "num_gpus": 1, "gpu_ram_gb": 24, "cpu_cores": 8, "ram_gb": 32, "disk_gb": 100,
        "bandwidth_mbps": 100, "location": "EU", "price_per_gpu_second": price,
        "price_per_hour_eth": "0", "min_duration": 1, "max_duration": 86_400,
        "expires_at": 2_000, "declared": True, "reliability": 1.0,
    }  # fmt: skip
    return OfferPublic.model_validate({**base, **changes})


def test_offers_are_ranked_by_what_a_reliable_hour_costs() -> None:
    task = Task(gpu="RTX_4090", count=1, max_price_per_gpu_hour=3600 * 100, hours=1, run="x")
    offers = [
        _offer(1, 90, reliability=0.5),  # 180 per reliable GPU-second
        _offer(2, 100),
        _offer(3, 60, num_gpus=2),  # the whole offer: 120
        _offer(4, 101),  # above the cap
        _offer(5, 10, gpu_name="H100"),
        _offer(6, 10, expires_at=1_000),  # expired
        _offer(7, 10, max_duration=1_800),  # too short for the hour
        _offer(8, 50, num_gpus=2),  # 100, tied with offer 2 but more GPUs
    ]
    ranked = [o.id for o in rank_offers(offers, task, now=1_500)]
    assert ranked == [2, 8, 3, 1]
    again = rank_offers(offers, task, now=1_500, tried_providers={f"0x{2:040X}"}, tried_offers={8})
    assert [o.id for o in again] == [3, 1]
    assert launch_query(task) == "gpu_name=RTX_4090 num_gpus>=1 price<=100"


def test_what_follows_an_attempt() -> None:
    done = after_attempt(LeaseStatus.ENDED, "job exited with code 0", started=True, left=2)
    assert done.action == "done"
    failed = after_attempt(LeaseStatus.FAILED, "start failed: no", started=False, left=1)
    assert (failed.action, failed.resume) == ("retry", False)
    assert "before the job started" in failed.why
    lost = after_attempt(LeaseStatus.PREEMPTED, "the provider's agent went silent", started=True,
                         left=1)  # fmt: skip
    assert (lost.action, lost.resume) == ("retry", True)
    refused = after_attempt(None, "offer 7 was leased just now", started=False, left=1)
    assert refused.action == "retry"
    assert "refused by the market" in refused.why
    last = after_attempt(LeaseStatus.PREEMPTED, "gone", started=True, left=0)
    assert last.action == "give up"
    assert "raise 'retries'" in last.why


def test_launch_refuses_a_bad_task_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = tmp_path / "task.yaml"
    task.write_text("resources: {gpu: H100}\nrun: python train.py\nworkdir: ./nowhere\nretry: 1")
    refused(cli(capsys, "launch", str(task)), "unknown key 'retry'", "did you mean 'retries'?")
    task.write_text("resources: {gpu: H100}\nrun: python train.py\nworkdir: ./nowhere")
    refused(cli(capsys, "launch", str(task)), "no folder", "nowhere")
    refused(cli(capsys, "launch", str(tmp_path / "none.yaml")), "cannot read the task file")
