"""The shard launcher's own rules, without its processes: a recorded bridge of
another shard count is refused (its accounts are routed by that count), and a shard's
log is kept bounded while its process writes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.cli.shards_cmd import _deploy_or_find, rotate_if_large
from l2gpu.config import load_settings
from l2gpu.core.errors import L2gpuError
from l2gpu.l1.embedded import start_embedded_chain


def test_a_recorded_bridge_of_another_shard_count_is_refused(tmp_path: Path) -> None:
    chain = start_embedded_chain()
    settings = load_settings(data_dir=tmp_path)
    operator = chain.accounts[0]
    bridge = _deploy_or_find(chain, settings, operator, 2, 60, 60)
    assert _deploy_or_find(chain, settings, operator, 2, 60, 60) == bridge  # found again
    with pytest.raises(L2gpuError) as refused:
        _deploy_or_find(chain, settings, operator, 3, 60, 60)
    assert "has 2 shards, not 3" in refused.value.what
    assert "--shards 2" in refused.value.fix


def test_a_shard_log_past_its_limit_keeps_one_older_copy(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    with open(log, "ab") as child:  # as the shard's process holds it: appending
        child.write(b"a" * 100)
        child.flush()
        assert rotate_if_large(log, limit=150) is False
        child.write(b"b" * 100)
        child.flush()
        assert rotate_if_large(log, limit=150) is True
        assert log.stat().st_size == 0
        assert (tmp_path / "up.log.1").read_bytes() == b"a" * 100 + b"b" * 100
        child.write(b"next line\n")  # the child writes on, at the start of the file
        child.flush()
    assert log.read_bytes() == b"next line\n"
    assert rotate_if_large(tmp_path / "gone.log") is False
