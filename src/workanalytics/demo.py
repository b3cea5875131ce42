"""``make demo``: a generated company behind the real API, with credentials and curl commands.

The first run generates the company (about 500 extensions, 90 days up to today), ingests it,
creates a user and an API key and keeps them in ``DATA_DIR/demo-credentials.json`` (owner
only); later runs reuse all of it. Then the server starts in the foreground.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import orjson

from workanalytics.settings import Settings

DEMO_DATA_DIR = Path("demo-data")
DEMO_SEED = 42
DEMO_USER = "demo"
CREDENTIALS_FILE = "demo-credentials.json"


@dataclass(frozen=True)
class DemoCredentials:
    api_key: str
    username: str
    password: str


def _say(text: str) -> None:
    click.echo(text, err=True)


def prepare_demo(settings: Settings, *, extensions: int = 500, days: int = 90) -> DemoCredentials:
    """Company, user and key, made once per data dir."""
    from workanalytics.control.factory import open_control
    from workanalytics.directory import read_directory_csv
    from workanalytics.generate import generate_company
    from workanalytics.ingest.run import ingest_paths
    from workanalytics.store import DuckDBStore

    with DuckDBStore(settings.store_path, memory_limit=settings.memory_limit) as store:
        if store.leg_count() == 0:
            out = settings.data_dir / "generated" / "company.parquet"
            _say(f"generating {extensions} extensions x {days} days into {out} ...")
            gen = generate_company(
                extensions=extensions,
                days=days,
                seed=DEMO_SEED,
                out=out,
                progress=sys.stderr.isatty(),
            )
            store.upsert_directory(read_directory_csv(gen.directory_path))
            outcome = ingest_paths(store, [gen.legs_path])
            if not outcome.ok:
                raise click.ClickException(str(outcome.failures[0][1]))
            _say(f"ingested {gen.legs} legs for PBXs {', '.join(gen.pbx_ids)}")
        pbx_ids = store.pbx_ids()
    settings.data_dir.chmod(0o700)  # keys and password hashes live here, as after `init`
    control = open_control(settings)
    try:
        customer = control.ensure_customer()
        control.adopt_pbxes(pbx_ids)
        path = settings.data_dir / CREDENTIALS_FILE
        if path.exists():
            saved = DemoCredentials(**orjson.loads(path.read_bytes()))
            # Reused only while they still work: the key live, the user enabled, the password same.
            if control.lookup_api_key(saved.api_key) is not None and control.authenticate(
                customer.id, saved.username, saved.password
            ):
                return saved
        password = secrets.token_urlsafe(12)
        try:
            control.add_user(DEMO_USER, password, all_pbxes=True)
        except ValueError:
            control.set_password(DEMO_USER, password)
            control.set_user_disabled(DEMO_USER, False)
        _key, secret = control.create_api_key(name="demo")
        creds = DemoCredentials(secret, DEMO_USER, password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # also when the file was already there
            fh.write(orjson.dumps(creds.__dict__))
        return creds
    finally:
        control.close()


def choose_report(
    store, *, retention_years: int, now: datetime | None = None, look_back_days: int = 7
) -> tuple[str, str, date]:
    """(PBX, its time zone, local day) for the printed request: yesterday where the PBX is,
    for the PBX with the most calls then. When no PBX had calls yesterday (a quiet weekend,
    or a data dir generated days ago and reused), the latest earlier day that had some, so
    the printed commands never answer an empty list."""
    from workanalytics.generate import PBX_TIME_ZONES
    from workanalytics.timewindow import resolve_window

    now = now or datetime.now(UTC)
    pbx_ids = store.pbx_ids()
    #: (-days before the PBX's own yesterday, calls, PBX, zone, day): the best is the largest.
    best: tuple[int, int, str, str, date] | None = None
    for pbx_id in pbx_ids:
        time_zone = PBX_TIME_ZONES.get(pbx_id, "UTC")
        tz = ZoneInfo(time_zone)
        today = now.astimezone(tz).date()
        midnight_ms = int(datetime.combine(today, time(), tz).timestamp() * 1000)
        with store.con.cursor() as cur:
            last = cur.execute(
                "SELECT max(start_time) FROM legs WHERE pbx_id = ? AND start_time < ?",
                [pbx_id, midnight_ms],
            ).fetchone()[0]
        if last is None:
            continue
        yesterday = today - timedelta(days=1)
        day = min(yesterday, datetime.fromtimestamp(last / 1000, tz).date())
        for _ in range(look_back_days):
            window = resolve_window(
                f"{day} 00:00:00",
                f"{day} 23:59:59",
                time_zone,
                retention_years=retention_years,
                clock=lambda: now,
            )
            rows = store.extension_summary([pbx_id], window).as_dicts()
            calls = sum(r["Inbound_Total"] + r["Outbound_Total"] for r in rows)
            if calls:
                candidate = (-(yesterday - day).days, calls, pbx_id, time_zone, day)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
                break
            day -= timedelta(days=1)
    if best is None:
        pbx_id = pbx_ids[0] if pbx_ids else "allpbxes"
        time_zone = PBX_TIME_ZONES.get(pbx_id, "UTC")
        return pbx_id, time_zone, now.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=1)
    return best[2], best[3], best[4]


def curl_commands(
    base_url: str, creds: DemoCredentials, pbx_id: str, time_zone: str, day: date | None = None
) -> list[str]:
    """The 8x8 guide's two requests, pointed at this server, for ``day`` (default yesterday in
    ``time_zone``)."""
    if day is None:
        day = datetime.now(ZoneInfo(time_zone)).date() - timedelta(days=1)
    token = (
        f"curl -s -X POST {shlex.quote(base_url + '/v1/oauth/token')} "
        f"-H {shlex.quote('8x8-apikey: ' + creds.api_key)} "
        "-H 'Content-Type: application/x-www-form-urlencoded' "
        f"--data-urlencode {shlex.quote('username=' + creds.username)} "
        f"--data-urlencode {shlex.quote('password=' + creds.password)}"
    )
    query = (
        f"pbxId={pbx_id}&startTime={day}%2000:00:00&endTime={day}%2023:59:59&timeZone={time_zone}"
    )
    extsum = (
        f"curl -s {shlex.quote(base_url + '/v2/extsum?' + query)} "
        f"-H {shlex.quote('8x8-apikey: ' + creds.api_key)} "
        '-H "Authorization: Bearer $TOKEN"'
    )
    return [token, extsum]


def run_demo(
    settings: Settings,
    *,
    extensions: int = 500,
    days: int = 90,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    from workanalytics.api.server import (
        ServerStartError,
        configure_logging,
        start_in_thread,
        wait_until_stopped,
    )

    creds = prepare_demo(settings, extensions=extensions, days=days)
    configure_logging()
    try:
        running = start_in_thread(settings, host=host, port=port)
    except ServerStartError as exc:
        raise click.ClickException(str(exc)) from None
    base = running.url + "/analytics/work"
    pbx_id, time_zone, day = choose_report(
        running.services.store, retention_years=settings.retention_years
    )
    token_cmd, extsum_cmd = curl_commands(base, creds, pbx_id, time_zone, day)
    lines = [
        f"workanalytics demo serving {base}  (data dir {settings.data_dir})",
        f"  API key : {creds.api_key}",
        f"  user    : {creds.username}",
        f"  password: {creds.password}",
        "",
        f"Get a token, then the Extension Summary of {pbx_id} for {day} ({time_zone}):",
        f"TOKEN=$({token_cmd} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        extsum_cmd,
        "",
        "Ctrl-C stops the server.",
    ]

    def announce() -> None:
        click.echo("\n".join(lines))
        sys.stdout.flush()

    # Announced once SIGTERM is handled: a stop right after the message ends cleanly.
    wait_until_stopped(running, on_ready=announce)
