"""``workanalytics fetch``: reports from any Work Analytics endpoint, 8x8's or ours.

Credentials never go on the command line: they come from the environment, the config file
(mode 0600) or a prompt (see :mod:`workanalytics.client.config`). Tokens are cached on disk
(mode 0600) between calls unless ``--no-token-cache``. Every error is one line on stderr.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from datetime import date, datetime
from pathlib import Path

import click
import orjson

from workanalytics.cli import EXIT_REFUSED, EXIT_USAGE, fail, main
from workanalytics.cli.output import OUTPUT_FORMATS, emit_rows, format_option

FETCH_FORMATS = (*OUTPUT_FORMATS, "parquet")
#: The CLI's name for each API parameter, for error messages.
OPTION_OF = {"pbxId": "--pbx", "startTime": "--start", "endTime": "--end", "timeZone": "--tz"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WALL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


@main.group()
def fetch() -> None:
    """Fetch reports from a Work Analytics API (8x8's, or a workanalytics server).

    Credentials: WORKANALYTICS_API_KEY, WORKANALYTICS_USERNAME, WORKANALYTICS_PASSWORD, or
    the config file (WORKANALYTICS_CONFIG, default ~/.config/workanalytics/config.toml,
    mode 0600), else a prompt.
    """


def _bound(value: str, option: str) -> str | date | datetime:
    """``YYYY-MM-DD HH:MM:SS`` (wall clock, sent as is), ``YYYY-MM-DD`` (the whole day), or
    ISO-8601 with an offset (converted to --tz's wall clock)."""
    if _WALL.fullmatch(value):
        return value
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    else:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            instant = None
        if instant is not None and instant.tzinfo is not None:
            return instant
    raise click.BadParameter(
        'expected "YYYY-MM-DD HH:MM:SS" (local to --tz), YYYY-MM-DD, or ISO-8601 with an '
        "offset such as 2026-03-01T05:00:00Z",
        param_hint=f"'{option}'",
    )


def _prompt(text: str, *, hide: bool, missing: str) -> str:
    try:
        value = click.prompt(text, hide_input=hide, err=True)
    except click.Abort:
        fail(missing, EXIT_USAGE)
    if not value:
        fail(missing, EXIT_USAGE)
    return value


def _client(base_url: str | None, profile: str | None, timeout: float, retries: int,
            token_cache: bool, concurrency: int):  # fmt: skip
    from workanalytics.client import Client, RetryPolicy, default_cache_path
    from workanalytics.client.base import DEFAULT_BASE_URL
    from workanalytics.client.config import ConfigError, load_settings

    try:
        found = load_settings(profile=profile)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    where = f"set {{env}} or {{key}} in {found.path}" if found.path else "set {env}"
    url = base_url or found.base_url or DEFAULT_BASE_URL
    api_key = found.api_key or _prompt(
        "8x8-apikey",
        hide=True,
        missing="no API key: " + where.format(env="WORKANALYTICS_API_KEY", key="api_key"),
    )
    username = found.username or _prompt(
        "Username",
        hide=False,
        missing="no username: " + where.format(env="WORKANALYTICS_USERNAME", key="username"),
    )
    password = found.password or (
        # Asked only when a login is needed: a cached token makes it unnecessary.
        lambda: _prompt(
            f"Password for {username} at {url}",
            hide=True,
            missing="no password: " + where.format(env="WORKANALYTICS_PASSWORD", key="password"),
        )
    )
    return Client(
        url,
        api_key=api_key,
        username=username,
        password=password,
        retry=RetryPolicy(max_retries=retries),
        token_cache=default_cache_path() if token_cache else None,
        timeout=timeout,
        concurrency=concurrency,
    )


def _write_file(path: Path, names, rows, output_format: str) -> None:
    if output_format == "json":
        body = orjson.dumps([dict(zip(names, r, strict=True)) for r in rows]) + b"\n"
        path.write_bytes(body)
    elif output_format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    else:  # pragma: no cover - refused before fetching
        raise AssertionError(output_format)


@fetch.command("extsum")
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="API root (env WORKANALYTICS_BASE_URL or config; default https://api.8x8.com/analytics/work).",
)
@click.option("--profile", default=None, help="Config file profile (env WORKANALYTICS_PROFILE).")
@click.option("--pbx", required=True, help="PBX name, comma-separated names, or allpbxes.")
@click.option(
    "--start",
    required=True,
    help='Window start: "YYYY-MM-DD HH:MM:SS" local to --tz, YYYY-MM-DD, or ISO-8601 with offset.',
)
@click.option("--end", required=True, help="Window end, its second included; same forms.")
@click.option("--tz", required=True, help="IANA time zone the window is read in.")
@click.option(
    "--v1", is_flag=True, help="The deprecated v1 report (no Inbound/Outbound_Talk_Time)."
)
@click.option(
    "--every",
    type=click.Choice(["day", "week", "month"]),
    default=None,
    help="One summary per local day, ISO week or month; rows get Period, StartTime, EndTime.",
)
@click.option(
    "--columns", default=None, help="Table columns, comma-separated, or 'all' (files carry all)."
)
@format_option(choices=FETCH_FORMATS)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE instead of stdout (json, csv, parquet).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Series requests in flight.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Retries per request.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option(
    "--token-cache/--no-token-cache",
    default=True,
    show_default=True,
    help="Reuse tokens between calls (WORKANALYTICS_TOKEN_CACHE, default ~/.cache/workanalytics).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar for --every (default: on a terminal).",
)
def fetch_extsum(
    base_url: str | None,
    profile: str | None,
    pbx: str,
    start: str,
    end: str,
    tz: str,
    v1: bool,
    every: str | None,
    columns: str | None,
    output_format: str,
    out: Path | None,
    concurrency: int,
    retries: int,
    timeout: float,
    token_cache: bool,
    progress: bool | None,
) -> None:
    """Extension Summary from an API: a table, JSON as the API answers, CSV or Parquet."""
    from workanalytics.client import InvalidParameterError, WorkAnalyticsError
    from workanalytics.client.rows import column_names, to_arrow
    from workanalytics.metrics import DEFAULT_TABLE_FIELDS

    version = 1 if v1 else 2
    names = column_names(version, period=every is not None)
    start_bound, end_bound = _bound(start, "--start"), _bound(end, "--end")
    if out is not None and output_format == "table":
        fail("--out writes json, csv or parquet; choose one with --format", EXIT_USAGE)
    if out is None and output_format == "parquet" and sys.stdout.isatty():
        fail("--format parquet is binary: give --out FILE or pipe stdout", EXIT_USAGE)
    shown: list[str] | None = None
    if columns and columns != "all":
        shown = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in shown if c not in names]
        if unknown:
            fail(f"--columns: unknown field(s) {', '.join(unknown)}", EXIT_USAGE)
    elif columns is None:
        shown = [*(("Period",) if every else ()), *DEFAULT_TABLE_FIELDS]

    client = _client(base_url, profile, timeout, retries, token_cache, concurrency)
    try:
        with client:
            if every is None:
                rows = client.extension_summary(pbx, start_bound, end_bound, tz, version)
            else:
                rows = _series(client, pbx, start_bound, end_bound, tz, version, every, progress)
    except InvalidParameterError as exc:
        option = OPTION_OF.get(exc.parameter or "", "")
        fail(f"{option + ': ' if option else ''}{exc}", EXIT_USAGE)
    except WorkAnalyticsError as exc:
        fail(str(exc), EXIT_REFUSED)

    values = [r.values(names) for r in rows]
    try:
        if output_format == "parquet":
            import pyarrow.parquet as pq

            table = to_arrow(rows, version, period=every is not None)
            pq.write_table(table, out if out is not None else sys.stdout.buffer)
        elif out is not None:
            _write_file(out, names, values, output_format)
        else:
            title = f"Extension Summary {start} .. {end} {tz}" + (
                f", every {every}" if every else ""
            )
            emit_rows(names, values, output_format, table_columns=shown, title=title)
    except OSError as exc:
        fail(f"{out or 'stdout'}: {exc.strerror or exc}")
    if out is not None:
        click.echo(f"{len(rows)} row(s) written to {out}", err=True)


def _series(client, pbx, start, end, tz, version: int, every: str, progress: bool | None):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    show = sys.stderr.isatty() if progress is None else progress
    with Progress(
        TextColumn(f"extsum every {every}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task("periods", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return client.extension_summary_series(
            pbx, start, end, tz, version, every=every, on_progress=on_progress
        )
