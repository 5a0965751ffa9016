"""Where the test suite's CPU goes, by process: the suite is bound by 2 cores, so
what it costs is CPU seconds, and most of them are spent in processes pytest's
``--durations`` cannot see (nodes, CLI commands, anvil, Node's witness calculator).

    python tools/suite_profile.py watch cpu.json &   # polls /proc once a second
    make test                                         # or a clean clone's .ci/run
    kill %1                                           # SIGTERM: writes cpu.json
    python tools/suite_profile.py report cpu.json

``watch`` keeps, for every process it saw (pid and start time), its command line and
the last CPU time read (user + system): a process that lives under a second may be
missed, and each is short of its last second at most. ``report`` sums them by kind.
Linux only (it reads ``/proc``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

KINDS: tuple[tuple[str, str], ...] = (
    # (pattern in the command line, kind): the first that matches names the process
    (r"exec\(eval\(sys\.stdin", "pytest worker"),
    (r"bin/pytest", "pytest main"),
    (r"anvil", "anvil"),
    (r"chrom", "chromium"),
    (r"circom", "circom"),
    (r"snarkjs", "snarkjs"),
    (r"^\S*node ", "node (witness calculator)"),
    (r"bwrap|/bin/sh -c", "jobs"),
    (r"ruff|mypy|lint-imports", "lint and types"),
    (r"pip", "pip"),
    (r"ray", "ray"),
    (r"python", "other python"),
)


def watch(out: Path, interval: float = 1.0) -> None:
    """Poll every process's CPU time until SIGTERM or SIGINT, then write ``out``."""
    seen: dict[str, list[object]] = {}
    ticks = os.sysconf("SC_CLK_TCK")

    def write(_signum: int, _frame: FrameType | None) -> None:
        out.write_text(json.dumps(seen))
        sys.exit(0)

    signal.signal(signal.SIGTERM, write)
    signal.signal(signal.SIGINT, write)
    while True:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                # the fields after the command name, which may hold spaces and ')'
                fields = stat[stat.rindex(")") + 2 :].split()
                cpu = (int(fields[11]) + int(fields[12])) / ticks
                key = f"{pid}:{fields[19]}"  # a pid is reused; with its start time it is not
                if key in seen:
                    seen[key][0] = cpu
                else:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    seen[key] = [cpu, raw.replace(b"\0", b" ").decode(errors="replace")[:400]]
            except (OSError, ValueError, IndexError):
                pass  # the process ended while it was read
        time.sleep(interval)


def kind_of(command: str) -> str:
    """The kind of process a command line is (see :data:`KINDS`)."""
    if not command.strip():
        return "kernel threads and unreaped processes"
    # the tests' logged form of the CLI: python -c "...main(sys.argv[1:]))" ARGS
    command = re.sub(r"-c import .*?main\(sys\.argv\[1:\]\)\)", "-m l2gpu.cli.main", command)
    cli = re.search(r"(?:-m l2gpu\.cli\.main|bin/l2gpu)\s+(.*)", command)
    if cli:
        return "l2gpu " + _subcommand(cli.group(1).split())
    for pattern, kind in KINDS:
        match = re.search(pattern, command)
        if match:
            return kind.format(*[""] + [g or "" for g in match.groups()])
    return "other: " + command.split()[0][-40:]


def _subcommand(words: list[str]) -> str:
    """``up --design zk``, ``provider up``, ``zk deposit``: the command's first words,
    global options (``--data-dir DIR``) skipped."""
    while words and words[0].startswith("--"):
        words = words[2:]
    if not words:
        return "(no command)"
    if words[0] == "up":
        design = words[words.index("--design") + 1] if "--design" in words[:-1] else None
        return "up --shard" if "--shard" in words else f"up --design {design or 'rollup'}"
    second = words[1] if len(words) > 1 and not words[1].startswith("-") else ""
    return f"{words[0]} {second}".strip() if words[0] in GROUPS else words[0]


GROUPS = {"provider", "market", "zk", "l2", "channel", "hub", "bridge", "credit", "airdrop",
          "watch", "jobs", "account", "forwards", "bench"}  # fmt: skip
"""Commands whose second word says what they did (``zk deposit``, ``provider up``)."""


def report(path: Path, top: int = 30) -> str:
    """CPU seconds by kind of process, largest first, from a ``watch`` file."""
    seconds: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for cpu, command in json.loads(path.read_text()).values():
        kind = kind_of(command)
        seconds[kind] += cpu
        count[kind] += 1
    total = sum(seconds.values()) or 1.0
    lines = [
        f"{cpu:9.1f} s {100 * cpu / total:5.1f} % {count[kind]:6d} processes  {kind}"
        for kind, cpu in seconds.most_common(top)
    ]
    return "\n".join([*lines, f"{total:9.1f} s in all"])


def main(argv: list[str]) -> int:
    """``watch FILE`` or ``report FILE``."""
    if len(argv) != 2 or argv[0] not in ("watch", "report"):
        print("usage: suite_profile.py watch FILE | report FILE", file=sys.stderr)
        return 2
    if argv[0] == "watch":
        watch(Path(argv[1]))
        return 0
    if not Path(argv[1]).is_file():
        print(f"{argv[1]} does not exist: run 'watch' first and stop it with SIGTERM",
              file=sys.stderr)  # fmt: skip
        return 2
    print(report(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
