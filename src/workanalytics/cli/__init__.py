"""The ``workanalytics`` command: a thin layer over the library.

Each command parses its options, calls one library function and prints the result with the
shared ``--format`` flag. Errors are one line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from workanalytics import __version__
from workanalytics.cli.output import emit_rows, format_option
from workanalytics.settings import (
    CLUSTER_ENV,
    CONFIG_ENV,
    CONTROL_ENV,
    DATA_DIR_ENV,
    STORE_ENV,
    Settings,
)

#: Exit codes: 1 for data that was refused, 2 for a bad parameter (click's own usage code).
EXIT_REFUSED = 1
EXIT_USAGE = 2


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings

    def open_store(self, *, read_only: bool = False):
        from workanalytics.store import open_store

        return open_store(self.settings, read_only=read_only)

    def open_control(self):
        """The control plane of the settings, or a one-line error when it cannot be opened."""
        from workanalytics.control.factory import open_control
        from workanalytics.control.plane import ControlUnavailable

        try:
            return open_control(self.settings)
        except (ControlUnavailable, ValueError) as exc:
            fail(str(exc))


def fail(message: str, code: int = EXIT_REFUSED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where the store lives (env {DATA_DIR_ENV}; default ./workanalytics-data).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"A TOML file of settings (env {CONFIG_ENV}); flags and env win over it.",
)
@click.option(
    "--store",
    default=None,
    metavar="URL",
    help=f"Where the legs live: clickhouse://HOST:PORT/DB (env {STORE_ENV}); "
    "default the DuckDB file in the data dir.",
)
@click.option(
    "--cluster",
    default=None,
    metavar="NAME",
    help=f"ClickHouse cluster: tables on every shard, sharded by PBX (env {CLUSTER_ENV}).",
)
@click.option(
    "--control",
    default=None,
    metavar="URL",
    help=f"Where users, keys and signing keys live: postgresql://... (env {CONTROL_ENV}); "
    "default SQLite in the data dir.",
)
@click.version_option(__version__, prog_name="workanalytics")
@click.pass_context
def main(
    ctx: click.Context,
    data_dir: Path | None,
    config: Path | None,
    store: str | None,
    cluster: str | None,
    control: str | None,
) -> None:
    """Self-hosted Work Analytics: call legs in, 8x8-style Extension Summary out."""
    try:
        ctx.obj = Context(
            Settings.from_env(
                data_dir, config=config, store=store, cluster=cluster, control=control
            )
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


def _store_errors():
    from workanalytics.store import StoreError

    return (StoreError,)


@main.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Create the data directory: the store, the control plane with the `default` customer,
    and the token signing key (safe to run again)."""
    from workanalytics.control.factory import open_keyring

    try:
        obj.open_store().close()
    except _store_errors() as exc:
        fail(str(exc))
    obj.settings.data_dir.mkdir(parents=True, exist_ok=True)  # a scale-out store makes none
    obj.settings.data_dir.chmod(0o700)  # keys and password hashes live here
    control = obj.open_control()
    try:
        control.ensure_customer()
        kid = open_keyring(obj.settings, control).ensure()
    finally:
        control.close()
    click.echo(f"data dir ready at {obj.settings.data_dir} (signing key {kid})")


@main.group()
def directory() -> None:
    """The extension directory: names, branches and departments of extensions."""


@directory.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def directory_import(obj: Context, file: Path) -> None:
    """Insert or replace directory rows from a CSV with the header
    pbx_id,extension,service_type,first_name,last_name,branch,department,email,username."""
    from workanalytics.directory import DirectoryError, read_directory_csv

    try:
        rows = read_directory_csv(file)
        with obj.open_store() as store:
            count = store.upsert_directory(rows)
    except DirectoryError as exc:
        fail(str(exc))
    except _store_errors() as exc:
        fail(str(exc))
    click.echo(f"{file}: {count} directory row(s) stored")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "input_format",
    default=None,
    help=(
        "Input format (csv, jsonl, parquet, 8x8-json, asterisk-csv, freeswitch-json, "
        "freeswitch-csv); default from the file name."
    ),
)
@click.option(
    "--skip-invalid", is_flag=True, help="Store good rows; write bad ones to a reject file."
)
@click.option(
    "--reject-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where --skip-invalid writes bad rows (default: DATA_DIR/rejects/).",
)
@click.option("--ignore-unknown", is_flag=True, help="Skip columns that are not canonical.")
@click.option(
    "--source-tz",
    default=None,
    metavar="ZONE",
    help="IANA time zone of local times in PBX records (asterisk-csv, freeswitch-csv).",
)
@click.option(
    "--pbx",
    "source_pbx",
    default=None,
    metavar="NAME",
    help="PBX name for records that do not carry one (asterisk-csv, freeswitch-*).",
)
@click.option(
    "--columns",
    "cdr_columns",
    default=None,
    metavar="NAMES",
    help="Comma-separated column names of a header-less cdr_custom file (asterisk-csv).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@click.option(
    "--server",
    default=None,
    metavar="URL",
    help="Send the files to a running server (its online ingest) instead of the local store.",
)
@click.option(
    "--api-key",
    envvar="WORKANALYTICS_API_KEY",
    default=None,
    help="Admin API key for --server (env WORKANALYTICS_API_KEY).",
)
@format_option(flag="--output-format")  # --format names the input format here
@click.pass_obj
def ingest(
    obj: Context,
    files: tuple[Path, ...],
    input_format: str | None,
    skip_invalid: bool,
    reject_file: Path | None,
    ignore_unknown: bool,
    source_tz: str | None,
    source_pbx: str | None,
    cdr_columns: str | None,
    progress: bool | None,
    server: str | None,
    api_key: str | None,
    output_format: str,
) -> None:
    """Store call legs from files, each file whole or not at all."""
    if server is not None:
        _ingest_remote(server, api_key, files, input_format, skip_invalid, output_format)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from workanalytics.ingest.run import ingest_paths

    show = sys.stderr.isatty() if progress is None else progress
    try:
        store = obj.open_store()
    except _store_errors() as exc:
        fail(str(exc))
    with (
        store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            disable=not show,
            transient=True,
        ) as bar,
    ):
        tasks: dict[Path, int] = {}

        def on_progress(path: Path, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(path.name, total=total or None)
            bar.update(tasks[path], completed=done, total=total or None)

        try:
            outcome = ingest_paths(
                store,
                files,
                fmt=input_format,
                skip_invalid=skip_invalid,
                ignore_unknown=ignore_unknown,
                reject_path=reject_file,
                on_progress=on_progress,
                source_tz=source_tz,
                columns=cdr_columns.split(",") if cdr_columns else None,
                pbx_id=source_pbx,
            )
        except _store_errors() as exc:  # the store itself failed (a server went away)
            fail(str(exc))
    # PBXs named by legs belong to the default customer until an admin says otherwise.
    control = obj.open_control()
    control.adopt_pbxes(p for r in outcome.reports for p in r.pbx_ids)
    control.close()
    names = ("file", "format", "rows", "stored", "replaced", "rejected", "reject_file")
    rows = [
        (str(r.path), r.format, r.rows_read, r.legs_stored, r.legs_replaced, r.rejected,
         str(r.reject_file) if r.reject_file else "")
        for r in outcome.reports
    ]  # fmt: skip
    if rows:
        emit_rows(names, rows, output_format, title="ingested")
    for _path, exc in outcome.failures:
        click.echo(f"error: {exc}", err=True)
    if not outcome.ok:
        sys.exit(EXIT_REFUSED)


def _ingest_remote(
    server: str,
    api_key: str | None,
    files: tuple[Path, ...],
    input_format: str | None,
    skip_invalid: bool,
    output_format: str,
) -> None:
    from workanalytics.client.upload import UploadError, upload_legs
    from workanalytics.ingest.sources import SourceError

    if not api_key:
        fail("--server needs an admin API key: --api-key or WORKANALYTICS_API_KEY", EXIT_USAGE)
    rows, failed = [], False
    for path in files:
        try:
            report = upload_legs(server, api_key, path, fmt=input_format, skip_invalid=skip_invalid)
        except (UploadError, SourceError) as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
            continue
        rows.append(
            (str(path), report["rows"], report["stored"], report["replaced"], report["rejected"])
        )
    if rows:
        names = ("file", "rows", "stored", "replaced", "rejected")
        emit_rows(names, rows, output_format, title=f"sent to {server}")
    if failed:
        sys.exit(EXIT_REFUSED)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        now = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "expected ISO-8601 with an offset, e.g. 2026-11-28T12:00:00Z", param_hint="'--now'"
        ) from None
    if now.tzinfo is None:
        raise click.BadParameter(
            "needs an offset (Z or +HH:MM); a time without one is never guessed",
            param_hint="'--now'",
        )
    return now.astimezone(UTC)


@main.command()
@click.option("--pbx", required=True, help="PBX name, comma-separated names, or allpbxes.")
@click.option("--start", required=True, help='Window start, "YYYY-MM-DD HH:MM:SS" local time.')
@click.option("--end", required=True, help="Window end (its second included), same format.")
@click.option("--tz", required=True, help="IANA time zone of --start and --end.")
@click.option("--v1", is_flag=True, help="The v1 answer (without Inbound/Outbound_Talk_Time).")
@click.option("--now", default=None, help="Pretend it is this instant (ISO-8601), for retention.")
@click.option(
    "--columns",
    default=None,
    help="Table columns, comma-separated, or 'all' (json and csv always carry all).",
)
@format_option()
@click.pass_obj
def extsum(
    obj: Context,
    pbx: str,
    start: str,
    end: str,
    tz: str,
    v1: bool,
    now: str | None,
    columns: str | None,
    output_format: str,
) -> None:
    """Extension Summary for a local-time window, as the API answers it."""
    from workanalytics.metrics import DEFAULT_TABLE_FIELDS
    from workanalytics.report import PbxParameterError, UnknownPbxError, extension_summary
    from workanalytics.timewindow import WindowError, system_clock

    instant = _parse_now(now)
    clock = (lambda: instant) if instant is not None else system_clock
    try:
        with obj.open_store(read_only=True) as store:
            result = extension_summary(
                store,
                pbx,
                start,
                end,
                tz,
                version=1 if v1 else 2,
                retention_years=obj.settings.retention_years,
                clock=clock,
            )
    except WindowError as exc:
        option = {"startTime": "--start", "endTime": "--end", "timeZone": "--tz"}[exc.parameter]
        fail(f"{option}: {exc.message} ({exc.hint})", EXIT_USAGE)
    except PbxParameterError as exc:
        fail(f"--pbx: {exc}", EXIT_USAGE)
    except UnknownPbxError as exc:
        fail(f"--pbx: {exc}")
    except _store_errors() as exc:
        fail(str(exc))
    shown = None
    if columns and columns != "all":
        shown = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in shown if c not in result.names]
        if unknown:
            fail(f"--columns: unknown field(s) {', '.join(unknown)}", EXIT_USAGE)
    elif columns is None:
        shown = list(DEFAULT_TABLE_FIELDS)
    emit_rows(
        result.names,
        result.rows,
        output_format,
        json_bytes=result.to_json() if output_format == "json" else None,
        table_columns=shown,
        title=f"Extension Summary {start} .. {end} {tz}",
    )


@main.command()
@click.option("--extensions", type=click.IntRange(min=2), required=True, help="User extensions.")
@click.option("--days", type=click.IntRange(min=1), required=True, help="Local days of calls.")
@click.option(
    "--end",
    "end_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day (YYYY-MM-DD); default today.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Legs file: .parquet, .csv or .jsonl; the directory CSV is written beside it.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@format_option()
def generate(
    extensions: int,
    days: int,
    end_date: datetime | None,
    seed: int,
    out: Path,
    progress: bool | None,
    output_format: str,
) -> None:
    """Write a realistic synthetic company: legs and its directory."""
    from workanalytics.generate import generate_company

    show = sys.stderr.isatty() if progress is None else progress
    end: date | None = end_date.date() if end_date else None
    try:
        result = generate_company(
            extensions=extensions, days=days, end=end, seed=seed, out=out, progress=show
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    names = ("legs_file", "directory_file", "legs", "calls", "extensions", "pbx_ids")
    row = (
        str(result.legs_path), str(result.directory_path), result.legs, result.calls,
        result.extensions, ",".join(result.pbx_ids),
    )  # fmt: skip
    emit_rows(names, [row], output_format, title="generated")


@main.command()
@click.option("--extensions", type=click.IntRange(min=2), default=500, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.pass_obj
def demo(obj: Context, extensions: int, days: int, host: str, port: int) -> None:
    """Generate a company (once), then serve it with a demo user and API key."""
    from workanalytics.demo import run_demo

    try:
        run_demo(obj.settings, extensions=extensions, days=days, host=host, port=port)
    except _store_errors() as exc:
        fail(str(exc))


@main.command("local-servers")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("scaleout-servers"),
    show_default=True,
    help="Where the servers keep their data and logs.",
)
@click.option("--shards", type=click.IntRange(1, 8), default=2, show_default=True)
@click.option(
    "--config-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("scaleout.toml"),
    show_default=True,
    help="The config file written for the API replicas (--config).",
)
def local_servers(root: Path, shards: int, config_out: Path) -> None:
    """Start PostgreSQL and a ClickHouse cluster on loopback, as CI does; Ctrl-C stops them."""
    import signal

    from workanalytics.localservers.stack import start_stack

    try:
        stack = start_stack(root, shards=shards)
    except Exception as exc:  # a missing package or a server that would not start
        fail(str(exc))
    try:
        config_out.write_text(stack.config_toml())
        click.echo(f"control plane  {stack.postgres.url}")
        for i, shard in enumerate(stack.shards, 1):
            click.echo(f"shard {i}        clickhouse://127.0.0.1:{shard.tcp_port}")
        click.echo(f"cluster        {stack.cluster}")
        click.echo(f"config         {config_out}  (workanalytics --config {config_out} ...)")
        click.echo("running; Ctrl-C stops every server")
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # so sigwait, not a handler, gets them
        signal.sigwait(stop)
    finally:
        stack.stop()


# Admin and server commands register themselves on `main`.
from workanalytics.cli import admin as _admin  # noqa: E402, F401
from workanalytics.cli import fetch as _fetch  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
