"""Settings: sources and their order, unknown settings, bad values, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.config import ConfigError, describe, load_settings, market_url

KEY = "0x" + "0" * 63 + "7"


def test_defaults_are_embedded() -> None:
    settings = load_settings()
    assert settings.l1_rpc is None
    assert settings.settlement == "hybrid"
    assert settings.effective_database_url.startswith("sqlite:///")


def test_order_is_flags_then_environment_then_file(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("l2gpu.toml").write_text('l1_rpc = "http://file:1"\napi_port = 9000\n')
    assert load_settings().l1_rpc == "http://file:1"
    monkeypatch.setenv("L2GPU_L1_RPC", "http://env:2")
    settings = load_settings()
    assert settings.l1_rpc == "http://env:2"
    assert settings.api_port == 9000
    assert load_settings(l1_rpc="http://flag:3").l1_rpc == "http://flag:3"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.toml"
    other.write_text('settlement = "channel-l1"\n')
    monkeypatch.setenv("L2GPU_CONFIG", str(other))
    assert load_settings().settlement == "channel-l1"
    monkeypatch.setenv("L2GPU_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_unknown_settings_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2GPU_L1_PRC", "http://x:1")
    with pytest.raises(ConfigError, match="unknown setting L2GPU_L1_PRC.*L2GPU_L1_RPC"):
        load_settings()
    monkeypatch.delenv("L2GPU_L1_PRC")
    Path("l2gpu.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("l1_rpc = 'ftp://host'", "scheme must be http"),
        ("l1_rpc = 'http://'", "names no host"),
        ("l1_rpc = 'http://host:99999'", "port is not a number"),
        ("api_port = 0", "api_port"),
        ("settlement = 'teleport'", "settlement"),
        ("private_key = '0x1234'", "64 hex digits"),
        ("node_url = 'ftp://node'", "setting node_url: invalid service URL.*scheme must be http"),
        ("market_url = 'http://'", "setting market_url: invalid service URL.*names no host"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_values_name_the_setting(content: str, problem: str) -> None:
    Path("l2gpu.toml").write_text(content + "\n")
    with pytest.raises(ConfigError, match=problem):
        load_settings()


def test_secrets_are_masked_when_shown() -> None:
    rows = {name: value for name, value, _ in describe(load_settings(private_key=KEY))}
    assert rows["private_key"] == "********"
    assert KEY[-10:] not in " ".join(rows.values())


def test_service_urls_come_from_the_environment_and_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().node_url is None
    assert market_url(load_settings()) == "http://127.0.0.1:8600"
    Path("l2gpu.toml").write_text('market_url = "http://market:1/"\n')
    assert market_url(load_settings()) == "http://market:1"
    monkeypatch.setenv("L2GPU_NODE_URL", "http://node:2")
    assert load_settings().node_url == "http://node:2"


@pytest.mark.parametrize(
    ("content", "names", "not_named"),
    [
        ("l1_rpc = 'ftp://host'", "or pass --l1-rpc", None),
        ("api_port = 0", "L2GPU_API_PORT", "or pass"),  # no flag sets it: none is named
    ],
)
def test_a_bad_setting_names_only_flags_that_exist(
    content: str, names: str, not_named: str | None
) -> None:
    """Issue #23: the hint said "or a flag" for settings no flag sets."""
    Path("l2gpu.toml").write_text(content + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert names in caught.value.fix
    assert "or a flag" not in caught.value.fix
    if not_named:
        assert not_named not in caught.value.fix
