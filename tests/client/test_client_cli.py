"""``workanalytics fetch extsum`` against our real server: every output format parsed back
and compared with the API's answer, credentials from env / config / prompt, and one line
on stderr for every error class."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from workanalytics.cli import main
from workanalytics.metrics import DEFAULT_TABLE_FIELDS, FIELD_BY_NAME

from apiserver import Api
from clientkit import DAY, api_url, closed_port_url, faulty, raw_extsum, start_server

ENV_NAMES = (
    "WORKANALYTICS_BASE_URL", "WORKANALYTICS_API_KEY", "WORKANALYTICS_USERNAME",
    "WORKANALYTICS_PASSWORD", "WORKANALYTICS_CONFIG", "WORKANALYTICS_PROFILE",
    "WORKANALYTICS_TOKEN_CACHE",
)  # fmt: skip
WINDOW = ["--start", DAY[0], "--end", DAY[1], "--tz", DAY[2]]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_server(tmp_path_factory.mktemp("cli"))
    yield a
    a.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private HOME: config and token cache live under it, never in the real one."""
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory) -> Path:
    """One HOME for the output-format tests: its token cache spares them a login each."""
    return tmp_path_factory.mktemp("shared-home")


def environment(home: Path, **values: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in ENV_NAMES}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        COLUMNS="3000",
    )
    env.update({f"WORKANALYTICS_{k.upper()}": v for k, v in values.items()})
    return env


def creds(api: Api, user: str = "alice", **over) -> dict[str, str | None]:
    values = {
        "base_url": api_url(api),
        "api_key": api.keys["default"],
        "username": user,
        "password": api.users[user].password,
    }
    values.update(over)
    return values


def run(args: list[str], env: dict, *, input: str | None = None):
    result = CliRunner(env=env).invoke(main, ["fetch", "extsum", *args], input=input)
    # never a traceback: any exception but SystemExit is a bug
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def ok(args, env, **kw):
    result = run(args, env, **kw)
    assert result.exit_code == 0, result.output
    return result


def typed(row: dict[str, str]) -> dict[str, object]:
    """A CSV row with numbers read back as numbers."""
    return {
        k: v if k not in FIELD_BY_NAME or FIELD_BY_NAME[k].kind == "directory" else int(v)
        for k, v in row.items()
    }


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a rich table (no folded cells: the terminal is wide)."""
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    names = [c.strip() for c in header.strip("┃").split("┃")]
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]
    return names, rows


# --- every output format, parsed back ---------------------------------------------------------


@pytest.mark.parametrize(("flag", "version"), [([], 2), (["--v1"], 1)])
def test_json_is_the_apis_answer(api: Api, shared_home, flag, version):
    result = ok(
        ["--pbx", "acme,beta", *WINDOW, "--format", "json", *flag],
        environment(shared_home, **creds(api)),
    )
    assert orjson.loads(result.stdout) == raw_extsum(api, "acme,beta", *DAY, version=version)
    # keys in spec order too
    assert list(orjson.loads(result.stdout)[0]) == list(
        raw_extsum(api, "acme", *DAY, version=version)[0]
    )


def test_csv_is_the_apis_answer(api: Api, shared_home):
    result = ok(
        ["--pbx", "allpbxes", *WINDOW, "--format", "csv"], environment(shared_home, **creds(api))
    )
    rows = [typed(r) for r in csv.DictReader(io.StringIO(result.stdout))]
    assert rows == raw_extsum(api, "allpbxes", *DAY)


@pytest.mark.parametrize("to_file", [True, False])
def test_parquet_is_the_apis_answer(api: Api, shared_home, tmp_path, to_file):
    out = tmp_path / "x.parquet"
    args = [
        "--pbx",
        "acme",
        *WINDOW,
        "--format",
        "parquet",
        *(["--out", str(out)] if to_file else []),
    ]
    result = ok(args, environment(shared_home, **creds(api)))
    table = pq.read_table(out if to_file else io.BytesIO(result.stdout_bytes))
    assert table.to_pylist() == raw_extsum(api, "acme", *DAY)
    assert str(table.schema.field("Inbound_Total").type) == "int64"


@pytest.mark.parametrize("columns", [None, "all", "Extension,Total_Talk_Time"])
def test_table_is_the_apis_answer(api: Api, shared_home, columns):
    args = ["--pbx", "acme,beta", *WINDOW, *(["--columns", columns] if columns else [])]
    result = ok(args, environment(shared_home, **creds(api)))
    names, rows = parse_table(result.stdout)
    expected_names = {
        None: list(DEFAULT_TABLE_FIELDS),
        "all": list(FIELD_BY_NAME),
        "Extension,Total_Talk_Time": ["Extension", "Total_Talk_Time"],
    }[columns]
    assert names == expected_names
    expected = raw_extsum(api, "acme,beta", *DAY)
    assert rows == [[str(r[n]) for n in names] for r in expected]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_out_file_is_the_apis_answer(api: Api, shared_home, tmp_path, fmt):
    out = tmp_path / f"rows.{fmt}"
    result = ok(
        ["--pbx", "acme", *WINDOW, "--format", fmt, "--out", str(out)],
        environment(shared_home, **creds(api)),
    )
    assert result.stdout == "" and "row(s) written" in result.stderr
    text = out.read_text()
    rows = (
        orjson.loads(text)
        if fmt == "json"
        else [typed(r) for r in csv.DictReader(io.StringIO(text))]
    )
    assert rows == raw_extsum(api, "acme", *DAY)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_series_is_each_periods_answer(api: Api, shared_home, tmp_path, fmt):
    out = tmp_path / f"series.{fmt}"
    args = ["--pbx", "allpbxes", "--start", "2026-02-28", "--end", "2026-03-02", "--tz", DAY[2],
            "--every", "day", "--format", fmt, "--out", str(out), "--progress"]  # fmt: skip
    ok(args, environment(shared_home, **creds(api)))
    if fmt == "csv":
        rows = [typed(r) for r in csv.DictReader(io.StringIO(out.read_text()))]
    elif fmt == "json":
        rows = orjson.loads(out.read_bytes())
    else:
        rows = pq.read_table(out).to_pylist()
    periods = sorted({(r["Period"], r["StartTime"], r["EndTime"]) for r in rows})
    assert [p[0] for p in periods] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    for label, start, end in periods:
        got = [{k: v for k, v in r.items() if k not in ("Period", "StartTime", "EndTime")}
               for r in rows if r["Period"] == label]  # fmt: skip
        assert got == raw_extsum(api, "allpbxes", start, end, DAY[2])


def test_a_series_table_shows_the_period(api: Api, shared_home):
    result = ok(
        ["--pbx", "acme", *WINDOW, "--every", "week"], environment(shared_home, **creds(api))
    )
    names, rows = parse_table(result.stdout)
    assert names[0] == "Period" and {r[0] for r in rows} == {"2026-W09"}


def test_iso_bounds_with_an_offset_are_converted_to_the_zone(api: Api, shared_home):
    args = ["--pbx", "acme", "--start", "2026-03-01T05:00:00Z", "--end", "2026-03-02T04:59:59+00:00",
            "--tz", DAY[2], "--format", "json"]  # fmt: skip
    result = ok(args, environment(shared_home, **creds(api)))
    assert orjson.loads(result.stdout) == raw_extsum(api, "acme", *DAY)


# --- credentials --------------------------------------------------------------------------------


def test_no_credential_is_an_option():
    result = CliRunner().invoke(main, ["fetch", "extsum", "--help"])
    assert result.exit_code == 0
    for word in ("--api-key", "--password", "--username", "--apikey"):
        assert word not in result.output


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    path = home / ".config" / "workanalytics" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def config_text(api: Api, base_url: str) -> str:
    return (
        f'base_url = "{base_url}"\napi_key = "{api.keys["default"]}"\n'
        f'username = "alice"\npassword = "{api.users["alice"].password}"\n'
        f'[profiles.local]\nbase_url = "{api_url(api)}"\n'
    )


def test_credentials_from_the_config_file_and_a_profile(api: Api, home):
    write_config(home, config_text(api, "http://127.0.0.1:9/analytics/work"))
    env = environment(home)
    result = ok(["--profile", "local", "--pbx", "acme", *WINDOW, "--format", "json"], env)
    assert orjson.loads(result.stdout) == raw_extsum(api, "acme", *DAY)
    # --base-url beats the file; the environment beats it too
    ok(["--base-url", api_url(api), "--pbx", "acme", *WINDOW, "--format", "json"], env)
    env["WORKANALYTICS_BASE_URL"] = api_url(api)
    ok(["--pbx", "acme", *WINDOW, "--format", "json"], env)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700])
def test_a_config_file_others_may_read_is_refused(api: Api, home, mode):
    path = write_config(home, config_text(api, api_url(api)), mode)
    result = run(["--pbx", "acme", *WINDOW], environment(home))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: mode {mode:04o} is broader than 0600 and the file holds secrets; "
        f"run: chmod 600 {path}"
    )


def test_config_file_mistakes_are_one_line(api: Api, home):
    write_config(home, 'api_key = "k"\npasword = "typo"\n')
    result = run(["--pbx", "acme", *WINDOW], environment(home))
    assert result.exit_code == 2 and "unknown key(s) pasword" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    env = environment(home, config=str(home / "missing.toml"))
    assert "no such config file" in run(["--pbx", "acme", *WINDOW], env).stderr


def test_credentials_from_a_prompt(api: Api, home):
    env = environment(home, base_url=api_url(api))
    typed_in = f"{api.keys['default']}\nalice\n{api.users['alice'].password}\n"
    result = ok(["--pbx", "acme", *WINDOW, "--format", "json"], env, input=typed_in)
    assert orjson.loads(result.stdout) == raw_extsum(api, "acme", *DAY)
    assert "8x8-apikey" in result.stderr and "Password for alice" in result.stderr
    assert api.users["alice"].password not in result.output  # hidden input


def test_nothing_to_prompt_from_is_a_clear_error(api: Api, home):
    result = run(["--pbx", "acme", *WINDOW], environment(home, base_url=api_url(api)), input="")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == "error: no API key: set WORKANALYTICS_API_KEY"


def test_the_token_cache_spares_the_next_calls_password(api: Api, home):
    env = environment(home, **creds(api, password=None))
    ok(
        ["--pbx", "acme", *WINDOW, "--format", "json"],
        env,
        input=api.users["alice"].password + "\n",
    )
    cache = home / ".cache" / "workanalytics" / "tokens.json"
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    result = ok(["--pbx", "acme", *WINDOW, "--format", "json"], env, input="")  # no prompt
    assert "Password" not in result.stderr
    result = run(["--no-token-cache", "--pbx", "acme", *WINDOW], env, input="")
    assert result.exit_code == 2 and "no password" in result.stderr


# --- one line for every error -------------------------------------------------------------------


def one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_error_invalid_api_key(api: Api, home):
    line = one_error_line(
        run(["--pbx", "acme", *WINDOW], environment(home, **creds(api, api_key="nope"))), 1
    )
    assert line == "error: invalid API key (SHA001): Invalid 8x8-apikey"


def test_error_invalid_grant(api: Api, home):
    line = one_error_line(
        run(["--pbx", "acme", *WINDOW], environment(home, **creds(api, password="bad"))), 1
    )
    assert line == "error: login refused (invalid_grant): USER_NOTFOUND_ERROR"


def test_error_access_denied(api: Api, home):
    line = one_error_line(
        run(["--pbx", "beta", *WINDOW], environment(home, **creds(api, "bob"))), 1
    )
    assert "access denied (HTTP 403): user(bob) does not have access to pbxId(beta)" in line


def test_error_token_expired(api: Api, home):
    def age_tokens(path: str) -> None:
        if path.endswith("/oauth/token"):
            api.clock.advance(4000)

    before = api.clock()
    try:
        with faulty(api, times=0, after=age_tokens) as (url, _):
            env = environment(home, **creds(api, base_url=api_url(url)))
            line = one_error_line(run(["--pbx", "acme", *WINDOW], env), 1)
    finally:
        api.clock.set(before)
    assert line == "error: token refused (invalid_token): Access token expired"


def test_error_rate_limited(api: Api, home):
    with faulty(api, times=1, status=429, retry_after="3600") as (url, _):
        env = environment(home, **creds(api, base_url=api_url(url)))
        line = one_error_line(run(["--pbx", "acme", *WINDOW], env), 1)
    assert line == "error: rate limited (HTTP 429): slow down; retry after 3600 s"


def test_error_server_error(api: Api, home, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.svc.store, "extension_summary_json", broken)
    result = run(["--retries", "0", "--pbx", "acme", *WINDOW], environment(home, **creds(api)))
    assert one_error_line(result, 1) == "error: server error (HTTP 500): Internal Server Error"


def test_error_no_connection(api: Api, home):
    env = environment(home, **creds(api, base_url=api_url(closed_port_url())))
    line = one_error_line(run(["--retries", "0", "--pbx", "acme", *WINDOW], env), 1)
    assert line.startswith("error: no answer from http://127.0.0.1:") and "ConnectError" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", DAY[1], "--end", DAY[0], "--tz", DAY[2]],
         "error: --end: invalid parameter endTime: endTime is before startTime"),
        (["--start", DAY[0], "--end", DAY[1], "--tz", "Mars/Olympus"],
         "error: --tz: invalid parameter timeZone: timeZone is not a known time zone"),
        (["--start", "2026-02-30 00:00:00", "--end", DAY[1], "--tz", DAY[2]],
         "error: --start: invalid parameter startTime: startTime is not a valid date and time"),
    ],
)  # fmt: skip
def test_error_invalid_parameter(api: Api, home, args, expected):
    line = one_error_line(run(["--pbx", "acme", *args], environment(home, **creds(api))), 2)
    assert line.startswith(expected)


def test_a_malformed_bound_is_a_usage_error(api: Api, home):
    result = run(["--pbx", "acme", "--start", "yesterday", "--end", DAY[1], "--tz", DAY[2]],
                 environment(home, **creds(api)))  # fmt: skip
    assert result.exit_code == 2 and "'--start'" in result.stderr


def test_table_output_cannot_go_to_a_file(api: Api, home, tmp_path):
    result = run(
        ["--pbx", "acme", *WINDOW, "--out", str(tmp_path / "t.txt")],
        environment(home, **creds(api)),
    )
    assert one_error_line(result, 2).startswith("error: --out writes json, csv or parquet")


def test_error_invalid_token(api: Api, home):
    keys = api.svc.keys

    def retire_signer(path: str) -> None:  # each token's key is gone by the time it is used
        if path.endswith("/oauth/token"):
            old = keys.active_kid()
            keys.rotate()
            (keys.store.directory / f"{old}.retired").write_text("0")
            keys.prune()

    with faulty(api, times=0, after=retire_signer) as (url, _):
        env = environment(home, **creds(api, base_url=api_url(url)))
        line = one_error_line(run(["--pbx", "acme", *WINDOW], env), 1)
    assert line == "error: token refused (invalid_token): Invalid access token"
