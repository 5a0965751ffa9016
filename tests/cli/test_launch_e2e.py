"""``l2gpu launch`` as users run it, every part a real process: anvil, a ChannelManager,
``market serve``, two providers' agents and ``launch`` with a folder. The cheaper
provider is stopped while the job runs (its agent preempts the lease); ``launch`` goes
on with the other one, the job resuming from the checkpoint the renter fetched, and
``jobs download`` fetches what the job wrote after its lease ended."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from ..conftest import free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_cli import run
from .test_market_l1 import processes, spawn, wait_for  # noqa: F401 - the processes fixture

RENTER, CHEAP, DEAR = ANVIL_KEYS_ALL[1], ANVIL_KEYS_ALL[2], ANVIL_KEYS_ALL[3]
# The first attempt counts slowly (it is preempted); a resumed one finishes at once.
TRAIN = """\
start=$(cat checkpoints/step 2>/dev/null || echo 0)
echo "attempt $L2GPU_ATTEMPT from step $start on $(cat data/name.txt)"
i=$start
while [ "$i" -lt 40 ]; do
  i=$((i + 1))
  mkdir -p checkpoints && echo "$i" > checkpoints/.step && mv checkpoints/.step checkpoints/step
  [ "$start" -eq 0 ] && sleep 1
done
echo "reached step $i from step $start" > result.txt
echo finished
"""


def test_launch_fails_over_to_a_second_provider_from_the_checkpoint(
    anvil_url: str,
    tmp_path: Path,
    processes,  # noqa: F811 - the fixture imported above
) -> None:
    def env(key: str, name: str) -> dict[str, str]:
        return {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": key,
                "L2GPU_DATA_DIR": str(tmp_path / name)}  # fmt: skip

    deployed = run("channel", "deploy", "--json", env=env(RENTER, "renter"))
    assert deployed.returncode == 0, deployed.stderr
    manager = re.search(r'"manager": "(0x[0-9a-fA-F]{40})"', deployed.stdout).group(1)
    port = free_port()
    market = f"http://127.0.0.1:{port}"
    processes.append(spawn("market", "serve", "--port", str(port), "--manager", manager,
                           env=env(RENTER, "api"), log=tmp_path / "api.log"))  # fmt: skip
    wait_for(lambda: httpx.get(market + "/health").status_code == 200, "the API start")
    agents = {}
    for name, key, price in (("cheap", CHEAP, "1 gwei"), ("dear", DEAR, "2 gwei")):
        agents[name] = spawn("provider", "up", "--price", price, "--gpus", "RTX_4090:1",
                             "--api-url", market, "--manager", manager,
                             env=env(key, name), log=tmp_path / f"{name}.log")  # fmt: skip
        processes.append(agents[name])
    wait_for(lambda: httpx.get(market + "/offers").json()["count"] == 2, "both offers")

    (tmp_path / "task" / "data").mkdir(parents=True)
    (tmp_path / "task" / "train.sh").write_text(TRAIN)
    (tmp_path / "task" / "data" / "name.txt").write_text("the task's folder\n")
    (tmp_path / "task.yaml").write_text(
        "name: count\nresources: {gpu: RTX_4090, count: 1}\nmax_price: 0.00001 ether\n"
        "hours: 0.02\nworkdir: task\nrun: sh train.sh\nretries: 1\ncheckpoint_every: 1\n"
    )
    log = tmp_path / "launch.log"
    launched = spawn("launch", str(tmp_path / "task.yaml"), "--api-url", market, "--manager",
                     manager, env=env(RENTER, "renter"), log=log)  # fmt: skip
    processes.append(launched)
    copies = tmp_path / "renter" / "launch"

    def fetched_a_checkpoint() -> bool:
        found = list(copies.glob("count-*/copy/checkpoints/step"))
        return bool(found) and int(found[0].read_text() or 0) >= 1

    wait_for(fetched_a_checkpoint, "a checkpoint fetched by the renter")
    agents["cheap"].send_signal(signal.SIGTERM)  # the cheap machine goes away mid-job
    assert launched.wait(timeout=120) == 0, log.read_text() + (tmp_path / "dear.log").read_text()
    said = log.read_text()
    first = re.search(r"attempt 1 from step 0 on the task's folder", said)
    resumed = re.search(r"attempt 2 from step (\d+) on the task's folder", said)
    assert first, said
    assert resumed, said
    assert int(resumed.group(1)) >= 1
    assert "preempted by the provider: the provider's agent shut down" in said
    assert re.search(r"attempt 2/2 on offer \d+ \(1 x RTX_4090 from 0x[0-9a-fA-F]{40}, ", said)
    lease_id = re.search(r"launch count: lease (\d+) job exited with code 0 after 2 attempt",
                         said)  # fmt: skip
    assert lease_id, said

    # After its lease, the dear provider still keeps the folder: the result comes back.
    got = run("jobs", "download", lease_id.group(1), "result.txt", "--to", str(tmp_path / "out"),
              "--api-url", market, env=env(RENTER, "renter"))  # fmt: skip
    assert got.returncode == 0, got.stderr
    result = (tmp_path / "out" / "result.txt").read_text()
    assert result == f"reached step 40 from step {resumed.group(1)}\n"
