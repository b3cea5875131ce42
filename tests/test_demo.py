"""``workanalytics demo``: a generated company served, and the guide's curl commands answer.

The demo runs as a real subprocess; the printed commands run in bash with the real curl.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from workanalytics.demo import CREDENTIALS_FILE
from workanalytics.generate import PBX_TIME_ZONES
from workanalytics.metrics import FIELDS

from apiserver import TOKEN_PATH

READY_LINE = "Ctrl-C stops the server."


@dataclass
class DemoRun:
    proc: subprocess.Popen
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def stop(self, timeout: float = 8.0) -> int | None:
        """SIGTERM, then kill; the exit code when SIGTERM was enough."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            code = None
        for t in self.readers:
            t.join(5)
        return code

    def line(self, prefix: str) -> str:
        found = [line for line in self.out if line.strip().startswith(prefix)]
        assert len(found) == 1, (prefix, self.out)
        return found[0].strip()

    def value(self, label: str) -> str:
        """``  API key : X`` -> X."""
        return self.line(label).split(":", 1)[1].strip()

    @property
    def token_command(self) -> str:
        return self.line("TOKEN=$(")

    @property
    def extsum_command(self) -> str:
        command = self.line("curl -s ")
        assert "/v2/extsum?" in command
        return command

    @property
    def extsum_url(self) -> str:
        return shlex.split(self.extsum_command)[2]


def start_demo(data: Path) -> DemoRun:
    args = [sys.executable, "-m", "workanalytics", "--data-dir", str(data), "demo"]
    args += ["--port", "0", "--extensions", "20", "--days", "3"]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    run = DemoRun(proc)
    ready = threading.Event()

    def read(stream, into: list[str], watch: bool) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))
            if watch and line.strip() == READY_LINE:
                ready.set()
        if watch:
            ready.set()

    for stream, into, watch in ((proc.stdout, run.out, True), (proc.stderr, run.err, False)):
        t = threading.Thread(target=read, args=(stream, into, watch), daemon=True)
        t.start()
        run.readers.append(t)
    if not ready.wait(60) or READY_LINE not in [line.strip() for line in run.out]:
        run.stop()
        pytest.fail("the demo did not start:\n" + "\n".join(run.out + run.err))
    return run


def local_yesterday(time_zone: str) -> date:
    return datetime.now(ZoneInfo(time_zone)).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[DemoRun]:
    run = start_demo(tmp_path_factory.mktemp("demo") / "data")
    try:
        yield run
    finally:
        run.stop()


def calls(rows: list[dict]) -> int:
    return sum(row["Inbound_Total"] + row["Outbound_Total"] for row in rows)


def test_printed_curl_commands_answer_yesterdays_extension_summary(demo: DemoRun):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the printed commands cannot be run")
    url = demo.extsum_url
    query = parse_qs(urlsplit(url).query)
    pbx, time_zone = query["pbxId"][0], query["timeZone"][0]
    day = query["startTime"][0].split()[0]
    assert query["endTime"] == [f"{day} 23:59:59"]  # a whole local day
    generated = [line for line in demo.err if line.startswith("ingested ")]
    assert len(generated) == 1, demo.err
    pbxes = generated[0].split("PBXs ", 1)[1].split(", ")
    assert pbx in pbxes and time_zone == PBX_TIME_ZONES[pbx]

    done = subprocess.run(
        ["bash", "-c", f"set -e; {demo.token_command}; {demo.extsum_command}"],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert isinstance(answer, list)

    # The same request through httpx, with the printed credentials.
    key = demo.value("API key")
    base = url.split("/v2/extsum", 1)[0]
    assert base.startswith("http://127.0.0.1:") and base.endswith("/analytics/work")
    with httpx.Client(timeout=30) as http:
        login = http.post(
            base.removesuffix("/analytics/work") + TOKEN_PATH,
            headers={"8x8-apikey": key},
            data={"username": demo.value("user"), "password": demo.value("password")},
        )
        assert login.status_code == 200, login.text
        headers = {"8x8-apikey": key, "Authorization": f"Bearer {login.json()['access_token']}"}
        r = http.get(url, headers=headers)
        assert r.status_code == 200, r.text

        def yesterday_calls(p: str) -> int:
            y = local_yesterday(PBX_TIME_ZONES[p])
            q = f"pbxId={p}&startTime={y}%2000:00:00&endTime={y}%2023:59:59"
            got = http.get(f"{base}/v2/extsum?{q}&timeZone={PBX_TIME_ZONES[p]}", headers=headers)
            assert got.status_code == 200, got.text
            return calls(got.json())

        by_pbx = {p: yesterday_calls(p) for p in pbxes}
    assert r.content == done.stdout
    assert answer == r.json()

    assert answer, "the printed request answers an empty Extension Summary"
    assert len(FIELDS) == 45
    for row in answer:
        assert list(row) == [f.name for f in FIELDS]
        assert row["PbxId"] == pbx
    assert calls(answer) > 0  # calls, not only directory rows
    yesterday = local_yesterday(time_zone)
    assert str(yesterday - timedelta(days=8)) < day <= str(yesterday)
    if any(by_pbx.values()):
        # Some PBX had calls yesterday (its own yesterday): the guide's request is for it.
        assert day in {str(yesterday), str(yesterday - timedelta(days=1))}  # midnight since?
        assert by_pbx[pbx] == max(by_pbx.values()), by_pbx


def test_credentials_file_is_owner_only(demo: DemoRun):
    data = Path(demo.proc.args[demo.proc.args.index("--data-dir") + 1])
    path = data / CREDENTIALS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    saved = json.loads(path.read_bytes())
    assert saved["api_key"] == demo.value("API key")
    assert saved["password"] == demo.value("password")


def test_a_second_run_reuses_the_company_and_the_credentials(tmp_path: Path):
    data = tmp_path / "data"
    first = start_demo(data)
    assert first.stop() == 0, first.err
    assert any(line.startswith("generating ") for line in first.err), first.err
    legs_file = data / "generated" / "company.parquet"
    generated_at = legs_file.stat().st_mtime_ns

    time.sleep(0.01)
    second = start_demo(data)
    try:
        for label in ("API key", "user", "password"):
            assert second.value(label) == first.value(label), label
        assert not [line for line in second.err if line.startswith(("generating", "ingested"))]
        assert legs_file.stat().st_mtime_ns == generated_at
        assert second.extsum_url.split("?")[1] == first.extsum_url.split("?")[1]
    finally:
        assert second.stop() == 0, second.err


def test_credentials_that_stopped_working_are_replaced(tmp_path):
    from workanalytics.control.plane import ControlPlane
    from workanalytics.demo import prepare_demo
    from workanalytics.settings import Settings

    settings = Settings(data_dir=tmp_path / "demo")
    first = prepare_demo(settings, extensions=4, days=1)
    assert prepare_demo(settings, extensions=4, days=1) == first  # still good: reused
    control = ControlPlane.for_data_dir(settings.data_dir)
    control.set_user_disabled(first.username, True)
    (settings.data_dir / "demo-credentials.json").chmod(0o644)
    second = prepare_demo(settings, extensions=4, days=1)
    assert second != first
    customer = control.customer("default")
    assert control.authenticate(customer.id, second.username, second.password) is not None
    assert control.lookup_api_key(second.api_key) is not None
    assert (settings.data_dir / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
