"""Where credentials come from when none are passed in code: environment, config file, prompt.

Order, first found wins, per setting:

1. the environment: ``WORKANALYTICS_BASE_URL``, ``WORKANALYTICS_API_KEY``,
   ``WORKANALYTICS_USERNAME``, ``WORKANALYTICS_PASSWORD``;
2. the config file: ``$WORKANALYTICS_CONFIG``, else
   ``$XDG_CONFIG_HOME/workanalytics/config.toml`` (``~/.config/...``). It must be a regular
   file of this user with mode 0600 or narrower, else it is refused (it holds secrets).
   Top-level keys ``base_url``, ``api_key``, ``username``, ``password`` are the defaults;
   a ``[profiles.NAME]`` table overrides them when profile NAME is chosen;
3. a prompt (the caller's), for the API key and username up front and the password only
   when a login is actually needed (a cached token may make it unnecessary).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_ENV = "WORKANALYTICS_CONFIG"
PROFILE_ENV = "WORKANALYTICS_PROFILE"
ENV_NAMES = {
    "base_url": "WORKANALYTICS_BASE_URL",
    "api_key": "WORKANALYTICS_API_KEY",
    "username": "WORKANALYTICS_USERNAME",
    "password": "WORKANALYTICS_PASSWORD",
}
KEYS = tuple(ENV_NAMES)


class ConfigError(Exception):
    """The config file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ClientSettings:
    """What was found, and where each came from (for messages)."""

    base_url: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    path: Path | None = None


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workanalytics" / "config.toml"


def check_private(path: Path) -> None:
    """Refuse a file others could read or write, or that is not this user's."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{path}: not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & ~0o600:
        raise ConfigError(
            f"{path}: mode {mode:04o} is broader than 0600 and the file holds secrets; "
            f"run: chmod 600 {path}"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ConfigError(f"{path}: owned by another user")


def read_config(path: Path, profile: str | None = None) -> dict[str, str]:
    """The settings of ``path`` (top level, then the profile's over them)."""
    check_private(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    settings = _section(path, data, "top level")
    if profile is not None:
        if not isinstance(profiles, dict) or profile not in profiles:
            known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
            raise ConfigError(f"{path}: no profile {profile!r} (known: {known or 'none'})")
        settings.update(_section(path, profiles[profile], f"profile {profile}"))
    return settings


def _section(path: Path, table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} in {where} (known: {', '.join(KEYS)})"
        )
    out = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key} in {where} must be a string")
        out[key] = value
    return out


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    config_path: Path | None = None,
    profile: str | None = None,
) -> ClientSettings:
    """Environment over config file. A missing default config file is fine; a missing
    file named explicitly (argument or ``WORKANALYTICS_CONFIG``) or a profile that does
    not exist is an error."""
    env = os.environ if env is None else env
    explicit = config_path is not None or bool(env.get(CONFIG_ENV))
    path = config_path or default_config_path(env)
    profile = profile or env.get(PROFILE_ENV) or None
    from_file: dict[str, str] = {}
    if path.exists():
        from_file = read_config(path, profile)
    elif explicit:
        raise ConfigError(f"{path}: no such config file")
    elif profile is not None:
        raise ConfigError(f"profile {profile!r} chosen but there is no config file at {path}")
    values = {k: env.get(ENV_NAMES[k]) or from_file.get(k) or None for k in KEYS}
    return ClientSettings(**values, path=path if from_file or path.exists() else None)
