"""Effective settings: embedded defaults < ``l2gpu.toml`` < ``L2GPU_*`` environment < flags.

pydantic-settings reads the sources; this module adds what users need around it:
unknown settings are errors (a typo such as ``L2GPU_L1_PRC`` must not be ignored
silently), every error names the setting and says what to do, and secrets are
masked when settings are shown.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import ParseResult, urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue, L2gpuError

ENV_PREFIX = "L2GPU_"
CONFIG_FILE_ENV = "L2GPU_CONFIG"
DEBUG_ENV = "L2GPU_DEBUG"
DEFAULT_CONFIG_FILE = "l2gpu.toml"

SettlementDesign = Literal["channel-l1", "optimistic", "zk", "plasma", "hybrid", "sharded"]


class ConfigError(L2gpuError):
    """The settings (file, environment or flags) are not valid."""


class Settings(BaseSettings):
    """All settings of l2gpu, with their embedded defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".l2gpu",
        description="where l2gpu keeps its database, keystores and build cache",
    )
    l1_rpc: str | None = Field(
        default=None,
        description="Ethereum JSON-RPC URL of the L1; unset means the embedded py-evm chain",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means a SQLite file in data_dir"
    )
    settlement: SettlementDesign = Field(
        default="hybrid",
        description="settlement design used by leases (hybrid, zk, plasma, sharded or channel-l1)",
    )
    private_key: SecretStr | None = Field(
        default=None, description="hex private key (prefer keystore for real funds)"
    )
    keystore: Path | None = Field(default=None, description="encrypted keystore file (eth-account)")
    keystore_password: SecretStr | None = Field(
        default=None, description="password of the keystore file"
    )
    api_host: str = Field(default="127.0.0.1", description="address the API listens on")
    api_port: int = Field(default=8600, ge=1, le=65535, description="port of the API")
    api_origin: str | None = Field(
        default=None,
        description="origin clients reach the market API at (scheme://host[:port]), which "
        "sign-in messages name; unset means http://api_host:api_port as served",
    )
    node_url: str | None = Field(
        default=None,
        description="URL of the rollup node ('l2gpu up') that --node defaults to; unset means "
        "http://127.0.0.1:8600 for 'l2gpu l2', and no node (no hybrid rail) for the market",
    )
    market_url: str | None = Field(
        default=None,
        description="URL of the market API that --api-url defaults to; unset means "
        "http://api_host:api_port",
    )
    hub_url: str | None = Field(
        default=None,
        description="URL of the hub ('l2gpu hub') that 'rent --hub' defaults to: it carries "
        "leases to providers on other shards (settlement sharded)",
    )
    shard_nodes: list[str] = Field(
        default_factory=list,
        description="URLs of every shard's rollup node, in shard order, that 'rent "
        "--shard-node' defaults to (settlement sharded; in the environment a JSON list)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")

    @field_validator("l1_rpc")
    @classmethod
    def _check_rpc_url(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_rpc_url(value)

    @field_validator("api_origin")
    @classmethod
    def _check_api_origin(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_origin(value)

    @field_validator("node_url", "market_url", "hub_url")
    @classmethod
    def _check_service_url(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_service_url(value)

    @field_validator("shard_nodes")
    @classmethod
    def _check_shard_nodes(cls, value: list[str]) -> list[str]:
        return [check_service_url(url) for url in value]

    @field_validator("private_key")
    @classmethod
    def _check_private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            PrivateKey.from_hex(value.get_secret_value())
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the setting, else a SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'l2gpu.db'}"

    @property
    def cache_dir(self) -> Path:
        """Where compiled contracts are cached: the user's cache folder (XDG), shared by
        every command and node, keyed by the contracts' source hash."""
        return user_cache()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then environment, then the TOML file, then defaults."""
        toml_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def check_rpc_url(value: str) -> str:
    """Return ``value`` if it is an http(s) or ws(s) URL with a host, else raise InvalidValue."""
    fix = "give a URL such as http://127.0.0.1:8545, or unset it to use the embedded chain"
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https", "ws", "wss"):
        raise InvalidValue("L1 RPC URL", value, "the scheme must be http, https, ws or wss", fix)
    if not parsed.hostname:
        raise InvalidValue("L1 RPC URL", value, "it names no host", fix)
    try:
        _ = parsed.port
    except ValueError as exc:
        raise InvalidValue("L1 RPC URL", value, "its port is not a number in 0-65535", fix) from exc
    return value


def _http_with_host(value: str, what: str, fix: str) -> ParseResult:
    """``value`` parsed, if it is an http(s) URL naming a host; else raise InvalidValue."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https"):
        raise InvalidValue(what, value, "the scheme must be http or https", fix)
    if not parsed.hostname:
        raise InvalidValue(what, value, "it names no host", fix)
    return parsed


def check_service_url(value: str) -> str:
    """``value`` without a trailing slash if it is an http(s) URL with a host (a rollup
    node's or the market's), else raise InvalidValue."""
    fix = "give a URL such as http://127.0.0.1:8600"
    parsed = _http_with_host(value, "service URL", fix)
    try:
        _ = parsed.port
    except ValueError as exc:
        raise InvalidValue(
            "service URL", value, "its port is not a number in 0-65535", fix
        ) from exc
    return value.rstrip("/")


def check_origin(value: str) -> str:
    """``value`` without a trailing slash if it is an http(s) origin: a scheme, a host,
    perhaps a port, and nothing else; else raise InvalidValue."""
    fix = "give the API's public origin, such as https://market.example.org or http://10.0.0.5:8600"
    parsed = _http_with_host(value, "API origin", fix)
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        raise InvalidValue("API origin", value, "an origin has no path, query or user", fix)
    try:
        _ = parsed.port
    except ValueError as exc:
        raise InvalidValue("API origin", value, "its port is not a number in 0-65535", fix) from exc
    return value.rstrip("/")


def api_origin(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """The market API's origin: the ``api_origin`` setting, else the host and port it is
    served on (``host``/``port`` when given, else ``api_host``/``api_port``)."""
    if settings.api_origin:
        return settings.api_origin
    host = host or settings.api_host
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    return f"http://{shown}:{port or settings.api_port}"


def market_url(settings: Settings) -> str:
    """The market API URL commands talk to: the ``market_url`` setting, else
    ``http://api_host:api_port``."""
    return settings.market_url or f"http://{settings.api_host}:{settings.api_port}"


def _config_file() -> Path | None:
    explicit = os.environ.get(CONFIG_FILE_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} (from {CONFIG_FILE_ENV}) does not exist",
                f"create it or unset {CONFIG_FILE_ENV}",
            )
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def config_file_path() -> Path:
    """The config file l2gpu reads, and 'l2gpu account use' writes: ``$L2GPU_CONFIG``,
    else ``l2gpu.toml`` in the working folder (whether or not it exists yet)."""
    explicit = os.environ.get(CONFIG_FILE_ENV)
    return Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)


def write_setting(name: str, value: str) -> Path:
    """Set the top-level string setting ``name`` to ``value`` in the config file
    (:func:`config_file_path`), creating the file when missing; return its path.

    The file is edited as text, not rewritten, so that its comments and the other
    settings stay as they are: the line ``name = ...`` is replaced, or a new one goes
    before the first table (settings are top-level keys).
    """
    if name not in Settings.model_fields:
        raise ConfigError(f"unknown setting '{name}'")
    path = config_file_path()
    try:
        text = path.read_text() if path.exists() else ""
        tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"the config file {path} is not valid TOML ({exc})",
            "fix the line it names; nothing was written",
        ) from exc
    # A TOML basic string is JSON's string syntax (escapes included).
    line = f"{name} = {json.dumps(value)}"
    lines = text.splitlines()
    key = re.compile(rf"\s*{re.escape(name)}\s*=")
    table = next((i for i, old in enumerate(lines) if old.lstrip().startswith("[")), len(lines))
    found = next((i for i, old in enumerate(lines[:table]) if key.match(old)), None)
    if found is not None:
        lines[found] = line
    else:
        lines.insert(table, line)
    new_text = "\n".join(lines) + "\n"
    if tomllib.loads(new_text).get(name) != value:  # e.g. a multi-line value we cannot edit
        raise ConfigError(
            f"cannot set {name} in {path} by editing one line",
            f"set it by hand: {line}",
        )
    try:
        path.write_text(new_text)
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror}") from exc
    return path


def load_settings(**overrides: Any) -> Settings:
    """Read the effective settings; ``overrides`` (from flags) win over everything else.

    Raises :class:`ConfigError` for an unknown setting, a malformed TOML file or an
    invalid value, naming the setting and its source.
    """
    known = set(Settings.model_fields)
    # L2GPU_DEBUG is read by the CLI's error handler, not a setting; L2GPU_BENCH_* size
    # the benchmark suites (read by l2gpu.bench).
    unknown_env = sorted(
        key
        for key in os.environ
        if key.startswith(ENV_PREFIX)
        and key not in (CONFIG_FILE_ENV, DEBUG_ENV)
        and not key.startswith(ENV_PREFIX + "BENCH_")
        and key[len(ENV_PREFIX) :].lower() not in known
    )
    if unknown_env:
        raise ConfigError(
            f"unknown setting {unknown_env[0]} in the environment",
            f"remove it or use one of: {', '.join(ENV_PREFIX + k.upper() for k in sorted(known))}",
        )
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"the config file is not valid TOML ({exc})", "fix the line it names"
        ) from exc
    except ValidationError as exc:
        raise _explain(exc) from exc
    except InvalidValue as exc:
        raise ConfigError(str(exc)) from exc


SETTING_FLAGS = {
    "l1_rpc": "--l1-rpc",
    "data_dir": "--data-dir",
    "private_key": "--private-key",
    "keystore": "--keystore",
    "node_url": "--node",
    "market_url": "--api-url",
    "hub_url": "--hub",
    "shard_nodes": "--shard-node",
}
"""The flags that set a setting for one command (the others have none: name no flag)."""


def _explain(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
    name = ".".join(str(p) for p in error["loc"]) or "settings"
    if error["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown setting '{name}'",
            f"remove it or use one of: {', '.join(sorted(Settings.model_fields))}",
        )
    flag = SETTING_FLAGS.get(name)
    where = f"set it in {DEFAULT_CONFIG_FILE} or {ENV_PREFIX}{name.upper()}" + (
        f", or pass {flag}" if flag else ""
    )
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, InvalidValue):
        return ConfigError(f"setting {name}: {cause.what}", f"{cause.fix}; {where}")
    value = "(hidden)" if "key" in name else repr(error.get("input"))
    return ConfigError(f"setting {name} = {value} is not valid: {error['msg']}", where)


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Rows of ``(setting, effective value, description)`` with secrets masked."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "********" if value.get_secret_value() else "(empty)"
        elif value is None:
            shown = "(unset)"
        else:
            shown = str(value)
        rows.append((name, shown, field.description or ""))
    rows.append(("(database in force)", settings.effective_database_url, "derived"))
    return rows


def user_cache() -> Path:
    """The user's l2gpu cache folder: ``$XDG_CACHE_HOME/l2gpu`` (``~/.cache/l2gpu``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "l2gpu"
