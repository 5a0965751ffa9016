"""A fake container engine for tests on machines without a Docker or Podman daemon.

:func:`install_fake_engine` puts an executable named ``docker`` first on ``PATH``: a
small Python script that answers the verbs the container backend uses (``info``,
``run``, ``inspect``, ``pause``, ``unpause``, ``stop``, ``rm``, ``logs``, ``ps``,
``update``, ``exec``) by keeping each container as a JSON file in a folder, and appends
every command line it gets to ``calls.jsonl`` there. It runs no job: a test reads what
the backend asked for, and sets a container's state itself (``FakeEngine.set_state``).
``exec`` alone runs something: the command, on the host, in the host folder mounted
at the exec's ``--workdir``, with the container's variables and the ``--env`` ones
only, refused as a real engine refuses it (no such container, not running, ``--tty``
without a terminal); each exec's command line and the names of the engine's own
variables go to ``execs.jsonl`` (``FakeEngine.execs``).
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
    # whole or not at all: a reader (the test, another engine command) never sees a
    # half-written file
    part = boxes / f".{name}.{os.getpid()}.part"
    part.write_text(json.dumps(box))
    os.replace(part, boxes / f"{name}.json")


def flag_of(words, name, default=None):
    return words[words.index(name) + 1] if name in words else default


def flag(name, default=None):
    return flag_of(args, name, default)


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
elif verb == "exec":
    # Fake: the command runs on the host (no container), in the folder mounted at the
    # -w path, with the container's variables and the -e ones only, as a real exec's
    # process sees them; this process becomes the command (its code is the exec's).
    i, interactive, tty, workdir, extra = 1, False, False, None, {}
    while i < len(args) and args[i].startswith("-"):
        option = args[i]
        if option in ("-w", "--workdir", "-e", "--env"):
            if option in ("-w", "--workdir"):
                workdir = args[i + 1]
            else:
                key, eq, value = args[i + 1].partition("=")
                extra[key] = value if eq else os.environ.get(key, "")
            i += 2
            continue
        if option not in ("-i", "--interactive", "-t", "--tty", "-it", "-ti"):
            print(f"fake engine: unknown exec option {option}", file=sys.stderr)
            sys.exit(125)
        interactive = interactive or option in ("-i", "--interactive", "-it", "-ti")
        tty = tty or option in ("-t", "--tty", "-it", "-ti")
        i += 1
    name, argv = args[i], args[i + 1 :]
    box = load(name)
    if box is None:
        print(f"Error response from daemon: No such container: {name}", file=sys.stderr)
        sys.exit(1)
    if box["state"] != "running":
        print(f"Error response from daemon: container {name} is {box['state']}", file=sys.stderr)
        sys.exit(1)
    if tty and not os.isatty(0):
        print("the input device is not a TTY", file=sys.stderr)
        sys.exit(1)
    run = box["args"]
    volumes = [run[k + 1].split(":") for k, a in enumerate(run) if a == "--volume"]
    mounts = {inside_at: host for host, inside_at, *_ in volumes}
    inside = workdir or flag_of(run, "--workdir", "/")
    folder = next((host + inside[len(at):] for at, host in mounts.items()
                   if inside == at or inside.startswith(at + "/")), None)
    if folder is None or not os.path.isdir(folder):
        print(f"fake engine: no folder {inside} in {name}", file=sys.stderr)
        sys.exit(126)
    with open(root / "execs.jsonl", "a") as log:
        log.write(json.dumps({"args": args, "engine_env": sorted(os.environ)}) + "\n")
    if not interactive:  # no -i: the engine attaches no input
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
    os.chdir(folder)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    os.execvpe(argv[0], argv, {**env, **box["env"], **extra})
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

    def execs(self) -> list[dict[str, list[str]]]:
        """Every exec that ran: its ``args`` and the names in the engine's ``engine_env``."""
        path = self.root / "execs.jsonl"
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
        part = self.root / "containers" / f".{name}.{os.getpid()}.part"
        part.write_text(json.dumps(box))
        os.replace(part, self.root / "containers" / f"{name}.json")


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
