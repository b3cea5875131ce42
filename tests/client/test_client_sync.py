"""The blocking client against our real server: answers, wall-clock times, tokens."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workanalytics.client import Client, Token, TokenCache
from workanalytics.client.auth import cache_key

from apiserver import Api
from clientkit import DAY, CountingTransport, api_url, client_for, raw_extsum, start_server

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_server(tmp_path_factory.mktemp("sync"))
    yield a
    a.stop()


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingTransport(CountingTransport):
    """Counts, and keeps (request, status) of every exchange."""

    def __init__(self):
        super().__init__(after=self._record)
        self.seen: list[tuple] = []

    def _record(self, request, response):
        self.seen.append((request, response.status_code))


# --- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("pbx", ["acme", "acme,beta", "allpbxes", ["beta", "acme"]])
def test_rows_are_the_apis_answer(api: Api, version, pbx):
    with client_for(api) as c:
        rows = c.extension_summary(pbx, *DAY, version=version)
    expected = raw_extsum(
        api, pbx if isinstance(pbx, str) else ",".join(pbx), *DAY, version=version
    )
    assert expected  # the window has data
    assert [r.to_dict() for r in rows] == expected
    assert all(r.version == version for r in rows)


def test_an_empty_answer_is_no_rows(api: Api):
    with client_for(api) as c:
        assert (
            c.extension_summary("acme", "2020-01-01 00:00:00", "2020-01-01 23:59:59", "UTC") == []
        )


def test_the_request_is_8x8s(api: Api):
    t = RecordingTransport()
    with client_for(api, transport=t) as c:
        c.extension_summary("acme,beta", *DAY)
    (login, _), (report, _) = t.seen
    assert login.method == "POST" and login.url.path == "/analytics/work/v1/oauth/token"
    assert login.headers["content-type"] == "application/x-www-form-urlencoded"
    assert login.headers["8x8-apikey"] == api.keys["default"]
    assert login.content == b"username=alice&password=alice-pw-1"
    assert report.method == "GET" and report.url.path == "/analytics/work/v2/extsum"
    assert report.headers["authorization"].startswith("Bearer ey")
    assert report.headers["8x8-apikey"] == api.keys["default"]
    assert report.headers["accept"] == "application/json"
    # Spaces as %20, every parameter present and exact.
    assert b"startTime=2026-03-01%2000:00:00" in report.url.query
    assert dict(report.url.params) == {
        "pbxId": "acme,beta", "startTime": DAY[0], "endTime": DAY[1], "timeZone": DAY[2],
    }  # fmt: skip


# --- wall-clock times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # aware datetimes are converted to the zone sent (here from UTC and from Tokyo)
        (datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 3, 2, 4, 59, 59, tzinfo=UTC)),
        (
            datetime(2026, 3, 1, 14, tzinfo=ZoneInfo("Asia/Tokyo")),
            datetime(2026, 3, 2, 13, 59, 59, 999_999, tzinfo=ZoneInfo("Asia/Tokyo")),
        ),
        # naive datetimes are wall-clock times of the zone already
        (datetime(2026, 3, 1), datetime(2026, 3, 1, 23, 59, 59)),
        # dates are whole days
        (date(2026, 3, 1), date(2026, 3, 1)),
        (DAY[0], DAY[1]),
    ],
)
def test_bounds_are_sent_as_wall_clock_times_of_the_zone(api: Api, start, end):
    t = RecordingTransport()
    with client_for(api, transport=t) as c:
        rows = c.extension_summary("acme", start, end, NY)
    report = t.seen[-1][0]
    assert (report.url.params["startTime"], report.url.params["endTime"]) == DAY[:2]
    assert report.url.params["timeZone"] == "America/New_York"
    assert [r.to_dict() for r in rows] == raw_extsum(api, "acme", *DAY)


def test_a_utc_datetime_is_not_sent_as_local_time(api: Api):
    """The bug of the ad hoc scripts: 00:00 UTC sent with a New York zone."""
    t = RecordingTransport()
    with client_for(api, transport=t) as c:
        c.extension_summary(
            "acme",
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
            NY,
        )
    params = t.seen[-1][0].url.params
    assert (params["startTime"], params["endTime"]) == (
        "2026-02-28 19:00:00",
        "2026-03-01 18:59:59",
    )


# --- tokens ---------------------------------------------------------------------------------


def test_one_login_serves_many_requests(api: Api):
    t = CountingTransport()
    with client_for(api, transport=t) as c:
        for _ in range(3):
            c.extension_summary("acme", *DAY)
        assert c.access_token() == c.access_token()
    assert (t.logins(), t.reports()) == (1, 3)


def test_the_password_is_asked_for_only_when_logging_in(api: Api):
    asked = []

    def password() -> str:
        asked.append(1)
        return "alice-pw-1"

    with client_for(api, password=password) as c:
        assert asked == []
        c.extension_summary("acme", *DAY)
        c.extension_summary("acme", *DAY)
    assert asked == [1]


def test_a_token_is_renewed_ahead_of_its_expiry_on_the_clients_clock(api: Api):
    clock = FakeClock()
    t = RecordingTransport()
    with client_for(api, transport=t, clock=clock, renew_margin=90) as c:
        first = c.access_token()
        clock.now += 1800 - 91  # 91 s before expiry: still good
        assert c.access_token() == first
        c.extension_summary("acme", *DAY)
        clock.now += 2  # 89 s before: inside the margin, renewed before any 401
        c.extension_summary("acme", *DAY)
        assert c.access_token() != first
    assert [s for _, s in t.seen] == [200, 200, 200, 200]
    assert t.logins() == 2


def test_a_token_refused_when_the_servers_clock_passes_its_expiry_is_renewed_once(api: Api):
    t = RecordingTransport()
    with client_for(api, transport=t) as c:
        c.extension_summary("acme", *DAY)
        token = c.access_token()
        with api.clock.moved_to(api.clock() + 1801):  # the client's clock has not moved
            rows = c.extension_summary("acme", *DAY)
            assert c.access_token() != token
        assert [r.to_dict() for r in rows] == raw_extsum(api, "acme", *DAY)
    paths = [(r.url.path.rsplit("/", 1)[-1], s) for r, s in t.seen]
    assert paths == [
        ("token", 200),
        ("extsum", 200),
        ("extsum", 401),
        ("token", 200),
        ("extsum", 200),
    ]


def test_concurrent_requests_share_one_login(api: Api):
    t = CountingTransport()
    with client_for(api, transport=t) as c:
        errors: list[BaseException] = []

        def work():
            try:
                c.extension_summary("acme", *DAY)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors and (t.logins(), t.reports()) == (1, 6)


# --- the on-disk token cache -------------------------------------------------------------------


def test_a_token_cache_file_saves_the_next_clients_login(api: Api, tmp_path):
    path = tmp_path / "cache" / "tokens.json"
    first, second = CountingTransport(), CountingTransport()
    with client_for(api, transport=first, token_cache=path) as c:
        c.extension_summary("acme", *DAY)
    with client_for(api, transport=second, token_cache=path) as c:
        c.extension_summary("acme", *DAY)
    assert (first.logins(), second.logins(), second.reports()) == (1, 0, 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "alice-pw-1" not in text and api.keys["default"] not in text and "alice" not in text
    # Another user, key or server has an entry of its own.
    other = CountingTransport()
    with client_for(api, user="bob", transport=other, token_cache=path) as c:
        c.extension_summary("acme", *DAY)
    assert other.logins() == 1


def test_the_cache_key_covers_server_key_and_user():
    base = cache_key("http://a/analytics/work", "k1", "alice")
    assert base == cache_key("http://a/analytics/work/", "k1", "alice")
    assert base != cache_key("http://b/analytics/work", "k1", "alice")
    assert base != cache_key("http://a/analytics/work", "k2", "alice")
    assert base != cache_key("http://a/analytics/work", "k1", "bob")


def test_a_cache_file_others_can_read_is_ignored_and_replaced(api: Api, tmp_path):
    path = tmp_path / "tokens.json"
    with client_for(api, token_cache=path) as c:
        c.access_token()
    os.chmod(path, 0o644)
    t = CountingTransport()
    with client_for(api, transport=t, token_cache=path) as c:
        c.access_token()
    assert t.logins() == 1  # the cached token was not trusted
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_refused_cached_token_is_replaced_by_one_login(api: Api, tmp_path):
    path = tmp_path / "tokens.json"
    key = cache_key(api_url(api), api.keys["default"], "alice")
    TokenCache(path).put(key, Token("not-a-jwt", 4e9, 1800), now=0)
    t = RecordingTransport()
    with client_for(api, transport=t, token_cache=path) as c:
        c.extension_summary("acme", *DAY)
    assert [(r.url.path.rsplit("/", 1)[-1], s) for r, s in t.seen] == [
        ("extsum", 401), ("token", 200), ("extsum", 200),
    ]  # fmt: skip
    assert "not-a-jwt" not in path.read_text()


def test_an_expired_cached_token_is_not_used(api: Api, tmp_path):
    path = tmp_path / "tokens.json"
    key = cache_key(api_url(api), api.keys["default"], "alice")
    TokenCache(path).put(key, Token("stale", 1_000.0, 1800), now=0)
    t = RecordingTransport()
    with client_for(api, transport=t, token_cache=path, clock=FakeClock(2_000.0)) as c:
        c.extension_summary("acme", *DAY)
    assert [s for _, s in t.seen] == [200, 200] and t.logins() == 1


def test_the_default_base_url_is_8x8s():
    c = Client(api_key="k", username="u", password="p")
    assert c.base_url == "https://api.8x8.com/analytics/work"
    c.close()


@pytest.mark.parametrize(
    "kwargs", [{"api_key": ""}, {"username": ""}, {"password": None}, {"concurrency": 0}]
)
def test_bad_settings_are_refused(kwargs):
    args = {"api_key": "k", "username": "u", "password": "p", **kwargs}
    with pytest.raises(ValueError):
        Client(**args)


def test_series_rows_are_each_periods_answer(api: Api):
    progress: list[tuple[int, int]] = []
    with client_for(api) as c:
        rows = c.extension_summary_series(
            "allpbxes", "2026-02-28 12:00:00", "2026-03-02 06:00:00", NY,
            every="day", concurrency=2, on_progress=lambda d, n: progress.append((d, n)),
        )  # fmt: skip
    labels = sorted({r.period.label for r in rows})
    assert labels == ["2026-02-28", "2026-03-01", "2026-03-02"]
    for label in labels:
        period = next(r.period for r in rows if r.period.label == label)
        got = [r.to_dict() for r in rows if r.period.label == label]
        assert got == raw_extsum(api, "allpbxes", period.start_time, period.end_time, NY.key)
    assert progress[0] == (0, 3) and progress[-1] == (3, 3) and len(progress) == 4
    assert all(p.end - p.start <= timedelta(days=1) for p in {r.period for r in rows})


def test_series_arguments_are_checked_before_sending(api: Api):
    from workanalytics.client import InvalidParameterError

    t = CountingTransport()
    with client_for(api, transport=t) as c:
        with pytest.raises(ValueError, match="every"):
            c.extension_summary_series("acme", *DAY, every="hour")
        with pytest.raises(InvalidParameterError) as e:
            c.extension_summary_series("acme", DAY[1], DAY[0], DAY[2])
        with pytest.raises(ValueError, match="version"):
            c.extension_summary("acme", *DAY, version=3)
    assert (e.value.status, e.value.parameter) == (None, "endTime")
    assert t.paths.total() == 0
