"""A synthetic company's call legs and extension directory, for demos, tests and benchmarks.

Real call data is private, and the interesting bugs of a call-analytics service (time zones
with :30 and :45 offsets, daylight-saving days, ring-all fan-out, queue legs that a service
picked up, transfers, legs still in progress, ``99`` sorting before ``100``) only show up in
data that has all of them. This module makes such data at any size, deterministically from a
seed, fast enough to produce ten million legs in about a minute.

Everything is vectorised with numpy over a block of days at a time ("chunk"); Python loops
only run per PBX, per group or per chunk, never per leg. Strings are never formatted per
leg either: every text column is a ``take`` from a small precomputed table (extensions,
names, phone numbers), except ``call_id`` which is an Arrow integer-to-string cast.

Volume model (see :data:`DEFAULT_CALLS_PER_USER`): each PBX places calls at a Poisson rate
of ``calls_per_user`` per user extension per local weekday (10 % of that on Saturdays, 5 % on
Sundays). A call yields about 2 legs on average (ring-all groups fan out, queues add a
service leg, transfers add one), so the default gives about 7.5 legs per user extension per
weekday, about 5.5 per calendar day: 5,000 extensions x 365 days is about 10 million legs.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workanalytics import directory
from workanalytics.legs import COLUMN_NAMES, STATUS_COMPLETED, STATUS_IN_PROGRESS

__all__ = [
    "DEFAULT_CALLS_PER_USER",
    "DIRECTORY_COLUMNS",
    "FORMATS",
    "PBX_TIME_ZONES",
    "GenerateResult",
    "generate_company",
]

#: Output formats, by file suffix.
FORMATS: tuple[str, ...] = (".parquet", ".csv", ".jsonl")

#: The directory CSV's header: the directory module's one definition.
DIRECTORY_COLUMNS: tuple[str, ...] = directory.COLUMNS

#: Calls placed per user extension per local weekday; about 2 legs each (module docstring).
DEFAULT_CALLS_PER_USER = 3.75

_MS = 1000
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_TS = pa.timestamp("ms", tz="UTC")
#: Legs per chunk the chunk size aims at: big enough to amortise per-chunk overhead, small
#: enough that memory stays bounded whatever the number of days.
_TARGET_CHUNK_LEGS = 700_000
_EST_LEGS_PER_USER_DAY = 5.6


@dataclass(frozen=True)
class _PbxConfig:
    name: str
    tz: str
    branch: str
    region: str
    #: Share of the user extensions this PBX gets.
    weight: float
    user_start: int
    service_start: int
    #: DID of extension ``e`` is ``did_base + e``; E.164 digits without the ``+``.
    did_base: int
    #: Outside numbers: (prefix digits, subscriber digits).
    number_plans: tuple[tuple[int, int], ...]


# In priority order: a small company keeps the first ones, so the :45 zone stays in.
_PBXS: tuple[_PbxConfig, ...] = (
    _PbxConfig(
        "acme-nyc",
        "America/New_York",
        "New York",
        "us",
        0.26,
        1000,
        8000,
        12125550000,
        ((1212, 7), (1646, 7), (1917, 7), (1718, 7)),
    ),
    _PbxConfig(
        "acme-lon",
        "Europe/London",
        "London",
        "uk",
        0.20,
        2000,
        7000,
        442079460000,
        ((4420, 8), (447700, 6), (44161, 7)),
    ),
    # Users from 95 so that 99 and 100 both exist: numeric sorting matters.
    _PbxConfig(
        "acme-ktm",
        "Asia/Kathmandu",
        "Kathmandu",
        "np",
        0.16,
        95,
        10,
        97715550000,
        ((9771, 7), (97798, 8)),
    ),
    _PbxConfig(
        "acme-syd",
        "Australia/Sydney",
        "Sydney",
        "au",
        0.14,
        3000,
        6000,
        61290000000,
        ((612, 8), (614, 8)),
    ),
    _PbxConfig(
        "acme-la",
        "America/Los_Angeles",
        "Los Angeles",
        "us",
        0.14,
        4000,
        4900,
        13105550000,
        ((1310, 7), (1213, 7), (1323, 7)),
    ),
    _PbxConfig(
        "acme-adl",
        "Australia/Adelaide",
        "Adelaide",
        "au",
        0.10,
        500,
        900,
        61881000000,
        ((618, 8), (614, 8)),
    ),
)

#: Every PBX the generator may use, with its IANA time zone.
PBX_TIME_ZONES: dict[str, str] = {c.name: c.tz for c in _PBXS}

_FIRST = {
    "us": (
        "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
        "Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy "
        "Anthony Betty Mark Sandra Luis Ashley Wei Emily Andre Maria Kevin Michelle Jose "
        "Amanda Brian Grace"
    ),
    "uk": (
        "Oliver Amelia George Isla Harry Ava Jack Mia Jacob Ivy Noah Lily Charlie Sophia Thomas "
        "Grace Oscar Freya William Emily James Poppy Arjun Priya Liam Chloe Samuel Ella Daniel "
        "Evie Mohammed Aisha Callum Niamh Rhys Sian Fraser Eilidh"
    ),
    "au": (
        "Jack Charlotte William Olivia Noah Mia Oliver Amelia Thomas Isla Lachlan Ava Cooper "
        "Grace Riley Chloe Ethan Zoe Lucas Matilda Liam Ruby Harrison Sienna Mason Harper "
        "Hamish Georgia Kai Layla Minh Linh Connor Jasmine Angus Tahlia"
    ),
    "np": (
        "Aarav Sita Ram Gita Bikash Sunita Rajesh Anita Suman Pooja Prakash Sarita Dipesh "
        "Kabita Nabin Sabina Rohan Asmita Kiran Srijana Manish Binita Santosh Laxmi Bishal "
        "Nirmala Anil Rekha Sujan Pratima Ashok Shristi"
    ),
}
_LAST = {
    "us": (
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Clark Lewis Robinson Walker Young Allen King Wright Nguyen Chen Li Kim "
        "Patel O'Brien"
    ),
    "uk": (
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
        "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel "
        "Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Khan Ahmed O'Connor "
        "MacDonald"
    ),
    "au": (
        "Smith Jones Williams Brown Wilson Taylor Johnson White Martin Anderson Thompson Nguyen "
        "Thomas Walker Harris Lee Ryan Robinson Kelly King Davis Wright Evans Roberts Green "
        "Hall Wood Jackson Clarke Tran Murphy Mitchell O'Neill Campbell"
    ),
    "np": (
        "Shrestha Sharma Thapa Gurung Tamang Adhikari Rai Magar Karki Bhandari Khadka Poudel "
        "Maharjan Basnet Acharya Koirala Joshi Pandey Limbu Shakya Bajracharya Ghimire Dahal "
        "Regmi Subedi Lama Sherpa Pradhan"
    ),
}

#: Departments with the share of users in each.
_DEPARTMENTS: tuple[tuple[str, float], ...] = (
    ("Sales", 0.20),
    ("Support", 0.22),
    ("Customer Service", 0.16),
    ("Engineering", 0.14),
    ("Finance", 0.08),
    ("Marketing", 0.08),
    ("Operations", 0.07),
    ("Human Resources", 0.05),
)
#: Ring groups in creation order: (name, department whose users are preferred as members).
_RING_GROUPS: tuple[tuple[str, str], ...] = (
    ("Sales Ring Group", "Sales"),
    ("Reception Ring Group", "Operations"),
    ("Support Ring Group", "Support"),
    ("IT Helpdesk Ring Group", "Engineering"),
    ("Accounts Ring Group", "Finance"),
    ("Marketing Ring Group", "Marketing"),
    ("Front Desk Ring Group", "Customer Service"),
    ("People Ring Group", "Human Resources"),
)
_QUEUES: tuple[tuple[str, str], ...] = (
    ("Customer Service Queue", "Customer Service"),
    ("Technical Support Queue", "Support"),
    ("Billing Queue", "Finance"),
    ("Sales Queue", "Sales"),
    ("Renewals Queue", "Sales"),
    ("Escalations Queue", "Support"),
)
_ATTENDANTS: tuple[str, ...] = ("Main Auto Attendant", "After Hours Auto Attendant")

# Relative call intensity per local hour 0..23: mid-morning and mid-afternoon peaks, a lunch
# dip, little at night. Weekends are flatter (and scaled down by _DAY_FACTOR).
_HOURLY_WEEKDAY = np.array(
    [
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.4,
        1.0,
        3.0,
        7.0,
        11.0,
        13.0,
        12.0,
        8.0,
        9.0,
        12.0,
        12.0,
        10.0,
        6.0,
        3.0,
        2.0,
        1.5,
        1.0,
        0.6,
        0.4,
    ]
)
_HOURLY_WEEKEND = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.2,
        0.2,
        0.3,
        0.6,
        1.2,
        2.5,
        4.0,
        4.5,
        4.5,
        4.0,
        4.0,
        4.0,
        3.5,
        3.0,
        2.2,
        1.6,
        1.2,
        1.0,
        0.8,
        0.6,
        0.5,
    ]
)
#: Volume factor by weekday, Monday = 0.
_DAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.0, 0.95, 0.10, 0.05])

# Scenarios and their share of calls.
_DIRECT, _RING_ALL, _LINEAR, _QUEUE, _INTERNAL, _OUTBOUND = range(6)
_SCENARIO_P = np.array([0.24, 0.12, 0.06, 0.14, 0.20, 0.24])
_TRANSFER_P = 0.08
#: Share of the last local day's calls (per PBX, the latest ones) still in progress.
_IN_PROGRESS_SHARE = 0.03
_HOLD_P = 0.12

_CAUSES = pa.array(["Normal", "Ring No Answer", "Transfer"])
_NORMAL, _RNA, _TRANSFER = 0, 1, 2
_STATUSES = pa.array([STATUS_COMPLETED, STATUS_IN_PROGRESS])

# Outcome codes of a single ringing leg.
_ANSWERED, _VOICEMAIL, _ABANDONED, _NO_ANSWER = range(4)


@dataclass(frozen=True)
class GenerateResult:
    """What was written, so a caller can report it or ingest it without reading it back."""

    legs_path: Path
    directory_path: Path
    legs: int
    calls: int
    #: Directory rows: user extensions plus the ring groups, queues, attendants, voicemail.
    extensions: int
    pbx_ids: tuple[str, ...]


@dataclass
class _Company:
    """Everything a chunk needs, as flat arrays indexed by global extension / party index.

    Party index: ``0 .. n_ext-1`` are extensions, ``n_ext + i`` is outside number ``i``.
    Each PBX's users, attendants, groups and outside numbers are contiguous ranges.
    """

    pbxs: tuple[_PbxConfig, ...]
    n_ext: int
    ext_str: pa.Array
    did_str: pa.Array
    party_str: pa.Array
    party_name: pa.Array
    user_first: np.ndarray
    user_count: np.ndarray
    aa_first: np.ndarray
    aa_count: np.ndarray
    ringall_first: np.ndarray
    ringall_count: np.ndarray
    linear_first: np.ndarray
    linear_count: np.ndarray
    cq_first: np.ndarray
    cq_count: np.ndarray
    pool_first: np.ndarray
    pool_count: np.ndarray
    #: Ring groups (ring-all and linear in one table): own extension, padded member table.
    rg_ext: np.ndarray
    rg_members: np.ndarray
    rg_size: np.ndarray
    cq_ext: np.ndarray
    cq_members: np.ndarray
    cq_size: np.ndarray
    aa_ext: np.ndarray
    directory: list[list[str]]


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Largest-remainder split of ``total`` with a floor: deterministic, sums exactly."""
    base = np.full(len(weights), minimum, dtype=np.int64)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    alloc = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - alloc), kind="stable")
    alloc[order[: rest - alloc.sum()]] += 1
    return base + alloc


def _ascii_id(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _unique(name: str, seen: dict[str, int]) -> str:
    n = seen.get(name, 0) + 1
    seen[name] = n
    return name if n == 1 else f"{name}{n}"


def _pick_members(
    rng: np.random.Generator, size: int, preferred: np.ndarray, everyone: np.ndarray
) -> np.ndarray:
    first = rng.permutation(preferred)[:size]
    others = rng.permutation(np.setdiff1d(everyone, first))
    return np.concatenate([first, others[: size - len(first)]])


def _build_company(rng: np.random.Generator, users: int) -> _Company:
    n_pbx = min(len(_PBXS), users // 2)
    pbxs = _PBXS[:n_pbx]
    per_pbx = _allocate(users, np.array([c.weight for c in pbxs]), 2)

    ext_num: list[int] = []
    ext_name: list[str] = []
    ext_did: list[int] = []
    directory: list[list[str]] = []
    seen_email: dict[str, int] = {}
    seen_user: dict[str, int] = {}
    dept_names = [d for d, _ in _DEPARTMENTS]
    dept_p = np.array([w for _, w in _DEPARTMENTS])
    dept_p /= dept_p.sum()

    firsts = {p: [] for p in ("user", "aa", "ringall", "linear", "cq")}
    counts = {p: [] for p in firsts}
    rg_ext: list[int] = []
    rg_members: list[np.ndarray] = []
    cq_ext: list[int] = []
    cq_members: list[np.ndarray] = []
    aa_ext: list[int] = []

    def add(cfg: _PbxConfig, number: int, name: str, row: list[str]) -> int:
        ext_num.append(number)
        ext_name.append(name)
        ext_did.append(cfg.did_base + number)
        directory.append([cfg.name, str(number), *row])
        return len(ext_num) - 1

    def service(cfg: _PbxConfig, number: int, kind: str, name: str, dept: str) -> int:
        # Services carry their name in first_name and have no login.
        return add(cfg, number, name, [kind, name, "", cfg.branch, dept, "", ""])

    for cfg, n_users in zip(pbxs, per_pbx, strict=True):
        n_users = int(n_users)
        # Users: contiguous global indices, contiguous extension numbers.
        first_names = _FIRST[cfg.region].split()
        last_names = _LAST[cfg.region].split()
        fi = rng.integers(0, len(first_names), n_users)
        li = rng.integers(0, len(last_names), n_users)
        dept = rng.choice(len(dept_names), n_users, p=dept_p)
        firsts["user"].append(len(ext_num))
        counts["user"].append(n_users)
        user_idx = np.arange(len(ext_num), len(ext_num) + n_users)
        for k in range(n_users):
            first, last = first_names[fi[k]], last_names[li[k]]
            email = _unique(f"{_ascii_id(first)}.{_ascii_id(last)}", seen_email)
            username = _unique(f"{_ascii_id(first)[0]}{_ascii_id(last)}", seen_user)
            add(
                cfg,
                cfg.user_start + k,
                f"{first} {last}",
                [
                    "UE",
                    first,
                    last,
                    cfg.branch,
                    dept_names[dept[k]],
                    f"{email}@acme.example",
                    username,
                ],
            )

        # Services numbered after the users unless the configured range is free.
        n_rg = int(np.clip(n_users // 80, 2, len(_RING_GROUPS)))
        n_cq = int(np.clip(n_users // 120, 1, len(_QUEUES)))
        n_aa = 2 if n_users > 500 else 1
        n_svc = n_aa + n_rg + n_cq + 1
        svc = cfg.service_start
        user_end = cfg.user_start + n_users
        if svc < user_end and svc + n_svc > cfg.user_start:
            svc = (user_end // 100 + 1) * 100

        firsts["aa"].append(len(aa_ext))
        counts["aa"].append(n_aa)
        for k in range(n_aa):
            aa_ext.append(service(cfg, svc, "AA", _ATTENDANTS[k], ""))
            svc += 1
        # Even ring groups ring all members at once, odd ones hunt linearly. Ring-all groups
        # are created first so each kind is a contiguous range of the group table.
        kinds = (range(0, n_rg, 2), range(1, n_rg, 2))
        for kind_name, kind_range in zip(("ringall", "linear"), kinds, strict=True):
            firsts[kind_name].append(len(rg_ext))
            counts[kind_name].append(len(kind_range))
            for k in kind_range:
                name, dname = _RING_GROUPS[k]
                rg_ext.append(service(cfg, svc, "RG", name, dname))
                svc += 1
                size = min(int(rng.integers(3, 9)), n_users)
                rg_members.append(
                    _pick_members(rng, size, user_idx[dept == dept_names.index(dname)], user_idx)
                )
        firsts["cq"].append(len(cq_ext))
        counts["cq"].append(n_cq)
        for k in range(n_cq):
            name, dname = _QUEUES[k]
            cq_ext.append(service(cfg, svc, "CQ", name, dname))
            svc += 1
            size = min(int(rng.integers(4, 16)), n_users)
            cq_members.append(
                _pick_members(rng, size, user_idx[dept == dept_names.index(dname)], user_idx)
            )
        service(cfg, svc, "VM", "Voicemail", "")

    n_ext = len(ext_num)
    ext_str = pc.cast(pa.array(ext_num, pa.int64()), pa.string())
    did_str = _plus(pa.array(ext_did, pa.int64()))

    # Outside parties: a finite pool per PBX so that customers call more than once.
    pool_sizes = [int(np.clip(n * 50, 500, 100_000)) for n in per_pbx]
    pool_first = np.concatenate([[0], np.cumsum(pool_sizes)[:-1]]) + n_ext
    numbers = []
    names = []
    for cfg, size in zip(pbxs, pool_sizes, strict=True):
        plans = np.array(cfg.number_plans, dtype=np.int64)
        plan = plans[rng.integers(0, len(plans), size)]
        sub = (rng.random(size) * 10.0 ** plan[:, 1]).astype(np.int64)
        numbers.append(plan[:, 0] * 10 ** plan[:, 1] + sub)
        first_up = pa.array([f.upper() for f in _FIRST[cfg.region].split()])
        last_up = pa.array([n.upper() for n in _LAST[cfg.region].split()])
        cnam = pc.binary_join_element_wise(
            first_up.take(rng.integers(0, len(first_up), size)),
            last_up.take(rng.integers(0, len(last_up), size)),
            " ",
        )
        # Caller ID names: mostly a person, some carriers only say so, some send nothing.
        kind = rng.random(size)
        cnam = pc.if_else(pa.array(kind < 0.3), pa.scalar("WIRELESS CALLER"), cnam)
        names.append(pc.if_else(pa.array(kind < 0.12), pa.scalar(None, pa.string()), cnam))

    def padded(rows: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    def arr(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    party_str = pa.concat_arrays([ext_str, _plus(pa.array(np.concatenate(numbers)))])
    party_name = pa.concat_arrays([pa.array(ext_name, pa.string()), *names])
    _check_plain(party_str, party_name, did_str, _CAUSES, pa.array([c.name for c in pbxs]))
    return _Company(
        pbxs=pbxs,
        n_ext=n_ext,
        ext_str=ext_str,
        did_str=did_str,
        party_str=party_str,
        party_name=party_name,
        user_first=arr(firsts["user"]),
        user_count=arr(counts["user"]),
        aa_first=arr(firsts["aa"]),
        aa_count=arr(counts["aa"]),
        ringall_first=arr(firsts["ringall"]),
        ringall_count=arr(counts["ringall"]),
        linear_first=arr(firsts["linear"]),
        linear_count=arr(counts["linear"]),
        cq_first=arr(firsts["cq"]),
        cq_count=arr(counts["cq"]),
        pool_first=pool_first.astype(np.int64),
        pool_count=arr(pool_sizes),
        rg_ext=arr(rg_ext),
        rg_members=padded(rg_members),
        rg_size=arr([len(m) for m in rg_members]),
        cq_ext=arr(cq_ext),
        cq_members=padded(cq_members),
        cq_size=arr([len(m) for m in cq_members]),
        aa_ext=arr(aa_ext),
        directory=directory,
    )


def _check_plain(*tables: pa.Array) -> None:
    """Refuse text that CSV would have to quote or JSON escape: leg columns are taken from
    these tables and written without either, which is what makes writing them fast."""
    for table in tables:
        if pc.any(pc.match_substring_regex(table, r'[",\\\x00-\x1f]')).as_py():
            raise AssertionError("generator text tables must not need quoting or escaping")


def _plus(numbers: pa.Array) -> pa.Array:
    return pc.utf8_replace_slice(pc.cast(numbers, pa.string()), start=0, stop=0, replacement="+")


def _offsets_ms(pbxs: tuple[_PbxConfig, ...], first_day: dt.date, days: int) -> np.ndarray:
    """UTC offset in ms per (PBX, local day, local hour), DST-exact.

    Transitions of these zones fall on hour boundaries, so an offset per local hour is exact;
    only days whose offset changes need per-hour look-ups. A local time in a spring-forward
    gap takes the offset in force before it, a repeated one its earlier instant (fold=0).
    """
    out = np.empty((len(pbxs), days, 24), dtype=np.int64)
    for p, cfg in enumerate(pbxs):
        tz = ZoneInfo(cfg.tz)
        for d in range(days):
            day = first_day + dt.timedelta(days=d)

            def off(hour: int, day: dt.date = day, tz: ZoneInfo = tz) -> int:
                local = dt.datetime(day.year, day.month, day.day, hour, tzinfo=tz)
                delta = local.utcoffset()
                assert delta is not None
                return int(delta.total_seconds() * _MS)

            first, last = off(0), off(23)
            if first == last:
                out[p, d, :] = first
            else:
                out[p, d, :] = [off(h) for h in range(24)]
    return out


def _lognormal(
    rng: np.random.Generator, median_ms: float, sigma: float, n: int, lo: float, hi: float
) -> np.ndarray:
    return np.clip(rng.lognormal(math.log(median_ms), sigma, n), lo, hi).astype(np.int64)


def _ring_answer(rng: np.random.Generator, n: int) -> np.ndarray:
    return _lognormal(rng, 7_000, 0.5, n, 1_500, 30_000)


def _ring_abandon(rng: np.random.Generator, n: int) -> np.ndarray:
    return _lognormal(rng, 9_000, 0.6, n, 1_000, 28_000)


def _ring_timeout(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(18_000, 30_001, n)


def _talk(rng: np.random.Generator, median_ms: float, n: int) -> np.ndarray:
    return _lognormal(rng, median_ms, 0.9, n, 5_000, 7_200_000)


def _pick(rng: np.random.Generator, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """One index uniformly from each range ``[first, first + count)``."""
    return first + (rng.random(len(first)) * count).astype(np.int64)


def _pick_other(
    rng: np.random.Generator, first: np.ndarray, count: np.ndarray, taken: np.ndarray
) -> np.ndarray:
    """A uniform index of each range other than ``taken`` (ranges have >= 2 members)."""
    step = 1 + (rng.random(len(first)) * (count - 1)).astype(np.int64)
    return first + (taken - first + step) % count


def _outcome(rng: np.random.Generator, n: int, p: tuple[float, float, float, float]) -> np.ndarray:
    return np.searchsorted(np.cumsum(p), rng.random(n) * sum(p), side="right").astype(np.int8)


class _Legs:
    """Column lists of the legs of one chunk, appended per scenario, concatenated once."""

    FIELDS = (
        "call",
        "leg",
        "start",
        "connect",
        "end",
        "caller",
        "callee",
        "abandoned",
        "voicemail",
        "cause",
        "dnis",
    )

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {f: [] for f in self.FIELDS}

    def add(
        self,
        *,
        call: np.ndarray,
        leg: np.ndarray | int,
        start: np.ndarray,
        end: np.ndarray,
        caller: np.ndarray,
        callee: np.ndarray,
        connect: np.ndarray | int = -1,
        abandoned: np.ndarray | bool = False,
        voicemail: np.ndarray | bool = False,
        cause: np.ndarray | int = _NORMAL,
        dnis: np.ndarray | int = -1,
    ) -> None:
        n = len(call)
        values = {
            "call": call,
            "leg": leg,
            "start": start,
            "connect": connect,
            "end": end,
            "caller": caller,
            "callee": callee,
            "abandoned": abandoned,
            "voicemail": voicemail,
            "cause": cause,
            "dnis": dnis,
        }
        for name, v in values.items():
            self.parts[name].append(np.broadcast_to(v, n))

    def single(
        self,
        rng: np.random.Generator,
        *,
        call: np.ndarray,
        leg: np.ndarray | int,
        start: np.ndarray,
        caller: np.ndarray,
        callee: np.ndarray,
        outcome: np.ndarray,
        talk_median_ms: float,
        cause: int | None = None,
        dnis: np.ndarray | int = -1,
    ) -> np.ndarray:
        """One ringing leg with the given outcome; returns its end (for what follows).

        ``cause`` overrides the outcome's own cause (a transfer leg says so whatever happens).
        """
        n = len(call)
        answered = outcome == _ANSWERED
        ring = np.where(
            answered,
            _ring_answer(rng, n),
            np.where(outcome == _ABANDONED, _ring_abandon(rng, n), _ring_timeout(rng, n)),
        )
        connect = np.where(answered, start + ring, -1)
        end = start + ring + np.where(answered, _talk(rng, talk_median_ms, n), 0)
        causes = np.where(answered | (outcome == _ABANDONED), _NORMAL, _RNA)
        self.add(
            call=call,
            leg=leg,
            start=start,
            connect=connect,
            end=end,
            caller=caller,
            callee=callee,
            abandoned=outcome == _ABANDONED,
            voicemail=outcome == _VOICEMAIL,
            cause=causes if cause is None else cause,
            dnis=dnis,
        )
        return end

    def concat(self) -> dict[str, np.ndarray]:
        return {f: np.concatenate(v) if v else np.empty(0, np.int64) for f, v in self.parts.items()}


def _chunk_legs(
    rng: np.random.Generator, co: _Company, call_pbx: np.ndarray, call_start: np.ndarray
) -> dict[str, np.ndarray]:
    """All legs of the chunk's calls (calls given by PBX and first-leg start), unordered."""
    n_calls = len(call_pbx)
    scenario = np.searchsorted(np.cumsum(_SCENARIO_P), rng.random(n_calls), side="right")
    scenario = np.minimum(scenario, len(_SCENARIO_P) - 1)
    legs = _Legs()

    def calls_of(kind: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = np.flatnonzero(scenario == kind)
        return c, call_pbx[c], call_start[c]

    def outside(p: np.ndarray) -> np.ndarray:
        # Squared uniform: low pool indices call far more often (repeat customers).
        u = rng.random(len(p)) ** 2
        return co.pool_first[p] + (u * co.pool_count[p]).astype(np.int64)

    def attendant_prefix(
        c: np.ndarray, p: np.ndarray, t0: np.ndarray, share: float, caller: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Some calls pass an auto attendant menu first: a service leg, never answered."""
        has = rng.random(len(c)) < share
        aa = co.aa_ext[_pick(rng, co.aa_first[p], co.aa_count[p])]
        menu = _lognormal(rng, 12_000, 0.5, len(c), 3_000, 90_000)
        h = np.flatnonzero(has)
        legs.add(
            call=c[h],
            leg=1,
            start=t0[h],
            end=t0[h] + menu[h],
            caller=caller[h],
            callee=aa[h],
            dnis=aa[h],
        )
        return t0 + np.where(has, menu, 0), has.astype(np.int64), np.where(has, aa, -1)

    # External inbound straight to a user's DID.
    c, p, t0 = calls_of(_DIRECT)
    user = _pick(rng, co.user_first[p], co.user_count[p])
    legs.single(
        rng,
        call=c,
        leg=1,
        start=t0,
        caller=outside(p),
        callee=user,
        dnis=user,
        outcome=_outcome(rng, len(c), (0.72, 0.15, 0.09, 0.04)),
        talk_median_ms=180_000,
    )

    # Ring-all group: every member's phone rings at once; at most one answers.
    c, p, t0 = calls_of(_RING_ALL)
    caller = outside(p)
    t1, base, aa = attendant_prefix(c, p, t0, 0.5, caller)
    rg = _pick(rng, co.ringall_first[p], co.ringall_count[p])
    size = co.rg_size[rg]
    outcome = _outcome(rng, len(c), (0.78, 0.0, 0.14, 0.08))
    winner = (rng.random(len(c)) * size).astype(np.int64)
    ring = np.select(
        [outcome == _ANSWERED, outcome == _ABANDONED],
        [_ring_answer(rng, len(c)), _ring_abandon(rng, len(c))],
        _ring_timeout(rng, len(c)),
    )
    talk = _talk(rng, 180_000, len(c))
    dnis = np.where(aa >= 0, aa, co.rg_ext[rg])
    i = np.repeat(np.arange(len(c)), size)
    pos = np.arange(len(i)) - np.repeat(np.cumsum(size) - size, size)
    won = (pos == winner[i]) & (outcome[i] == _ANSWERED)
    legs.add(
        call=c[i],
        leg=base[i] + 1 + pos,
        start=t1[i],
        connect=np.where(won, t1[i] + ring[i], -1),
        end=t1[i] + ring[i] + np.where(won, talk[i], 0),
        caller=caller[i],
        callee=co.rg_members[rg[i], pos],
        abandoned=outcome[i] == _ABANDONED,
        cause=np.where(won | (outcome[i] == _ABANDONED), _NORMAL, _RNA),
        dnis=dnis[i],
    )

    # Linear hunt group: members ring one after another until one answers, the caller
    # hangs up, or the list is exhausted (then the last one may send the caller to voicemail).
    c, p, t0 = calls_of(_LINEAR)
    caller = outside(p)
    t1, base, aa = attendant_prefix(c, p, t0, 0.5, caller)
    rg = _pick(rng, co.linear_first[p], co.linear_count[p])
    size = co.rg_size[rg]
    j_ans = rng.geometric(0.55, len(c))
    j_ab = rng.geometric(0.12, len(c))
    answered = (j_ans <= size) & (j_ans <= j_ab)
    abandoned = ~answered & (j_ab <= size)
    n_legs = np.where(answered, j_ans, np.where(abandoned, j_ab, size))
    to_vm = ~answered & ~abandoned & (rng.random(len(c)) < 0.5)
    i = np.repeat(np.arange(len(c)), n_legs)
    first_leg = np.cumsum(n_legs) - n_legs
    pos = np.arange(len(i)) - np.repeat(first_leg, n_legs)
    last = pos == n_legs[i] - 1
    won = last & answered[i]
    gave_up = last & abandoned[i]
    dur = np.where(
        won,
        np.minimum(_ring_answer(rng, len(i)), 14_000),
        np.where(
            gave_up, rng.integers(1_000, 15_000, len(i)), rng.integers(15_000, 20_001, len(i))
        ),
    )
    before = np.cumsum(dur) - dur
    start = t1[i] + before - before[np.repeat(first_leg, n_legs)]
    talk = _talk(rng, 180_000, len(i))
    dnis = np.where(aa >= 0, aa, co.rg_ext[rg])
    legs.add(
        call=c[i],
        leg=base[i] + 1 + pos,
        start=start,
        connect=np.where(won, start + dur, -1),
        end=start + dur + np.where(won, talk, 0),
        caller=caller[i],
        callee=co.rg_members[rg[i], pos],
        abandoned=gave_up,
        voicemail=last & to_vm[i],
        cause=np.where(won | gave_up, _NORMAL, _RNA),
        dnis=dnis[i],
    )

    # Call queue: the queue (a service) holds the caller, then an agent answers; a queue
    # leg never has a connect time. Some callers give up in the queue, and sometimes a
    # first agent lets it ring out before another one answers.
    c, p, t0 = calls_of(_QUEUE)
    n = len(c)
    caller = outside(p)
    t1, base, aa = attendant_prefix(c, p, t0, 0.6, caller)
    cq = _pick(rng, co.cq_first[p], co.cq_count[p])
    dnis = np.where(aa >= 0, aa, co.cq_ext[cq])
    gave_up = rng.random(n) < 0.13
    agent_pos = (rng.random(n) * co.cq_size[cq]).astype(np.int64)
    missed = ~gave_up & (co.cq_size[cq] >= 2) & (rng.random(n) < 0.12)
    ring = _ring_answer(rng, n)
    miss = rng.integers(15_000, 20_001, n)
    wait = np.where(
        gave_up,
        _lognormal(rng, 70_000, 0.8, n, 5_000, 1_800_000),
        np.maximum(
            _lognormal(rng, 40_000, 0.9, n, 2_000, 1_200_000),
            ring + np.where(missed, miss, 0) + 1_000,
        ),
    )
    legs.add(
        call=c,
        leg=base + 1,
        start=t1,
        end=t1 + wait,
        caller=caller,
        callee=co.cq_ext[cq],
        abandoned=gave_up,
        dnis=dnis,
    )
    served = np.flatnonzero(~gave_up)
    agent = co.cq_members[cq, agent_pos]
    connect = t1 + wait
    legs.add(
        call=c[served],
        leg=(base + 2 + missed)[served],
        start=(connect - ring)[served],
        connect=connect[served],
        end=(connect + _talk(rng, 240_000, n))[served],
        caller=caller[served],
        callee=agent[served],
        dnis=dnis[served],
    )
    m = np.flatnonzero(missed)
    other_pos = (agent_pos + 1 + (rng.random(n) * (co.cq_size[cq] - 1)).astype(np.int64)) % (
        np.maximum(co.cq_size[cq], 1)
    )
    legs.add(
        call=c[m],
        leg=base[m] + 2,
        start=(connect - ring - miss)[m],
        end=(connect - ring)[m],
        caller=caller[m],
        callee=co.cq_members[cq, other_pos][m],
        cause=_RNA,
        dnis=dnis[m],
    )

    # Internal: user to another user of the same PBX.
    c, p, t0 = calls_of(_INTERNAL)
    caller = _pick(rng, co.user_first[p], co.user_count[p])
    legs.single(
        rng,
        call=c,
        leg=1,
        start=t0,
        caller=caller,
        callee=_pick_other(rng, co.user_first[p], co.user_count[p], caller),
        outcome=_outcome(rng, len(c), (0.68, 0.10, 0.12, 0.10)),
        talk_median_ms=90_000,
    )

    # Outbound to an outside number (a customer from the pool).
    c, p, t0 = calls_of(_OUTBOUND)
    legs.single(
        rng,
        call=c,
        leg=1,
        start=t0,
        caller=_pick(rng, co.user_first[p], co.user_count[p]),
        callee=outside(p),
        outcome=_outcome(rng, len(c), (0.62, 0.0, 0.20, 0.18)),
        talk_median_ms=150_000,
    )

    # Blind transfers: a user who answered the last leg of a call passes it on; the new leg
    # starts when the answered one ends, from the transferring extension.
    out = legs.concat()
    n_legs = np.bincount(out["call"], minlength=n_calls)
    last = out["leg"] == n_legs[out["call"]]
    cand = np.flatnonzero(last & (out["connect"] >= 0) & (out["callee"] < co.n_ext))
    t = cand[rng.random(len(cand)) < _TRANSFER_P]
    if len(t):
        p = call_pbx[out["call"][t]]
        frm = out["callee"][t]
        legs.single(
            rng,
            call=out["call"][t],
            leg=out["leg"][t] + 1,
            start=out["end"][t],
            caller=frm,
            callee=_pick_other(rng, co.user_first[p], co.user_count[p], frm),
            outcome=_outcome(rng, len(t), (0.75, 0.15, 0.10, 0.0)),
            talk_median_ms=180_000,
            cause=_TRANSFER,
        )
        out = legs.concat()
    return out


def _chunk_table(
    rng: np.random.Generator,
    co: _Company,
    offsets: np.ndarray,
    first_epoch_day: int,
    day_lo: int,
    day_hi: int,
    total_days: int,
    calls_per_user: float,
    call_no: int,
) -> tuple[pa.Table, int]:
    """The canonical legs of local days ``[day_lo, day_hi)`` of every PBX, in call order,
    and the number of calls."""
    n_pbx = len(co.pbxs)
    days = np.arange(day_lo, day_hi)
    epoch_day = first_epoch_day + days
    weekday = (epoch_day + 3) % 7  # 1970-01-01 was a Thursday
    mean = co.user_count[:, None] * calls_per_user * _DAY_FACTOR[weekday][None, :]
    counts = rng.poisson(mean).ravel()
    call_pbx = np.repeat(np.repeat(np.arange(n_pbx), len(days)), counts)
    call_day = np.repeat(np.tile(days, n_pbx), counts)
    n = len(call_pbx)

    # Local time of day from the hourly profile, then local -> UTC with the offset in force.
    weekend = ((first_epoch_day + call_day + 3) % 7) >= 5
    u = rng.random(n)
    hour = np.where(
        weekend,
        np.searchsorted(np.cumsum(_HOURLY_WEEKEND) / _HOURLY_WEEKEND.sum(), u, side="right"),
        np.searchsorted(np.cumsum(_HOURLY_WEEKDAY) / _HOURLY_WEEKDAY.sum(), u, side="right"),
    )
    hour = np.minimum(hour, 23)
    local = (first_epoch_day + call_day) * _DAY_MS + hour * _HOUR_MS + rng.integers(0, _HOUR_MS, n)
    start = local - offsets[call_pbx, call_day, hour]

    # Calls in time order within the chunk, so call ids grow with time.
    order = np.argsort(start, kind="stable")
    call_pbx, call_day, start = call_pbx[order], call_day[order], start[order]

    legs = _chunk_legs(rng, co, call_pbx, start)
    call = legs["call"]

    # The latest calls of the last day were still going on when the data was taken.
    status = np.zeros(len(call), dtype=np.int8)
    if day_hi == total_days:
        live = np.zeros(n, dtype=bool)
        today = np.flatnonzero(call_day == total_days - 1)
        for p in range(n_pbx):
            mine = today[call_pbx[today] == p]
            live[mine[len(mine) - math.ceil(len(mine) * _IN_PROGRESS_SHARE) :]] = True
        status = live[call].astype(np.int8)

    # Leg order: by call, then leg id; a scatter, since every call's legs are 1..n.
    n_legs = np.bincount(call, minlength=n)
    dest = (np.cumsum(n_legs) - n_legs)[call] + legs["leg"] - 1
    inv = np.empty_like(dest)
    inv[dest] = np.arange(len(dest))

    def col(name: str) -> np.ndarray:
        return np.ascontiguousarray(legs[name][inv])

    call, leg = col("call"), col("leg")
    t_start, t_connect, t_end = col("start"), col("connect"), col("end")
    caller, callee, dnis = col("caller"), col("callee"), col("dnis")
    status = status[inv]
    answered = t_connect >= 0
    held = answered & (rng.random(len(call)) < _HOLD_P)
    hold = np.where(held, ((t_end - t_connect) * rng.uniform(0.05, 0.4, len(call))), 0)

    def ext_of(party: np.ndarray) -> pa.Array:
        outside = party >= co.n_ext
        return co.ext_str.take(pa.array(np.where(outside, 0, party), mask=outside))

    columns = {
        "pbx_id": pa.array([c.name for c in co.pbxs]).take(call_pbx[call]),
        "call_id": pc.cast(pa.array(call_no + call), pa.string()),
        "leg_id": pa.array(leg.astype(np.int64)),
        "start_time": pa.array(t_start, _TS),
        "connect_time": pa.array(t_connect, _TS, mask=~answered),
        "end_time": pa.array(t_end, _TS),
        "caller": co.party_str.take(caller),
        "callee": co.party_str.take(callee),
        "caller_ext": ext_of(caller),
        "callee_ext": ext_of(callee),
        "abandoned": pa.array(col("abandoned")),
        "voicemail": pa.array(col("voicemail")),
        "status": _STATUSES.take(status),
        "caller_name": co.party_name.take(caller),
        "callee_name": co.party_name.take(callee),
        "hold_ms": pa.array(hold.astype(np.int64)),
        "cause": _CAUSES.take(col("cause")),
        "parent_call_id": pa.nulls(len(call), pa.string()),
        "transfer_to_call_id": pa.nulls(len(call), pa.string()),
        "dnis": co.did_str.take(pa.array(np.where(dnis < 0, 0, dnis), mask=dnis < 0)),
        "sip_call_id": pa.nulls(len(call), pa.string()),
    }
    return pa.table([columns[name] for name in COLUMN_NAMES], names=list(COLUMN_NAMES)), n


def _iso_ms(ms: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for epoch milliseconds (years 0-9999), as Arrow strings.

    Built as a fixed-width byte matrix with numpy: about 20x faster than ``pc.strftime``,
    which would otherwise dominate writing the text formats.
    """
    n = len(ms)
    days = np.floor_divide(ms, _DAY_MS)
    of_day = ms - days * _DAY_MS
    # Civil date from a day count (H. Hinnant's days_from_civil, inverted), vectorised.
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.empty((n, 24), dtype=np.uint8)
    out[:] = np.frombuffer(b"0000-00-00T00:00:00.000Z", dtype=np.uint8)
    fields = (
        (year, 0, 4),
        (month, 5, 2),
        (day, 8, 2),
        (of_day // _HOUR_MS, 11, 2),
        (of_day // 60_000 % 60, 14, 2),
        (of_day // _MS % 60, 17, 2),
        (of_day % _MS, 20, 3),
    )
    for value, at, width in fields:
        for k in range(width):
            out[:, at + k] += (value // 10 ** (width - 1 - k) % 10).astype(np.uint8)
    offsets = np.arange(0, 24 * (n + 1), 24, dtype=np.int32)
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(out)],
        null_count=-1 if valid is None else int(n - valid.sum()),
    )


def _as_text_instants(table: pa.Table) -> pa.Table:
    """Instants as ISO-8601 UTC with milliseconds, for the text formats."""
    for name in ("start_time", "connect_time", "end_time"):
        i = table.schema.get_field_index(name)
        col = table.column(i).combine_chunks()
        ms = pc.fill_null(col.cast(pa.int64()), 0).to_numpy()
        valid = None if col.null_count == 0 else col.is_valid().to_numpy(zero_copy_only=False)
        table = table.set_column(i, name, _iso_ms(ms, valid))
    return table


def _write_parquet(path: Path, chunks: Iterator[pa.Table]) -> None:
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    try:
        for table in chunks:
            if writer is None:
                # High-cardinality columns gain nothing from dictionaries and cost time.
                dictionary = [
                    c
                    for c in COLUMN_NAMES
                    if c not in ("call_id", "start_time", "connect_time", "end_time", "hold_ms")
                ]
                writer = pq.ParquetWriter(
                    path, table.schema, compression="snappy", use_dictionary=dictionary
                )
            writer.write_table(table, row_group_size=1 << 20)
    finally:
        if writer is not None:
            writer.close()


def _write_csv(path: Path, chunks: Iterator[pa.Table]) -> None:
    import pyarrow.csv as pcsv

    writer: pcsv.CSVWriter | None = None
    try:
        for table in chunks:
            text = _as_text_instants(table)
            if writer is None:
                # Generated values never hold commas, quotes or newlines: no quoting needed
                # (the writer refuses a value that would need it rather than corrupt a row).
                writer = pcsv.CSVWriter(
                    path,
                    text.schema,
                    write_options=pcsv.WriteOptions(
                        quoting_style="none", quoting_header="none", batch_size=1 << 16
                    ),
                )
            writer.write_table(text)
    finally:
        if writer is not None:
            writer.close()


def _json_lines(table: pa.Table) -> pa.Array:
    """One JSON object per leg, each ending in a newline, built column-wise with Arrow.

    Strings are not escaped: every text value comes from tables checked by
    :func:`_check_plain`, so none holds a quote, a backslash or a control character.
    """
    pieces: list[pa.Array | str] = []
    for i, name in enumerate(table.column_names):
        col = table.column(name).combine_chunks()
        if pa.types.is_string(col.type):
            value = pc.binary_join_element_wise('"', col, '"', "")
        elif pa.types.is_boolean(col.type):
            value = pc.if_else(col, "true", "false")
        else:
            value = pc.cast(col, pa.string())
        pieces += [("{" if i == 0 else ",") + f'"{name}":', pc.fill_null(value, "null")]
    pieces.append("}\n")
    return pc.binary_join_element_wise(*pieces, "")


def _write_jsonl(path: Path, chunks: Iterator[pa.Table]) -> None:
    with path.open("wb") as f:
        for table in chunks:
            # Slices bound the memory of the dozens of intermediate string columns.
            for at in range(0, table.num_rows, 1 << 17):
                lines = _json_lines(_as_text_instants(table.slice(at, 1 << 17)))
                # The lines are contiguous in the array's data buffer: write it in one go.
                offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
                lo, hi = offsets[lines.offset], offsets[lines.offset + len(lines)]
                f.write(memoryview(lines.buffers()[2])[lo:hi])


def _write_directory(path: Path, co: _Company) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DIRECTORY_COLUMNS)
        w.writerows(co.directory)


def generate_company(
    *,
    extensions: int,
    days: int,
    end: dt.date | None = None,
    seed: int = 0,
    out: Path,
    progress: bool = False,
    calls_per_user: float = DEFAULT_CALLS_PER_USER,
) -> GenerateResult:
    """Write a synthetic company's legs to ``out`` and its directory beside it.

    ``extensions`` is the number of user extensions (a few ring groups, queues, attendants
    and a voicemail per PBX come on top); legs cover the ``days`` local days of each PBX
    ending on ``end`` (default: today in UTC). Same arguments, same bytes. The files are
    written under temporary names and renamed at the end, so a failure leaves no half file.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"unsupported output suffix {out.suffix or '(none)'!r}: use one of {', '.join(FORMATS)}"
        )
    if extensions < 2:
        raise ValueError("extensions must be at least 2 (internal calls need two users)")
    if days < 1:
        raise ValueError("days must be at least 1")
    if end is None:
        end = dt.datetime.now(dt.UTC).date()
    first_day = end - dt.timedelta(days=days - 1)
    first_epoch_day = (first_day - dt.date(1970, 1, 1)).days

    rng = np.random.Generator(np.random.PCG64(seed))
    co = _build_company(rng, extensions)
    offsets = _offsets_ms(co.pbxs, first_day, days)
    legs_per_day = extensions * _EST_LEGS_PER_USER_DAY * calls_per_user / DEFAULT_CALLS_PER_USER
    per_chunk = int(np.clip(_TARGET_CHUNK_LEGS // max(legs_per_day, 1.0), 1, days))
    bounds = [(lo, min(lo + per_chunk, days)) for lo in range(0, days, per_chunk)]
    totals = {"legs": 0, "calls": 0}

    def chunks() -> Iterator[pa.Table]:
        bar = _progress_bar(progress, len(bounds))
        try:
            for lo, hi in bounds:
                table, n_calls = _chunk_table(
                    rng,
                    co,
                    offsets,
                    first_epoch_day,
                    lo,
                    hi,
                    days,
                    calls_per_user,
                    1_000_000_000 + totals["calls"],
                )
                totals["legs"] += table.num_rows
                totals["calls"] += n_calls
                yield table
                if bar is not None:
                    bar.advance()
        finally:
            if bar is not None:
                bar.close()

    out.parent.mkdir(parents=True, exist_ok=True)
    directory_path = out.with_name(out.stem + ".directory.csv")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp_dir = directory_path.with_name(f".{directory_path.name}.{os.getpid()}.tmp")
    try:
        {".parquet": _write_parquet, ".csv": _write_csv, ".jsonl": _write_jsonl}[suffix](
            tmp, chunks()
        )
        _write_directory(tmp_dir, co)
        os.replace(tmp, out)
        os.replace(tmp_dir, directory_path)
    finally:
        for t in (tmp, tmp_dir):
            t.unlink(missing_ok=True)
    return GenerateResult(
        legs_path=out,
        directory_path=directory_path,
        legs=totals["legs"],
        calls=totals["calls"],
        extensions=len(co.directory),
        pbx_ids=tuple(c.name for c in co.pbxs),
    )


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("generating legs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task("legs", total=total)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def close(self) -> None:
        self._progress.stop()


def _progress_bar(enabled: bool, total: int) -> _Bar | None:
    return _Bar(total) if enabled else None
