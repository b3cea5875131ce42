"""The dashboard's routes without a browser: the page, its files, fields.json, zones.json and
the PBX list (issue #8). The browser tests are in ``test_dashboard.py``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from zoneinfo import available_timezones

import pytest

from workanalytics import metrics
from workanalytics.api.app import BASE_PATH
from workanalytics.ui import STATIC_DIR, UI_PATH

from apiserver import SHA001, Api, UserSpec, sample_legs, start_api

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    running = start_api(
        tmp_path_factory.mktemp("ui-routes"),
        legs=sample_legs(["acme-nyc", "acme-lon", "acme-ktm"]),
        users=[
            UserSpec("alice", "alice password 1", all_pbxes=True),
            UserSpec("bob", "bob password 1", pbxes=("acme-lon",)),
        ],
    )
    yield running
    running.stop()


def test_ui_path_is_under_the_api_base_path():
    assert f"{BASE_PATH}/ui" == UI_PATH


@pytest.mark.parametrize("path", ["/", UI_PATH])
def test_page_is_served_at_root_and_under_the_base_path(api: Api, path):
    r = api.client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.content == (STATIC_DIR / "index.html").read_bytes()
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "form-action 'none'" in csp  # a form sent without scripts never puts a password in a URL
    assert r.headers["x-content-type-options"] == "nosniff"


def test_head_and_other_methods_on_the_page(api: Api):
    r = api.client.head("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert api.client.head(f"{UI_PATH}/static/app.js").status_code == 200
    for method in ("POST", "PUT", "DELETE", "TRACE"):
        r = api.client.request(method, "/")
        assert r.status_code == 405, method
        assert r.json() == {"status": 405, "message": "Method Not Allowed"}


def test_every_asset_of_the_page_is_ours_and_served(api: Api):
    """Works offline: every script, style and icon comes from this server."""
    page = api.client.get("/").text
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert len(assets) >= 3
    for url in assets:
        assert url.startswith(f"{UI_PATH}/static/"), url
        r = api.client.get(url)
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == "no-cache"


def test_static_files_name_no_other_origin():
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        urls = set(re.findall(r"https?://[^\s\"')]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)


@pytest.mark.parametrize("name", ["app.js", "session.js", "windows.js", "summary.js", "charts.js"])
def test_scripts_are_served_as_javascript(api: Api, name):
    r = api.client.get(f"{UI_PATH}/static/{name}")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert r.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/analytics/work/ui/static/../router.py",
        b"/analytics/work/ui/static/%2e%2e/router.py",
        b"/analytics/work/ui/static/..%2frouter.py",
        b"/analytics/work/ui/static/%2e%2e%2f%2e%2e%2fapi%2fapp.py",
        b"/analytics/work/ui/static/nosuch.js",
        b"/analytics/work/ui/static/",
    ],
)
def test_static_files_never_leave_their_folder(api: Api, raw_path):
    from apiserver import http_get_bytes

    r = api.raw(http_get_bytes(raw_path, {}))
    assert r is not None
    assert r.status == 404
    assert b"import" not in r.body


def test_fields_json_is_generated_from_metrics(api: Api):
    r = api.client.get(f"{UI_PATH}/fields.json")
    assert r.status_code == 200
    doc = r.json()
    assert [
        (f["position"], f["name"], f["kind"], f["inV1"], f["definition"]) for f in doc["fields"]
    ] == [(f.position, f.name, f.kind, f.in_v1, f.definition) for f in metrics.FIELDS]
    assert len(doc["fields"]) == 45
    assert doc["defaultColumns"] == list(metrics.DEFAULT_TABLE_FIELDS)
    by_name = {f["name"]: f for f in doc["fields"]}
    for f in metrics.FIELDS:
        served = by_name[f.name]
        assert served["label"] and served["group"]
        if f.kind in ("duration", "average"):
            assert served["unit"] == "ms"
        if f.additive:
            assert served["total"] == {"op": "sum"}
    # Ratios of two fields are recomputed from their totals; Avg_Ring_Time divides by a number
    # the answer does not carry, so it has none.
    assert by_name["Avg_Talk_Time"]["total"] == {
        "op": "ratio", "num": "Total_Talk_Time", "den": "Total_Answered", "scale": 1,
    }  # fmt: skip
    assert by_name["Percent_External_Inbound_Answered"]["total"]["scale"] == 100
    assert by_name["Avg_Ring_Time"]["total"] is None
    assert by_name["PbxId"]["total"] is None


def test_zones_json_is_what_the_report_accepts(api: Api):
    zones = api.client.get(f"{UI_PATH}/zones.json").json()
    assert zones == sorted(available_timezones())
    assert "America/New_York" in zones and "Asia/Kathmandu" in zones


def test_pbxes_lists_what_the_user_may_see(api: Api):
    r = api.get(f"{UI_PATH}/pbxes", token=api.token("alice"))
    assert r.status_code == 200
    assert r.json() == {"username": "alice", "pbxIds": ["acme-ktm", "acme-lon", "acme-nyc"]}
    r = api.get(f"{UI_PATH}/pbxes", token=api.token("bob"))
    assert r.json() == {"username": "bob", "pbxIds": ["acme-lon"]}


def test_pbxes_asks_for_the_same_credentials_as_a_report(api: Api):
    token = api.token("alice")
    r = api.get(f"{UI_PATH}/pbxes", token=token, key=None)
    assert (r.status_code, r.content) == (400, SHA001)
    r = api.get(f"{UI_PATH}/pbxes")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    with api.clock.moved_to(api.clock() + 3600):
        r = api.get(f"{UI_PATH}/pbxes", token=token)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "Access token expired"}


def test_dashboard_routes_are_not_in_the_openapi_document(api: Api):
    paths = api.client.get(f"{BASE_PATH}/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(UI_PATH)]


def test_static_files_are_package_data():
    """An installed (not editable) package carries the page: pyproject names every file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["workanalytics"]
    package = STATIC_DIR.parent.parent
    covered = {p for g in globs for p in package.glob(g)}
    files = {p for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert files and files <= covered, files - covered
