"""The commands without ``--json``, and why: each serves, streams or draws rather
than returns one result a script could read. Every other leaf command takes
``--json`` (the shared :data:`~l2gpu.cli.common.AsJson` option) and then prints
exactly one JSON object on stdout; ``tests/cli/test_json_flag.py`` walks the command
tree and fails for a command outside this list without it.
"""

from __future__ import annotations

JSON_EXEMPT: dict[str, str] = {
    "demo": "a scripted walk-through for people, streaming its narration",
    "web": "a long-running web server",
    "up": "a long-running rollup node",
    "hub": "a long-running hub server",
    "bridge lp": "a long-running liquidity provider server",
    "market serve": "a long-running market API server",
    "provider up": "a long-running provider agent",
    "watch channels": "a long-running watchtower",
    "watch rollup": "a long-running watchtower",
    "watch plasma": "a long-running watchtower",
    "ssh": "an interactive shell on a lease",
    "jobs logs": "streams a job's output as it comes",
    # rent and launch print the job's own output on stdout as it comes: a JSON summary
    # there would be mixed with it. Scripts read the lease after with 'jobs list --json'.
    "rent": "streams the job's output; 'jobs list --json' has the lease after",
    "launch": "streams the task's output; 'jobs list --json' has the lease after",
    "adoption plot": "draws a chart (a file or the terminal); 'adoption' reads the data",
    "airdrop demo": "a scripted walk-through for people, streaming its narration",
}
"""Leaf commands (space-separated paths below ``l2gpu``) that take no ``--json``,
each with the reason."""
