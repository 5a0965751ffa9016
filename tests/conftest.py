"""Shared fixtures: an isolated environment, an embedded chain, a real anvil node."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from l2gpu.l1 import Chain, compile_contract
from l2gpu.l1.embedded import start_embedded_chain

from .parts import missing_part

# A local Ray cluster's head waits about 20 s for its GCS server to answer; with both
# cores busy with other tests it may take longer. Ray honours this budget exactly
# (seconds), for the head and the drivers joining it.
os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
# Ray (2.59 on) turns token authentication on for a new local cluster when this is
# unset, by writing "token" into os.environ and refreshing its C++ config. A test
# process whose config was first read as "disabled" then started a GCS server that
# required a token its own driver would not send ("Failed to start GCS ...
# InvalidAuthToken ... RAY_AUTH_MODE is currently 'disabled'"). One mode for every
# test process and the processes they start keeps driver, servers and agents alike.
os.environ["RAY_AUTH_MODE"] = "disabled"


@contextlib.contextmanager
def one_ray_cluster_at_a_time() -> Iterator[None]:
    """Hold the machine-wide lock of the tests' local Ray clusters.

    Two heads started at once by two test workers share /tmp/ray and both cores; a
    module that starts a cluster holds this lock (a file lock, so across worker
    processes) until the cluster is shut down."""
    lock = Path(tempfile.gettempdir()) / "l2gpu-tests-ray-cluster.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the other worker's module
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


REPO = Path(__file__).resolve().parents[1]

ANVIL = REPO / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
# anvil's well-known dev keys (mnemonic "test test ... junk"): funded on anvil only.
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
]


# The cache of the user running the tests, read before any test moves HOME. Everything in
# it is keyed by a content hash (contracts by source and compiler, circuits by source and
# toolchain, Groth16 keys by circuit), so a second clone or a second run reuses what the
# first compiled: a fresh circuit costs minutes of circom and setup.
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").resolve()


@pytest.fixture(autouse=True, scope="session")
def shared_contract_cache() -> None:
    """Compiled contracts, circuits and development keys cached by content hash in one
    folder for every worker and every command a test runs (they inherit XDG_CACHE_HOME)."""
    from l2gpu.l1 import build

    os.environ["XDG_CACHE_HOME"] = str(USER_CACHE)
    build.SHARED_CACHE_DIR = build.user_cache()


SHARED_PROVING_KEYS = frozenset(
    f"tests/zk/{name}.py"
    for name in ("test_bench_zk", "test_zk_escape_hatch", "test_zk_forced_exits", "test_zk_node",
                 "test_zk_node_api", "test_zk_rollup_batches", "test_zk_shard_moves_bench",
                 "test_zk_shards", "test_zk_validium")
)  # fmt: skip
"""The modules that prove with the tests' batch circuits in the worker itself. Loading
a batch circuit's proving key costs a process about 24 s of a core (groth16py checks
every point), and a worker keeps the keys it loaded (``l2gpu.zk.setup``): ``make test``
hands these modules to one worker, which loads each key once, instead of to all three."""


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with :data:`SHARED_PROVING_KEYS` as one file."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class KeySharingScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return (
                "the modules that share proving keys" if module in SHARED_PROVING_KEYS else module
            )

    return KeySharingScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a ``slow`` test run first, in their collection order.

    ``make test`` hands whole modules to its three workers (``--dist loadfile``, so that
    a module's fixtures, such as one proving node, are made once): one more than the
    machine's two cores, since many tests wait on processes, nodes and batches for part
    of their time. Handing the modules that take minutes out first keeps a worker from
    starting one when the others have nothing left to do.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)  # a stable sort keeps the order


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the developer's L2GPU_* variables, l2gpu.toml or home folder."""
    for key in list(os.environ):
        if key.startswith("L2GPU_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def token_compiled(tmp_path_factory: pytest.TempPathFactory):
    """TestToken, compiled once per session."""
    return compile_contract("tokens/TestToken.vy", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def module_chain() -> Chain:
    """One embedded chain per test module."""
    return start_embedded_chain()


@pytest.fixture
def chain(module_chain: Chain) -> Iterator[Chain]:
    """The module's chain, rolled back to a snapshot after each test."""
    snapshot = module_chain.snapshot()
    yield module_chain
    module_chain.revert(snapshot)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    """A real anvil node on loopback (installed by `make tools`)."""
    binary = shutil.which("anvil") or (str(ANVIL) if ANVIL.exists() else None)
    if binary is None:
        missing_part("anvil is not installed: run 'make tools' (needs npm on linux-x86_64)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--host", "127.0.0.1", "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)  # waiting for a process to start, not for simulated time
        else:
            pytest.fail("anvil did not start listening within 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_reachable() -> str | None:
    """None if the PostgreSQL test server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3
        ):
            return None
    except Exception as exc:  # any failure means: skip, saying why
        return f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {exc}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str | None]]:
    """A fresh database: a SQLite file, or a private schema on the PostgreSQL test server.

    Yields ``(url, schema)`` for :func:`l2gpu.db.open_database`.
    """
    yield from _database(request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str | None]]:
    """As ``database_url``, shared by the tests of one module (property tests that
    send hundreds of requests to one server)."""
    yield from _database(request.param, tmp_path_factory.mktemp("db"))


def _database(kind: str, folder: Path) -> Iterator[tuple[str, str | None]]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'l2gpu.db'}", None
        return
    reason = _postgres_reachable()
    if reason is not None:
        missing_part(reason)
    import uuid

    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield POSTGRES_URL, schema
    engine = sqlalchemy.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
