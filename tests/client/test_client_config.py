"""Credentials for the command line: environment over config file; the file kept private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workanalytics.client.config import ConfigError, default_config_path, load_settings

TEXT = """
base_url = "http://file/analytics/work"
api_key = "file-key"
username = "file-user"
password = "file-pw"

[profiles.eu]
base_url = "http://eu/analytics/work"
username = "eu-user"
"""


def config(tmp_path: Path, text: str = TEXT, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_the_file_fills_what_the_environment_does_not(tmp_path):
    path = config(tmp_path)
    s = load_settings({"WORKANALYTICS_CONFIG": str(path), "WORKANALYTICS_USERNAME": "env-user"})
    assert (s.base_url, s.api_key, s.username, s.password) == (
        "http://file/analytics/work", "file-key", "env-user", "file-pw",
    )  # fmt: skip
    assert s.path == path


def test_a_profile_overrides_the_top_level(tmp_path):
    s = load_settings({}, config_path=config(tmp_path), profile="eu")
    assert (s.base_url, s.username, s.api_key) == (
        "http://eu/analytics/work",
        "eu-user",
        "file-key",
    )
    s = load_settings({"WORKANALYTICS_PROFILE": "eu"}, config_path=config(tmp_path))
    assert s.username == "eu-user"
    with pytest.raises(ConfigError, match="no profile 'us' \\(known: eu\\)"):
        load_settings({}, config_path=config(tmp_path), profile="us")


def test_no_default_file_is_fine_but_a_named_one_must_exist(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "nothing")}
    assert default_config_path(env) == tmp_path / "nothing" / "workanalytics" / "config.toml"
    assert load_settings(env) == load_settings(env)  # empty, no error
    assert load_settings(env).api_key is None
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings({"WORKANALYTICS_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigError, match="no config file"):
        load_settings(env, profile="eu")


@pytest.mark.parametrize("mode", [0o644, 0o660, 0o606, 0o611, 0o700])
def test_a_file_broader_than_0600_is_refused(tmp_path, mode):
    with pytest.raises(ConfigError, match=f"mode {mode:04o} is broader than 0600"):
        load_settings({}, config_path=config(tmp_path, mode=mode))


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_file_is_read(tmp_path, mode):
    assert load_settings({}, config_path=config(tmp_path, mode=mode)).api_key == "file-key"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('apikey = "x"\n', "unknown key\\(s\\) apikey"),
        ("api_key = 5\n", "must be a string"),
        ("api_key = \n", "not valid TOML"),
        ('profiles = "x"\n', "no profile"),
    ],
)
def test_mistakes_in_the_file_are_named(tmp_path, text, message):
    profile = "x" if text.startswith("profiles") else None
    with pytest.raises(ConfigError, match=message):
        load_settings({}, config_path=config(tmp_path, text), profile=profile)


def test_a_directory_is_not_a_config_file(tmp_path):
    d = tmp_path / "dir.toml"
    d.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings({}, config_path=d)
