"""The README's walkthrough is examples/walkthrough.sh, and this test runs that file as
it is (issue #23: the README's walkthrough must work as written): anvil, the node, the
market, a provider's agent and a renter, each a separate process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ..conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "walkthrough.sh"


def test_the_readme_shows_the_walkthrough_script_itself() -> None:
    readme = (REPO / "README.md").read_text()
    shown = re.search(r"```bash\n# examples/walkthrough.sh\n(.*?)```", readme, re.S)
    assert shown is not None, "the README must show examples/walkthrough.sh in a bash block"
    assert shown.group(1) == SCRIPT.read_text()


def test_the_walkthrough_runs_as_written(anvil_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "L1": anvil_url,
        "NODE_PORT": str(free_port()),
        "MARKET_PORT": str(free_port()),
        "WORK": str(tmp_path),
        "L2GPU": str(Path(sys.executable).parent / "l2gpu"),
    }
    result = subprocess.run(["bash", str(SCRIPT)], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + logs
    assert "hello from the job" in result.stdout
    assert '"claimed": [' in result.stdout
    assert "walkthrough done" in result.stdout
    assert "Traceback" not in result.stderr + logs
