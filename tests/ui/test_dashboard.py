"""The dashboard in a real browser (issue #8): Debian's Chromium, headless, driven by
Playwright against our real server on loopback.

The server holds a generated company (``generate.py``'s PBXs in six time zones) plus one
hand-made extension whose directory names need CSV quoting. The browser's clock is set to
:data:`BROWSER_NOW` and its time zone to New York, so "today" is 2026-05-20 there; the server's
own clock (``MutableClock``) is moved to expire tokens.

Screenshots go to a temporary folder (printed with ``-s``); with
``WORKANALYTICS_UPDATE_SCREENSHOT=1`` the README's ``docs/img/dashboard.png`` is written too.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from workanalytics import metrics
from workanalytics.directory import read_directory_csv
from workanalytics.generate import PBX_TIME_ZONES, generate_company
from workanalytics.ingest import open_source
from workanalytics.ui import UI_PATH

from apiserver import Api, UserSpec, start_api
from conftest import Leg, write_directory_csv, write_legs_csv

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium; "
        ".ci/run does this)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "img" / "dashboard.png"

USER, PASSWORD = "alice", "correct horse battery staple"
#: 14:00 in New York on Wednesday 20 May 2026.
BROWSER_NOW = datetime(2026, 5, 20, 18, 0, tzinfo=UTC)
TZ = "America/New_York"
TODAY, YESTERDAY = "2026-05-20", "2026-05-19"

#: An extension whose names need quoting in CSV, with one answered call on 19 May (NY).
ODD_NAMES = {
    "pbx_id": "acme-nyc",
    "extension": "7001",
    "service_type": "UE",
    "first_name": 'Zoë "Z", Jr.',
    "last_name": "O'Brien",
    "branch": "New York",
    "department": "Sales, East",
    "email": "zoe@example.com",
    "username": "zoe",
}
ODD_LEG = Leg(
    pbx_id="acme-nyc",
    call_id="odd-1",
    start_time=1_779_202_800_000,  # 2026-05-19T15:00:00Z
    connect_time=1_779_202_805_000,
    end_time=1_779_203_000_000,
    caller="+12125550100",
    callee="7001",
    callee_ext="7001",
)

FIELD_BY_NAME = metrics.FIELD_BY_NAME
#: The table shows its columns in the API's order.
DEFAULTS = [f.name for f in metrics.FIELDS if f.name in metrics.DEFAULT_TABLE_FIELDS]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("dashboard")
    gen = generate_company(
        extensions=40, days=14, end=date(2026, 5, 20), seed=3, out=tmp / "company.parquet"
    )
    assert set(gen.pbx_ids) <= set(PBX_TIME_ZONES)
    running = start_api(tmp / "server", users=[UserSpec(USER, PASSWORD, all_pbxes=True)])
    svc = running.svc
    svc.store.ingest(open_source(gen.legs_path))
    svc.store.ingest(open_source(write_legs_csv(tmp / "odd.csv", [ODD_LEG])))
    svc.store.upsert_directory(read_directory_csv(gen.directory_path))
    svc.store.upsert_directory(
        read_directory_csv(write_directory_csv(tmp / "odd-dir.csv", [ODD_NAMES]))
    )
    svc.control.adopt_pbxes(svc.store.pbx_ids())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            timezone_id=TZ,
            locale="en-US",
            color_scheme="light",
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


class Page:
    """A fresh tab (so a fresh sessionStorage) with the browser clock at BROWSER_NOW, that
    records every request and every script error."""

    def __init__(self, page, api: Api, shots: Path):
        self.page, self.api, self.shots = page, api, shots
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.clock.install(time=BROWSER_NOW)

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.api.url + path)
        self.page.wait_for_selector("#signin-view:not([hidden]), #dash-view:not([hidden])")

    def loaded(self) -> int:
        return int(self.page.evaluate("Number(document.documentElement.dataset.loaded || 0)"))

    def settle(self, before: int) -> None:
        """Wait until a load that started after ``before`` loads has finished."""
        self.page.wait_for_function(
            f"() => Number(document.documentElement.dataset.loaded || 0) > {before}"
        )

    def filtered(self, q: str = "", department: str = "", branch: str = "") -> None:
        """Wait until the table shows these filters (the URL and the table change together)."""
        self.page.wait_for_function(
            """([q, dept, branch]) => {
              const h = new URLSearchParams(location.hash.slice(1));
              return (h.get('q') || '') === q && (h.get('dept') || '') === dept
                && (h.get('branch') || '') === branch;
            }""",
            arg=[q, department, branch],
        )

    def sign_in(self, password: str = PASSWORD, *, settle: bool = True) -> None:
        page = self.page
        page.fill("#apikey", self.api.keys["default"])
        page.fill("#username", USER)
        page.fill("#password", password)
        before = self.loaded()
        page.click("#signin-submit")
        if settle:
            self.settle(before)

    def choose(self, selector: str, value: str) -> None:
        before = self.loaded()
        self.page.select_option(selector, value)
        self.settle(before)

    def table(self) -> dict:
        return self.page.evaluate(
            """() => {
              const t = document.getElementById('summary');
              const head = [...t.tHead.querySelectorAll('button[data-key]')].map(b => b.dataset.key);
              const rows = [...t.tBodies[0].rows].filter(r => !r.querySelector('td.empty'))
                .map(r => [...r.cells].map(c => c.textContent));
              const foot = t.tFoot.rows.length ? [...t.tFoot.rows[0].cells].map(c => c.textContent) : null;
              return {head, rows, foot};
            }"""
        )

    def visible(self, selector: str) -> bool:
        return self.page.is_visible(selector)

    def shot(self, name: str, **kw) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), **kw)
        return path


@pytest.fixture
def tab(browser, api, shots) -> Iterator[Page]:
    page = browser.new_page()
    tab = Page(page, api, shots)
    try:
        yield tab
    finally:
        page.close()
    assert not tab.errors, tab.errors
    foreign = [u for u in tab.requests if not u.startswith((api.url, "blob:", "data:"))]
    assert not foreign, f"requests to other origins: {foreign}"


# --- what the API answers, as the table shows it -------------------------------------------------


def hms(ms: int) -> str:
    s = ms // 1000
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def shown(name: str, value) -> str:
    return hms(value) if FIELD_BY_NAME[name].kind in ("duration", "average") else str(value)


def api_rows(api: Api, first: str, last: str, *, tz: str = TZ, pbx: str = "allpbxes") -> list[dict]:
    query = urlencode(
        {
            "pbxId": pbx,
            "startTime": f"{first} 00:00:00",
            "endTime": f"{last} 23:59:59",
            "timeZone": tz,
        },
        quote_via=quote,
    )
    r = api.extsum(query, token=api.token(USER))
    assert r.status_code == 200, r.text
    return r.json()


def as_table(rows: list[dict], columns: list[str]) -> list[list[str]]:
    return [[shown(c, row[c]) for c in columns] for row in rows]


def in_order(names) -> list[str]:
    return [f.name for f in metrics.FIELDS if f.name in set(names)]


# --- sign-in -----------------------------------------------------------------------------------


def test_sign_in_shows_today_in_the_browsers_time_zone(tab: Page, api: Api):
    tab.goto("/")
    assert tab.visible("#signin-view") and not tab.visible("#dash-view")
    tab.shot("01-sign-in")
    tab.sign_in()
    page = tab.page
    assert tab.visible("#dash-view") and not tab.visible("#signin-view")
    assert page.text_content("#who-name") == USER
    assert page.input_value("#window") == "today"
    assert page.input_value("#tz") == TZ  # the browser's, by default
    assert TODAY in page.text_content("#window-text")

    expected = api_rows(api, TODAY, TODAY)
    assert expected
    table = tab.table()
    assert table["head"] == DEFAULTS
    assert table["rows"] == as_table(expected, DEFAULTS)
    # The totals row adds counts and durations, and recomputes the average it can.
    foot = dict(zip(DEFAULTS, table["foot"], strict=True))
    assert foot["PbxId"] == f"Total ({len(expected)})"
    assert foot["Inbound_Total"] == str(sum(r["Inbound_Total"] for r in expected))
    talk = sum(r["Total_Talk_Time"] for r in expected)
    answered = sum(r["Total_Answered"] for r in expected)
    assert foot["Total_Talk_Time"] == hms(talk)
    assert foot["Avg_Talk_Time"] == hms(talk // answered if answered else 0)
    assert foot["Avg_Ring_Time"] == ""  # divides by legs that rang: not in the answer
    tab.shot("02-today", full_page=True)


def test_the_page_is_also_served_under_the_api_path(tab: Page):
    tab.goto(UI_PATH)
    tab.sign_in()
    assert tab.visible("#dash-view")
    assert tab.table()["rows"]


def test_a_wrong_password_shows_the_error(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in("not the password", settle=False)
    message = tab.page.locator("#signin-message")
    message.wait_for(state="visible")
    assert message.text_content() == "Wrong username or password."
    assert message.get_attribute("role") == "alert"
    assert not tab.visible("#dash-view")
    assert tab.page.input_value("#password") == "not the password"  # kept, selected to retype
    assert tab.page.evaluate("document.activeElement.id") == "password"
    assert tab.page.evaluate("sessionStorage.getItem('workanalytics.session')") is None
    tab.shot("03-wrong-password")

    tab.page.fill("#apikey", "wak_not-a-key")
    tab.page.fill("#password", PASSWORD)
    tab.page.click("#signin-submit")
    tab.page.wait_for_function(
        "() => document.getElementById('signin-message').textContent === 'This API key is not valid.'"
    )
    assert not tab.visible("#dash-view")


def test_a_reload_keeps_the_session_and_sign_out_ends_it(tab: Page):
    tab.goto("/")
    tab.sign_in()
    token = tab.page.evaluate("JSON.parse(sessionStorage.getItem('workanalytics.session')).token")
    assert token and token not in tab.page.url
    tab.page.reload()
    tab.page.wait_for_selector("#dash-view:not([hidden])")
    tab.page.click("#sign-out")
    tab.page.wait_for_selector("#signin-view:not([hidden])")
    assert tab.page.text_content("#signin-message") == "You have signed out."
    assert tab.page.evaluate("sessionStorage.getItem('workanalytics.session')") is None
    assert tab.page.input_value("#apikey") == ""
    tab.page.reload()
    tab.page.wait_for_selector("#signin-view:not([hidden])")


# --- choices, sorting, filtering -------------------------------------------------------------------


def test_choose_a_window_then_sort_and_filter(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    tab.choose("#window", "yesterday")
    assert "window=yesterday" in page.url
    assert YESTERDAY in page.text_content("#window-text")
    rows = api_rows(api, YESTERDAY, YESTERDAY)
    assert tab.table()["rows"] == as_table(rows, DEFAULTS)

    # Sort: numbers largest first, then the other way; ties keep the API's order.
    button = page.locator('#summary thead button[data-key="Inbound_Total"]')
    button.click()
    by_inbound = sorted(rows, key=lambda r: -r["Inbound_Total"])
    assert tab.table()["rows"] == as_table(by_inbound, DEFAULTS)
    header = page.locator('#summary thead th:has(button[data-key="Inbound_Total"])')
    assert header.get_attribute("aria-sort") == "descending"
    assert "sort=-Inbound_Total" in page.url
    button.click()
    assert tab.table()["rows"] == as_table(sorted(rows, key=lambda r: r["Inbound_Total"]), DEFAULTS)
    assert header.get_attribute("aria-sort") == "ascending"
    # Extensions sort as the API orders them: digit strings numerically.
    page.locator('#summary thead button[data-key="Extension"]').click()
    extensions = [r[1] for r in tab.table()["rows"]]
    assert extensions == sorted(extensions, key=metrics.extension_sort_key)

    # Filter by name, then by department and branch.
    page.fill("#q", "o'brien")
    tab.filtered(q="o'brien")
    (row,) = tab.table()["rows"]
    assert row[:4] == ["acme-nyc", "7001", ODD_NAMES["first_name"], "O'Brien"]
    assert "q=o'brien" in page.url or "q=o%27brien" in page.url
    page.fill("#q", "")
    department = next(r["Department"] for r in rows if r["Department"] and r["Branch"])
    page.select_option("#department", department)
    want = [r for r in rows if r["Department"] == department]
    tab.filtered(department=department)
    got = tab.table()["rows"]
    assert sorted(got) == sorted(as_table(want, DEFAULTS))
    branch = want[0]["Branch"]
    page.select_option("#branch", branch)
    want = [r for r in want if r["Branch"] == branch]
    tab.filtered(department=department, branch=branch)
    assert sorted(tab.table()["rows"]) == sorted(as_table(want, DEFAULTS))
    # The totals row follows the filter.
    foot = dict(zip(DEFAULTS, tab.table()["foot"], strict=True))
    assert foot["Inbound_Total"] == str(sum(r["Inbound_Total"] for r in want))
    tab.shot("04-filtered", full_page=True)


def test_custom_window_in_another_time_zone(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    before = tab.loaded()
    page.select_option("#window", "custom")
    tab.settle(before)
    assert tab.visible("#custom-range")
    before = tab.loaded()
    page.fill("#from", "2026-05-11")  # fill sends input and change, as a person's choice does
    tab.settle(before)
    before = tab.loaded()
    page.fill("#to", "2026-05-13")
    tab.settle(before)
    tab.choose("#tz", "Asia/Kathmandu")
    assert page.text_content("#window-text").startswith("2026-05-11 \u2013 2026-05-13")
    rows = api_rows(api, "2026-05-11", "2026-05-13", tz="Asia/Kathmandu")
    assert tab.table()["rows"] == as_table(rows, DEFAULTS)
    # A last day before the first is refused before any request.
    before = tab.loaded()
    page.fill("#to", "2026-05-01")
    tab.settle(before)
    assert page.text_content("#error") == "The last day is before the first."


# --- CSV -----------------------------------------------------------------------------------------


def download_csv(tab: Page) -> tuple[str, list[list[str]]]:
    with tab.page.expect_download() as info:
        tab.page.click("#download")
    download = info.value
    raw = Path(download.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    assert text.endswith("\r\n")
    return download.suggested_filename, list(csv.reader(io.StringIO(text, newline="")))


def test_the_downloaded_csv_equals_the_api_answer(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in()
    tab.choose("#window", "yesterday")
    name, lines = download_csv(tab)
    assert name == f"extsum_{YESTERDAY}_{YESTERDAY}_America-New_York.csv"
    rows = api_rows(api, YESTERDAY, YESTERDAY)
    assert lines[0] == DEFAULTS
    assert lines[1:] == as_table(rows, DEFAULTS)
    assert ["acme-nyc", "7001", ODD_NAMES["first_name"], "O'Brien"] in [r[:4] for r in lines[1:]]

    # More columns, another window, sorted and filtered: still exactly what the table shows.
    page = tab.page
    tab.choose("#window", "last-7-days")
    page.click("#columns-menu summary")
    for column in ("Department", "Total_Call_Time", "Avg_Abandoned_Time", "Inbound_Talk_Time"):
        page.check(f'#column-groups input[value="{column}"]')
    page.uncheck('#column-groups input[value="LastName"]')
    page.keyboard.press("Escape")
    columns = in_order(
        [*DEFAULTS, "Department", "Total_Call_Time", "Avg_Abandoned_Time", "Inbound_Talk_Time"]
    )
    columns.remove("LastName")
    assert tab.table()["head"] == columns
    page.locator('#summary thead button[data-key="Total_Call_Time"]').click()
    rows = api_rows(api, "2026-05-14", TODAY)
    department = max(
        {r["Department"] for r in rows if r["Department"]},
        key=lambda d: sum(r["Department"] == d for r in rows),
    )
    page.select_option("#department", department)
    want = sorted(
        (r for r in rows if r["Department"] == department), key=lambda r: -r["Total_Call_Time"]
    )
    tab.filtered(department=department)
    name, lines = download_csv(tab)
    assert name == f"extsum_2026-05-14_{TODAY}_America-New_York.csv"
    assert lines[0] == columns
    assert lines[1:] == as_table(want, columns)
    assert lines[1:] == tab.table()["rows"]


# --- the token -----------------------------------------------------------------------------------


def test_an_expired_token_leads_back_to_sign_in(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    with api.clock.moved_to(api.clock() + 1801):
        page.select_option("#window", "yesterday")
        page.wait_for_selector("#signin-view:not([hidden])")
        assert page.text_content("#signin-message") == "Your session has expired. Sign in again."
        assert not tab.visible("#dash-view")
        # The key and the username are kept for the form; the password is not.
        assert page.input_value("#apikey") == api.keys["default"]
        assert page.input_value("#username") == USER
        assert page.input_value("#password") == ""
        tab.shot("05-expired")
        # Signing in again comes back to the same choices.
        before = tab.loaded()
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        tab.settle(before)
        assert tab.visible("#dash-view")
        assert page.input_value("#window") == "yesterday"
        assert tab.table()["rows"] == as_table(api_rows(api, YESTERDAY, YESTERDAY), DEFAULTS)


def test_the_token_is_renewed_before_it_expires(tab: Page, api: Api):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    first = page.evaluate("JSON.parse(sessionStorage.getItem('workanalytics.session')).token")
    start = api.clock()
    try:
        # 28 minutes later (renewal is due two minutes before the 30-minute lifetime ends).
        api.clock.set(start + 1690)
        with page.expect_response(lambda r: r.url.endswith("/v1/oauth/token")) as renewal:
            page.clock.fast_forward(1690 * 1000)
        assert renewal.value.status == 200
        page.wait_for_function(
            f"() => JSON.parse(sessionStorage.getItem('workanalytics.session')).token !== {first!r}"
        )
        # Past the first token's expiry, the page still works.
        api.clock.set(start + 1900)
        tab.choose("#window", "yesterday")
        assert tab.visible("#dash-view")
        assert tab.table()["rows"] == as_table(api_rows(api, YESTERDAY, YESTERDAY), DEFAULTS)
    finally:
        api.clock.set(start)


# --- the shareable URL ---------------------------------------------------------------------------


def test_a_shared_url_restores_the_choices_and_never_carries_the_token(
    browser, tab: Page, api: Api
):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    page.click("#pbx-menu summary")
    before = tab.loaded()
    page.uncheck("#pbx-all")
    tab.settle(before)
    for pbx in ("acme-lon", "acme-nyc"):
        before = tab.loaded()
        page.check(f'#pbx-list input[value="{pbx}"]')
        tab.settle(before)
    page.keyboard.press("Escape")
    assert page.text_content("#pbx-summary") == "acme-lon, acme-nyc"
    tab.choose("#window", "last-7-days")
    tab.choose("#tz", "Europe/London")
    page.locator('#summary thead button[data-key="Total_Talk_Time"]').click()
    page.click("#columns-menu summary")
    page.check('#column-groups input[value="Branch"]')
    page.keyboard.press("Escape")
    page.fill("#q", "a")
    tab.filtered(q="a")
    url = page.url
    session = page.evaluate("JSON.parse(sessionStorage.getItem('workanalytics.session'))")
    for secret in (session["token"], session["apiKey"], PASSWORD):
        assert secret not in url
    assert "pbx=acme-lon,acme-nyc" in url and "window=last-7-days" in url
    assert "tz=Europe/London" in url and "sort=-Total_Talk_Time" in url
    expected_table = tab.table()

    # Someone else opens the link: sign-in first, then the same view.
    other = Page(browser.new_page(), api, tab.shots)
    try:
        other.page.goto(url)
        other.page.wait_for_selector("#signin-view:not([hidden])")
        other.sign_in()
        assert other.page.input_value("#window") == "last-7-days"
        assert other.page.input_value("#tz") == "Europe/London"
        assert other.page.input_value("#q") == "a"
        assert other.page.text_content("#pbx-summary") == "acme-lon, acme-nyc"
        assert other.table() == expected_table
        rows = api_rows(api, "2026-05-14", TODAY, tz="Europe/London", pbx="acme-lon,acme-nyc")
        columns = in_order([*DEFAULTS, "Branch"])
        want = sorted(
            (
                r
                for r in rows
                if "a"
                in f"{r['Extension']}\n{r['FirstName']} {r['LastName']}\n{r['UserName']}".lower()
            ),
            key=lambda r: -r["Total_Talk_Time"],
        )
        assert other.table()["rows"] == as_table(want, columns)
        assert not other.errors
    finally:
        other.page.close()


# --- charts ----------------------------------------------------------------------------------------


def test_charts_compare_extensions_and_trend_one_report_per_day(tab: Page, api: Api):
    tab.goto("/#window=last-7-days")
    extsum_requests = []
    tab.page.on("request", lambda r: "/v2/extsum?" in r.url and extsum_requests.append(r.url))
    tab.sign_in()
    page = tab.page
    days = [f"2026-05-{d}" for d in range(14, 21)]
    # One report for the window and one per local day.
    assert len(extsum_requests) == 1 + len(days)
    for day in days:
        assert any(
            quote(f"{day} 00:00:00") in u and quote(f"{day} 23:59:59") in u for u in extsum_requests
        )

    # The per-day trend: a point per day and series, the day's totals.
    assert page.locator("#chart-trend circle.dot.s-answered").count() == len(days)
    numbers = page.evaluate(
        """() => [...document.querySelectorAll('#chart-trend .chart-data tbody tr')]
               .map(r => [...r.cells].map(c => c.textContent))"""
    )
    want = []
    for day in days:
        rows = api_rows(api, day, day)
        want.append(
            [day]
            + [
                f"{sum(r[k] for r in rows):,}"
                for k in ("Total_Answered", "Total_Missed", "Total_Abandoned", "Total_Calls_To_VM")
            ]
        )
    assert numbers == want

    # Comparisons: the ten busiest extensions, four bars each; ring and talk stacked.
    rows = api_rows(api, days[0], days[-1])
    busiest = sorted(rows, key=lambda r: -(r["Inbound_Total"] + r["Outbound_Total"]))[:10]
    assert page.locator("#chart-volume rect.bar").count() == 40
    labels = page.evaluate(
        """() => [...document.querySelectorAll('#chart-volume .chart-data tbody th')]
               .map(c => c.textContent.split(' ')[0])"""
    )
    assert labels == [r["Extension"] for r in busiest]
    assert page.locator("#chart-time rect.bar.s-ring").count() == 10
    assert page.locator("#chart-time rect.bar.s-talk").count() == 10
    assert "Top 10 of" in page.text_content("#chart-volume-note")

    path = tab.shot("06-charts", full_page=True)
    if os.environ.get("WORKANALYTICS_UPDATE_SCREENSHOT"):
        page.set_viewport_size({"width": 1400, "height": 1250})
        page.wait_for_timeout(300)  # charts redraw at the new width
        page.screenshot(path=str(README_SCREENSHOT))
    assert path.stat().st_size > 10_000


# --- columns, keyboard, labels, colours ------------------------------------------------------------


def test_the_column_chooser_shows_any_of_the_45_fields(tab: Page):
    tab.goto("/")
    tab.sign_in()
    page = tab.page
    assert page.text_content("#column-count") == f"{len(DEFAULTS)}/45"
    page.click("#columns-menu summary")
    page.click("#columns-all")
    assert tab.table()["head"] == [f.name for f in metrics.FIELDS]
    assert len(tab.table()["rows"][0]) == 45
    assert "cols=" in page.url
    page.click("#columns-default")
    assert tab.table()["head"] == DEFAULTS
    assert "cols=" not in page.url
    page.uncheck('#column-groups input[value="FirstName"]')
    assert "FirstName" not in tab.table()["head"]
    # Labels and definitions come from fields.json (metrics.FIELDS).
    title = page.get_attribute('#summary thead button[data-key="Avg_Talk_Time"]', "title")
    assert FIELD_BY_NAME["Avg_Talk_Time"].definition in title


def test_every_control_is_labelled_and_the_table_works_from_the_keyboard(tab: Page):
    tab.goto("/")
    page = tab.page
    # Sign in with the keyboard only.
    page.focus("#apikey")
    page.keyboard.type(tab.api.keys["default"])
    page.keyboard.press("Tab")
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    before = tab.loaded()
    page.keyboard.press("Enter")
    tab.settle(before)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, summary')]
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                       && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
          .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    # Sort from the keyboard.
    page.focus('#summary thead button[data-key="Total_Talk_Time"]')
    page.keyboard.press("Enter")
    header = page.locator('#summary thead th:has(button[data-key="Total_Talk_Time"])')
    assert header.get_attribute("aria-sort") == "descending"
    assert page.evaluate("document.activeElement.dataset.key") == "Total_Talk_Time"
    # Menus open with Enter and close with Escape, focus back on their button.
    page.focus("#columns-menu summary")
    page.keyboard.press("Enter")
    assert page.get_attribute("#columns-menu", "open") is not None
    page.keyboard.press("Escape")
    assert page.get_attribute("#columns-menu", "open") is None
    assert page.evaluate("document.activeElement.closest('#columns-menu') !== null")


def _luminance(css_rgb: str) -> float:
    r, g, b = (int(v) for v in css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_readable_in_light_and_dark_mode(tab: Page, scheme):
    tab.page.emulate_media(color_scheme=scheme)
    tab.goto("/#window=last-7-days")
    tab.sign_in()
    colours = tab.page.evaluate(
        """() => {
          const c = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
          return {bg: c('html', 'backgroundColor'), card: c('.table-card', 'backgroundColor'),
                  text: c('#summary tbody td', 'color'), muted: c('.kpi-sub', 'color')};
        }"""
    )
    bg, card, text, muted = (_luminance(colours[k]) for k in ("bg", "card", "text", "muted"))
    if scheme == "light":
        assert bg > 0.9 and card > 0.9 and text < 0.2
    else:
        assert bg < 0.1 and card < 0.15 and text > 0.85
    assert abs(card - text) > 0.7 and abs(card - muted) > 0.35
    tab.shot(f"07-{scheme}", full_page=True)


# --- the page's own logic, in the browser ------------------------------------------------------------


def test_window_arithmetic_in_several_time_zones(tab: Page):
    tab.goto("/")
    result = tab.page.evaluate(
        """async () => {
          const w = await import('/analytics/work/ui/static/windows.js');
          const at = (iso) => Date.parse(iso);
          const win = (kind, tz, now, extra = {}) => {
            const r = w.windowDays(kind, tz, {now: at(now), ...extra});
            return r.error || `${r.first}..${r.last}`;
          };
          return {
            auckland: w.todayIn('Pacific/Auckland', at('2026-05-20T18:00:00Z')),
            honolulu: w.todayIn('Pacific/Honolulu', at('2026-05-20T05:00:00Z')),
            week: win('this-week', 'America/New_York', '2026-05-20T18:00:00Z'),
            weekOnSunday: win('this-week', 'America/New_York', '2026-05-24T18:00:00Z'),
            last7: win('last-7-days', 'America/New_York', '2026-05-20T18:00:00Z'),
            yesterdayNewYear: win('yesterday', 'Europe/London', '2026-01-01T00:30:00Z'),
            thisMonthLeap: win('this-month', 'UTC', '2028-02-10T00:00:00Z'),
            lastMonthSydney: win('last-month', 'Australia/Sydney', '2026-02-28T14:00:00Z'),
            lastMonthLA: win('last-month', 'America/Los_Angeles', '2026-02-28T14:00:00Z'),
            lastMonthJanuary: win('last-month', 'UTC', '2026-01-15T00:00:00Z'),
            custom: win('custom', 'UTC', '2026-05-20T00:00:00Z', {from: '2026-03-07', to: '2026-03-09'}),
            customBad: win('custom', 'UTC', '2026-05-20T00:00:00Z', {from: '2026-02-30', to: '2026-03-09'}),
            dstDay: w.dayQuery('2026-03-08', '2026-03-08', 'America/New_York'),
            trend: w.trendDays({first: '2026-05-01', last: '2026-05-31', today: '2026-05-20'}).days.length,
            trendLong: w.trendDays({first: '2025-01-01', last: '2025-12-31', today: '2026-05-20'}),
          };
        }"""
    )
    assert result["auckland"] == "2026-05-21"
    assert result["honolulu"] == "2026-05-19"
    assert result["week"] == "2026-05-18..2026-05-24"  # Monday to Sunday
    assert result["weekOnSunday"] == "2026-05-18..2026-05-24"
    assert result["last7"] == "2026-05-14..2026-05-20"
    assert result["yesterdayNewYear"] == "2025-12-31..2025-12-31"
    assert result["thisMonthLeap"] == "2028-02-01..2028-02-29"
    assert result["lastMonthSydney"] == "2026-02-01..2026-02-28"  # already 1 March there
    assert result["lastMonthLA"] == "2026-01-01..2026-01-31"
    assert result["lastMonthJanuary"] == "2025-12-01..2025-12-31"
    assert result["custom"] == "2026-03-07..2026-03-09"
    assert result["customBad"] == "Choose both dates."
    # Wall-clock strings only: the server applies the zone's DST rules.
    assert result["dstDay"] == {
        "startTime": "2026-03-08 00:00:00",
        "endTime": "2026-03-08 23:59:59",
        "timeZone": "America/New_York",
    }
    assert result["trend"] == 20  # up to today
    assert len(result["trendLong"]["days"]) == 92 and result["trendLong"]["cut"]
    assert result["trendLong"]["days"][-1] == "2025-12-31"


def test_table_logic_in_the_browser(tab: Page):
    tab.goto("/")
    extensions = ["100", "abc", "99", "0100", "1a", "9", "10", "Z", "b", "007"]
    result = tab.page.evaluate(
        """async (extensions) => {
          const s = await import('/analytics/work/ui/static/summary.js');
          const session = await import('/analytics/work/ui/static/session.js');
          return {
            hms: [0, 999, 1000, 59999, 3599999, 3600000, 90061000].map(s.hms),
            sorted: extensions.slice().sort(s.compareExtensions),
            csv: s.toCsv([{A: 'x,y', B: 'say "hi"', C: 61000}, {A: 'line\\nbreak', B: '', C: 0}],
                         [{name: 'A', unit: 'text'}, {name: 'B', unit: 'text'}, {name: 'C', unit: 'ms'}]),
            renewal: [1800, 60].map(session.renewalDelay),
          };
        }""",
        extensions,
    )
    assert result["hms"] == [
        "0:00:00",
        "0:00:00",
        "0:00:01",
        "0:00:59",
        "0:59:59",
        "1:00:00",
        "25:01:01",
    ]
    assert result["sorted"] == sorted(extensions, key=metrics.extension_sort_key)
    assert (
        result["csv"] == '\ufeffA,B,C\r\n"x,y","say ""hi""",0:01:01\r\n"line\nbreak",,0:00:00\r\n'
    )
    assert result["renewal"] == [1_680_000, 30_000]
