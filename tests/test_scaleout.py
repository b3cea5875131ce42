"""The scale-out deployment end to end: two stateless API replicas over one ClickHouse
cluster (two shards) and one PostgreSQL control plane, against the embedded deployment.

Everything is real: the servers are Debian's, started on loopback for the session, and the
replicas are uvicorn servers spoken to over HTTP.
"""

from __future__ import annotations

import random

import pytest

from workanalytics.localservers.clickhouse import DEFAULT_CLUSTER

from apiserver import ADMIN_LEGS, Api, KeySpec, UserSpec, start_api
from conftest import (
    TEST_CLUSTER,
    Deployment,
    Leg,
    new_clickhouse_url,
    new_postgres_database,
    write_legs_csv,
)

PBXES = ("acme", "beta", "gamma", "delta")
T_START = 1_748_736_000_000  # 2025-06-01T00:00:00Z
YEAR_MS = 365 * 86_400_000
USERS = (UserSpec("alice", "alice-pw-1", all_pbxes=True),)
KEYS = (KeySpec("default"), KeySpec("admin", admin=True))

#: (start, end, zone): whole days and months, DST changes, :30 and :45 zones, mid-day edges.
WINDOWS = [
    ("2026-03-08 00:00:00", "2026-03-08 23:59:59", "America/New_York"),  # 23 hours
    ("2025-11-02 00:00:00", "2025-11-02 23:59:59", "America/New_York"),  # 25 hours
    ("2026-03-29 09:30:00", "2026-04-02 12:45:17", "Europe/London"),
    ("2026-04-01 00:00:00", "2026-04-10 23:59:59", "Australia/Adelaide"),
    ("2026-01-01 00:00:00", "2026-01-31 23:59:59", "Asia/Kathmandu"),
    ("2025-12-15 06:15:00", "2026-02-20 18:00:00", "Asia/Kolkata"),
    ("2025-06-01 00:00:00", "2026-05-31 23:59:59", "UTC"),
]


def year_of_legs(n: int, *, seed: int = 11, first_call: int = 0) -> list[Leg]:
    rng = random.Random(seed)
    extensions = [None, None, "99", "100", "101", "1001", "abc"]
    legs = []
    for i in range(n):
        answered = rng.random() < 0.6
        legs.append(
            Leg.of(
                pbx_id=PBXES[i % len(PBXES)],
                call_id=f"y{first_call + i}",
                start=T_START + rng.randrange(0, YEAR_MS),
                ring=rng.choice([0, 1_000, rng.randrange(0, 60_000)]),
                talk=rng.randrange(1_000, 600_000) if answered else 0,
                answered=answered,
                outcome="none" if answered else rng.choice(["none", "abandoned", "voicemail"]),
                caller_ext=rng.choice(extensions),
                callee_ext=rng.choice(extensions),
                status="Completed" if rng.random() < 0.9 else "In Progress",
            )
        )
    return legs


def query(start: str, end: str, zone: str) -> str:
    return (
        f"pbxId=allpbxes&startTime={start.replace(' ', '%20')}"
        f"&endTime={end.replace(' ', '%20')}&timeZone={zone}"
    )


@pytest.fixture(scope="module")
def scaleout(clickhouse_servers, postgres_server) -> Deployment:
    return Deployment(
        "scaleout",
        store_url=new_clickhouse_url(clickhouse_servers),
        cluster=TEST_CLUSTER,
        control_url=new_postgres_database(postgres_server),
    )


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, scaleout):
    """Replica A (filled: legs, users, keys) and replica B (nothing of its own)."""
    legs = year_of_legs(1500)
    a = start_api(
        tmp_path_factory.mktemp("replica-a"),
        deployment=scaleout,
        legs=legs,
        users=USERS,
        keys=KEYS,
    )
    b = start_api(tmp_path_factory.mktemp("replica-b"), deployment=scaleout)
    yield a, b
    b.stop()
    a.stop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    a = start_api(
        tmp_path_factory.mktemp("embedded"), legs=year_of_legs(1500), users=USERS, keys=KEYS
    )
    yield a
    a.stop()


def test_the_cluster_is_the_one_the_servers_form():
    assert TEST_CLUSTER == DEFAULT_CLUSTER


def test_a_token_from_one_replica_works_on_the_other(replicas):
    a, b = replicas
    token = a.token("alice")
    key = a.keys["default"]
    r = b.extsum(query(*WINDOWS[0]), token=token, key=key)
    assert r.status_code == 200, r.text
    assert r.json(), "the replicas share the legs too"
    # And the other way round: B's login, A's report.
    login = b.login("alice", "alice-pw-1", key=key)
    assert login.status_code == 200, login.text
    r = a.extsum(query(*WINDOWS[0]), token=login.json()["access_token"], key=key)
    assert r.status_code == 200


def test_a_wrong_password_fails_alike_on_every_replica(replicas):
    answers = [
        replica.login("alice", "wrong", key=replicas[0].keys["default"]) for replica in replicas
    ]
    assert {r.status_code for r in answers} == {400}
    assert answers[0].content == answers[1].content


@pytest.mark.parametrize("window", WINDOWS, ids=[f"{w[2]}-{w[0][:10]}" for w in WINDOWS])
def test_the_same_legs_give_the_same_answers_in_both_deployments(replicas, embedded, window):
    a, b = replicas
    mine = embedded.extsum(query(*window), token=embedded.token("alice"))
    theirs = b.extsum(query(*window), token=a.token("alice"), key=a.keys["default"])
    assert mine.status_code == theirs.status_code == 200, (mine.text, theirs.text)
    assert theirs.content == mine.content
    assert len(mine.json()) > 0


def test_the_legs_are_spread_over_both_shards(replicas, clickhouse_servers, scaleout):
    from clickhouse_driver import Client

    database = scaleout.store_url.rsplit("/", 1)[1]
    counts = []
    for server in clickhouse_servers:
        client = Client(host="127.0.0.1", port=server.tcp_port)
        counts.append(client.execute(f"SELECT sum(sign) FROM {database}.legs_local")[0][0])
        client.disconnect()
    assert all(c > 0 for c in counts), counts
    assert sum(counts) == replicas[0].svc.store.leg_count() == 1500


def test_legs_sent_to_one_replica_are_answered_by_the_other(replicas, tmp_path):
    a, b = replicas
    window = ("2026-05-20 00:00:00", "2026-05-20 23:59:59", "UTC")
    token = a.token("alice")
    before = b.extsum(query(*window), token=token, key=a.keys["default"]).json()
    late = [
        Leg(pbx_id="gamma", call_id="late-1", start_time=1_779_271_200_000,
            end_time=1_779_271_260_000, callee="7777", callee_ext="7777"),
    ]  # fmt: skip
    body = write_legs_csv(tmp_path / "late.csv", late).read_bytes()
    r = a.client.post(
        ADMIN_LEGS,
        content=body,
        headers={"Content-Type": "text/csv", "8x8-apikey": a.keys["admin"]},
    )
    assert r.status_code == 200, r.text
    after = b.extsum(query(*window), token=token, key=a.keys["default"]).json()
    added = [row for row in after if row["Extension"] == "7777"]
    assert not [row for row in before if row["Extension"] == "7777"]
    assert len(added) == 1 and added[0]["Inbound_Total"] == 1


def test_a_second_deployment_on_the_same_servers_sees_nothing_of_the_first(
    tmp_path, clickhouse_servers, postgres_server, replicas
):
    other = Deployment(
        "other",
        store_url=new_clickhouse_url(clickhouse_servers),
        cluster=TEST_CLUSTER,
        control_url=new_postgres_database(postgres_server),
    )
    api: Api = start_api(tmp_path, deployment=other, users=USERS, keys=KEYS)
    try:
        r = api.extsum(query(*WINDOWS[-1]), token=api.token("alice"))
        assert r.status_code == 200 and r.json() == []
        assert api.svc.store.leg_count() == 0
    finally:
        api.stop()


def test_the_cli_runs_on_the_scaleout_engines(tmp_path, clickhouse_servers, postgres_server):
    """init, ingest, directory import and extsum through the CLI's engine flags answer what
    the embedded data dir answers."""
    from click.testing import CliRunner

    from workanalytics.cli import main

    from conftest import write_directory_csv

    legs = write_legs_csv(tmp_path / "legs.csv", year_of_legs(300, seed=5))
    people = write_directory_csv(
        tmp_path / "dir.csv",
        [{"pbx_id": "acme", "extension": "100", "first_name": "Ada", "last_name": "Lovelace",
          "email": "ada@x", "username": "ada"}],
    )  # fmt: skip
    scaled = [
        "--store", new_clickhouse_url(clickhouse_servers), "--cluster", TEST_CLUSTER,
        "--control", new_postgres_database(postgres_server),
    ]  # fmt: skip
    answers = []
    for engines in ([], scaled):
        base = ["--data-dir", str(tmp_path / f"d{len(answers)}"), *engines]
        runner = CliRunner()
        for args in (["init"], ["ingest", str(legs)], ["directory", "import", str(people)]):
            r = runner.invoke(main, base + args)
            assert r.exit_code == 0, r.output
        r = runner.invoke(
            main,
            [*base, "extsum", "--pbx", "acme,beta", "--start", "2025-11-01 00:00:00",
                    "--end", "2026-03-09 11:59:59", "--tz", "America/New_York",
                    "--now", "2026-06-01T00:00:00Z", "--format", "json"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        answers.append(r.output)
    assert answers[0] == answers[1]
    assert '"FirstName":"Ada"' in answers[0].replace(" ", "")


def test_threads_that_come_and_go_share_a_few_clickhouse_connections(tmp_path, clickhouse_servers):
    """The API runs requests on worker threads that end when idle: their connections must
    be reused, not left open one per thread."""
    import threading

    from workanalytics.store.clickhouse_store import ClickHouseStore

    with ClickHouseStore(new_clickhouse_url(clickhouse_servers), work_dir=tmp_path) as store:
        for _ in range(30):
            t = threading.Thread(target=store.ping)
            t.start()
            t.join()
        assert len(store.ch._idle) == 1


def test_a_store_that_goes_away_is_a_503_not_a_500(tmp_path, clickhouse_servers):
    # clickhouse_servers: skip (or fail in CI) where ClickHouse is not installed.
    from workanalytics.localservers import clickhouse

    (server,) = clickhouse.start_cluster(tmp_path / "ch", 1)
    api = None
    try:
        api = start_api(
            tmp_path / "api",
            deployment=Deployment("lonely", store_url=server.url.replace("/default", "/lonely")),
            legs=year_of_legs(50),
            users=USERS,
            keys=KEYS,
        )
        token = api.token("alice")
        assert api.extsum(query(*WINDOWS[-1]), token=token).status_code == 200
        server.stop()
        r = api.extsum(query(*WINDOWS[-1]), token=token)
        assert r.status_code == 503
        assert r.json() == {"status": 503, "error": "Service Unavailable"}
        assert r.headers["Retry-After"] == "5"
    finally:
        if api is not None:
            api.stop()
        server.stop()
