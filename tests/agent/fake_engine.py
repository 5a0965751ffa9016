"""A fake container engine for tests on machines without a Docker or Podman daemon.

:func:`install_fake_engine` puts an executable named ``docker`` first on ``PATH``: a
small Python script that answers the verbs the container backend uses (``info``,
``run``, ``inspect``, ``pause``, ``unpause``, ``stop``, ``rm``, ``logs``, ``ps``,
``update``) by keeping each container as a JSON file in a folder, and appends every
command line it gets to ``calls.jsonl`` there. It runs no job: a test reads what the
backend asked for, and sets a container's state itself (``FakeEngine.set_state``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = r"""
import json, os, sys
from pathlib import Path

root = Path(os.environ["CONTAINER_FAKE_ENGINE_DIR"])
args = sys.argv[1:]
with open(root / "calls.jsonl", "a") as log:
    log.write(json.dumps(args) + "\n")
boxes = root / "containers"
boxes.mkdir(exist_ok=True)


def load(name):
    path = boxes / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save(name, box):
    (boxes / f"{name}.json").write_text(json.dumps(box))


def flag(name, default=None):
    return args[args.index(name) + 1] if name in args else default


verb = args[0]
if verb == "info":
    print("fake-engine-1.0")
elif verb == "run":
    name = flag("--name")
    labels = [args[i + 1] for i, a in enumerate(args) if a == "--label"]
    image = args[args.index("/bin/sh") - 1]
    env = {}  # as the engine reads --env-file: a line with no "=" copies its own variable
    for line in Path(flag("--env-file")).read_text().splitlines():
        key, eq, value = line.partition("=")
        env[key] = value if eq else os.environ.get(key, "")
    save(name, {"state": "running", "code": 0, "labels": labels, "image": image,
                "stop_timeout": flag("--stop-timeout"), "args": args, "env": env,
                "engine_env": sorted(os.environ)})
    print(name)
elif verb == "inspect":
    box = load(args[-1])
    if box is None:
        print(f"no such container {args[-1]}", file=sys.stderr)
        sys.exit(1)
    fmt = flag("--format", "")
    if "Labels" in fmt:
        print(json.dumps({lab.split("=", 1)[0]: lab.split("=", 1)[1] for lab in box["labels"]}))
    else:
        print(f"{box['state']} {box['code']} false")
elif verb in ("pause", "unpause", "stop", "kill"):
    for name in [a for a in args[1:] if not a.startswith("-") and not a.isdigit()]:
        box = load(name)
        if box is None:
            continue
        box["state"] = {"pause": "paused", "unpause": "running"}.get(verb, "exited")
        box["code"] = box["code"] if verb in ("pause", "unpause") else 137
        save(name, box)
elif verb == "rm":
    for name in [a for a in args[1:] if not a.startswith("-")]:
        (boxes / f"{name}.json").unlink(missing_ok=True)
elif verb == "logs":
    box = load(args[-1])
    sys.exit(0 if box is not None else 1)
elif verb == "ps":
    label = flag("--filter", "label=").removeprefix("label=")
    for path in sorted(boxes.glob("*.json")):
        box = json.loads(path.read_text())
        if "--all" not in args and box["state"] != "running":
            continue
        if any(lab == label or lab.startswith(label + "=") for lab in box["labels"]):
            print(path.stem)
else:
    print(f"fake engine: unknown verb {verb}", file=sys.stderr)
    sys.exit(2)
"""


@dataclass
class FakeEngine:
    """The fake engine's folder: what it was asked, and its containers."""

    root: Path

    def calls(self) -> list[list[str]]:
        """Every command line the engine got, in order."""
        path = self.root / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def container(self, name: str) -> dict[str, object] | None:
        """A container as the engine keeps it (None: there is none of that name)."""
        path = self.root / "containers" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def containers(self) -> dict[str, dict[str, object]]:
        """Every container the engine keeps, by name."""
        folder = self.root / "containers"
        return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}

    def set_state(self, name: str, state: str, code: int = 0) -> None:
        """Make a container ``state`` (running, paused, exited) as if its job did."""
        box = self.container(name)
        assert box is not None, name
        box.update(state=state, code=code)
        (self.root / "containers" / f"{name}.json").write_text(json.dumps(box))


def end_watcher(backend: object) -> None:
    """End the dead-man watcher a test's container backend started (it would outlive
    the test: when the test's process ends it takes it for a dead agent)."""
    watcher = getattr(backend, "_watcher", None)
    if watcher is not None and watcher.poll() is None:
        watcher.terminate()
        watcher.wait(timeout=30)


def install_fake_engine(monkeypatch: pytest.MonkeyPatch, folder: Path) -> FakeEngine:
    """A fake ``docker`` first on ``PATH``, keeping its state in ``folder``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "docker"
    script.write_text(f"#!{sys.executable}\n{SCRIPT}")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CONTAINER_FAKE_ENGINE_DIR", str(folder))
    return FakeEngine(folder)
