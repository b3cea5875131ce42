"""Asterisk call detail records (``Master.csv``) as canonical legs.

``--format asterisk-csv --source-tz ZONE``. Reads what ``cdr_csv`` writes to
``/var/log/asterisk/cdr-csv/Master.csv``, ``cdr_custom`` files (``--columns`` names their
columns) and CSV exports of the ODBC ``cdr`` table (a header row of CDR names is recognised).
``docs/adapters/asterisk.md`` walks through a file, from rows to the extension summary.

Layouts. ``cdr_csv`` writes no header; its columns depend on ``cdr.conf`` ``[csv]``:

==================================  ======  ==========================================
options                             fields  columns after the base 16
==================================  ======  ==========================================
(none)                              16      accountcode, src, dst, dcontext, clid, channel,
                                            dstchannel, lastapp, lastdata, start, answer,
                                            end, duration, billsec, disposition, amaflags
loguniqueid / loguserfield          17      + uniqueid, or + userfield (told apart by the
                                            value: a uniqueid looks like ``1772355600.12``)
loguniqueid + loguserfield          18      + uniqueid, userfield
newcdrcolumns                       19      + peeraccount, linkedid, sequence
one of the two + newcdrcolumns      20      + uniqueid or userfield, then the three
all three                           21      + uniqueid, userfield, peeraccount, linkedid,
                                            sequence
==================================  ======  ==========================================

The layout is read off the first record; a record with another standard field count is
read with that count's layout (a file that spans a ``cdr.conf`` change), any other count is
reported on its line. A first record that fits no layout refuses the file and says so;
``--columns`` then names the columns (CDR variable names such as ``src`` or
``${CDR(src)}``; ``calldate`` means ``start``; names this adapter does not use are skipped).

Mapping, one CDR row to one canonical leg (rows merged as said under *Local channels*):

=================  ==========================================================================
canonical          from the CDR
=================  ==========================================================================
pbx_id             the source's ``pbx_id`` (default ``asterisk``): Master.csv does not say
call_id            ``linkedid``; else the ``uniqueid`` of the caller's channel; else (base
                   layout) the caller's channel name and the start of that channel's calls
                   (``PJSIP/1001-0000002a@1772355600``)
leg_id             ``sequence + 1`` when the layout has ``sequence`` (stable across files);
                   else the row's rank in its call by start time, then line
start_time         ``start`` read in ``--source-tz`` (see *Times*)
end_time           ``start + duration``
connect_time       ``end - billsec``, only when the leg was answered by a person (below)
caller             ``src``; else the number of ``clid``; else the channel's resource
caller_name        the name of ``clid`` (``"Alice" <1001>``)
caller_ext         the extension of ``channel`` (see *Extensions*); empty for a routing hop
callee             the extension rung; else the mailbox of a voicemail row; else ``dst``
callee_ext         the extension of ``dstchannel``; for ``VoiceMail`` the mailbox when it is
                   an extension; for ``VoiceMailMain`` the caller's own extension (a phone
                   checking its own mailbox is system activity, ignored by the report)
dnis               ``dst`` (where the caller's channel was routed, e.g. a ring group), when it
                   is not the callee
cause              the disposition, as a word: ``ANSWERED``, ``NO ANSWER``, ``BUSY``,
                   ``FAILED``, ``CONGESTION`` (ODBC codes 0/1, 8, 4, 2, 16 are translated)
abandoned          see *Abandoned*
voicemail          ``lastapp`` is ``VoiceMail`` (never an answer)
status, hold_ms    left empty: ``Completed``, 0
=================  ==========================================================================

Answered means bridged to a person: disposition ``ANSWERED`` **and** a ``dstchannel`` that is a
party (a phone or a trunk, not a ``Local/`` hop or an internal channel such as ``Recorder/``)
**and** ``lastapp`` not a service (:data:`SERVICE_APPS`: ``VoiceMail``, ``Playback``,
``BackGround``, music on hold, ...). An ``ANSWERED`` row without ``dstchannel`` is the PBX
answering the caller (voicemail, an IVR, queue music): not an answer.

Extensions. A channel ``TECH/resource-id`` is an extension when its technology is a phone
technology (:data:`PHONE_TECHS`: SIP, PJSIP, IAX2, SCCP, ...) and its resource (before any
``@``) is an extension of the PBX: in the directory imported for it (``known_extensions``), or,
when that PBX has no directory rows, 2 to 8 digits (the 8x8 adapter's fallback). Trunks are
the other party channels (``PJSIP/provider-0000001f``). ``DAHDI/`` names a port, not an
extension: a DAHDI party is an extension only when its number (``src`` for the caller,
``dst`` for the callee) is in the imported directory. Internal = both sides are extensions.
A row with no extension on either side (an IVR nobody answered, a trunk-to-trunk hop) is kept
and credited to no extension.

Local channels. ``Local/600@ringgroups-0000000a;1`` as ``dstchannel`` is a routing hop: its
row is kept but credited to no one (so nothing is ever credited to a ring group or a queue).
Rows whose ``channel`` is the matching ``;2`` half are the real legs; their caller is resolved
through the hop to the channel that dialled it (up to three Local hops deep). Rows of one call
with the same resolved caller and the same ``dstchannel`` are one leg (Asterisk writes a
second row when it optimises a Local channel away): earliest start, latest end, earliest
answer, lowest line.

Abandoned (the caller hung up while the leg rang): disposition ``NO ANSWER`` (Asterisk writes
it both for a ring timeout and for a caller who gave up), and nothing of the call went on after
this leg (its end is within a second of the call's last end), and no other leg of the call
was answered while it rang, and it is not a ``Dial`` whose ring timeout (``lastdata``
``PJSIP/1001,20``) had run out (``duration >= 20``). ``BUSY``, ``FAILED`` and
``CONGESTION`` legs are missed, never abandoned.

Times. ``start`` is a local wall-clock time: it is read in ``--source-tz`` as the report
window reads its bounds (:func:`workanalytics.timewindow.wall_clock_start`): a time in a
spring-forward gap with the offset before the gap, a repeated fall-back time as its earlier
instant. Only ``start`` is converted; end and answer come from ``duration`` and ``billsec``,
so a call that spans a change of offset keeps its true length. A cdr_custom time written as
epoch seconds (``${CDR(start,f)}``) needs no zone. ``0000-00-00 00:00:00`` is empty.

Limits (``docs/adapters/asterisk.md`` has more): Asterisk's answer time is the moment the
*caller's* channel was answered, so after an IVR or a queue (which answer the caller first) or
a transfer, an agent's leg shows little or no ring time and the wait counts as talk; a ring
timeout and a caller who gave up are both ``NO ANSWER`` (told apart as above); unanswered
ring-all members are only in the file when Asterisk wrote a row for each (Asterisk 12+ does).

How it reads: the file in 16 MB blocks of whole lines, two blocks at a time; each block is
parsed by Arrow's CSV reader (one record per line, as cdr_csv writes), or, for a block with a
line of another field count, by a DuckDB regular expression per line (slower, exact). Row-local
values (times, durations, disposition) are computed per block by DuckDB; what each channel is
(technology, extension, hop) is worked out once per distinct phone or trunk, not per row. The
rows stay in memory as Arrow columns, about 300 bytes a row (a 1-million-row Master.csv: 300
MB). One DuckDB query then groups the calls and yields the legs. No row is looked at from
Python.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from workanalytics.ingest.eightbyeight import FALLBACK_EXTENSION_PATTERN
from workanalytics.ingest.sources import (
    RAW_SCHEMA,
    ROW_GROUP_ROWS,
    LegSource,
    SourceError,
    _blocks,
    _split_lines,
    register_format,
)
from workanalytics.legs import (
    COLUMN_NAMES,
    LINE_COLUMN,
    PBX_ID_PATTERN,
    SOURCE_ERROR_COLUMN,
    lit,
    q,
)
from workanalytics.timewindow import WindowError, parse_zone

FORMAT_NAME = "asterisk-csv"
DEFAULT_PBX_ID = "asterisk"

#: Every column cdr_csv can write, in its order.
CDR_FIELDS: tuple[str, ...] = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)
_BASE = CDR_FIELDS[:16]
_NEW = ("peeraccount", "linkedid", "sequence")
#: The layouts cdr_csv writes, by the ``[csv]`` options of cdr.conf.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "base": _BASE,
    "uniqueid": (*_BASE, "uniqueid"),
    "userfield": (*_BASE, "userfield"),
    "uniqueid+userfield": (*_BASE, "uniqueid", "userfield"),
    "newcdrcolumns": (*_BASE, *_NEW),
    "uniqueid+newcdrcolumns": (*_BASE, "uniqueid", *_NEW),
    "userfield+newcdrcolumns": (*_BASE, "userfield", *_NEW),
    "uniqueid+userfield+newcdrcolumns": (*_BASE, "uniqueid", "userfield", *_NEW),
}
#: Field counts whose 17th value decides between uniqueid and userfield.
_AMBIGUOUS = {
    17: ("uniqueid", "userfield"),
    20: ("uniqueid+newcdrcolumns", "userfield+newcdrcolumns"),
}
_BY_COUNT: dict[int, str] = {16: "base", 18: "uniqueid+userfield", 19: "newcdrcolumns", 21: "uniqueid+userfield+newcdrcolumns"}  # fmt: skip
#: What a uniqueid looks like (``1772355600.12``, or ``systemname-1772355600.12``).
UNIQUEID_PATTERN = r"([A-Za-z0-9_.-]+-)?[0-9]{9,}\.[0-9]+"
#: Other names accepted in ``--columns`` or a header row (ODBC tables call start "calldate").
ALIASES = {"calldate": "start"}
#: The columns this adapter reads; the others are skipped.
USED_FIELDS: tuple[str, ...] = (
    "src",
    "dst",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "linkedid",
    "sequence",
)

#: Channel technologies whose resource names a phone (an extension when the PBX says so).
PHONE_TECHS = (
    "sip",
    "pjsip",
    "iax2",
    "sccp",
    "skinny",
    "mgcp",
    "unistim",
    "h323",
    "ooh323",
    "motif",
    "console",
)
#: Channel technologies that are never a party: the PBX's own internal channels.
INTERNAL_TECHS = (
    "recorder",
    "snoop",
    "announcer",
    "cbann",
    "cbrec",
    "bridge",
    "parked",
    "multicast",
    "unicastrtp",
    "audiosocket",
    "message",
)
#: Applications that answer the caller for the PBX itself: a row ending in one is no answer.
SERVICE_APPS = (
    "voicemail",
    "voicemailmain",
    "playback",
    "background",
    "musiconhold",
    "startmusiconhold",
    "waitexten",
    "read",
    "record",
    "saydigits",
    "saynumber",
    "sayalpha",
    "echo",
    "milliwatt",
    "confbridge",
    "meetme",
    "park",
    "parkandannounce",
    "hangup",
    "answer",
    "wait",
    "congestion",
    "busy",
    "ringing",
    "progress",
)
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION")
#: ODBC exports may hold Asterisk's numeric dispositions.
NUMERIC_DISPOSITIONS = {
    "0": "NO ANSWER",
    "1": "NO ANSWER",
    "2": "FAILED",
    "4": "BUSY",
    "8": "ANSWERED",
    "16": "CONGESTION",
}
#: Local wall-clock times as cdr_csv (and FreeSWITCH) write them.
LOCAL_TIME_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f']"
#: A second of slack when comparing times printed to the second.
SLACK_MS = 1000
HOUR_MS = 3_600_000
#: Lines of the first records looked at to tell the layout.
_SNIFF_BYTES = 1 << 16
#: Blocks parsed at once (Arrow and DuckDB release the GIL).
_WORKERS = 2
#: Rows per batch handed to the store: a row group, which the stream passes on as it is.
_RESULT_ROWS = ROW_GROUP_ROWS


# --- shared with the FreeSWITCH adapter ---------------------------------------------------


def source_zone(path: Path, name: str | None, fmt: str, why: str) -> ZoneInfo:
    """The ``--source-tz`` zone; a clear :class:`SourceError` when it is missing or unknown."""
    if not name:
        raise SourceError(
            path,
            f"--format {fmt} needs --source-tz ZONE: {why} (an IANA name such as "
            "America/New_York; UTC when the PBX writes UTC)",
        )
    try:
        return parse_zone(name, "--source-tz")
    except WindowError:
        raise SourceError(
            path,
            f"--source-tz {name!r} is not a known time zone; expected an IANA name such as "
            "America/New_York",
        ) from None


def effective_pbx_id(path: Path, pbx_id: str | None, default: str) -> str:
    pbx = default if pbx_id is None else pbx_id
    if not re.fullmatch(PBX_ID_PATTERN, pbx):
        raise SourceError(path, f"pbx_id {pbx!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return pbx


def _fold0_offset_ms(zone: ZoneInfo, local_ms: int) -> int | None:
    """The UTC offset of a local time as :func:`timewindow.wall_clock_start` reads it."""
    try:
        local = datetime(1970, 1, 1) + timedelta(milliseconds=local_ms)
        offset = local.replace(tzinfo=zone, fold=0).utcoffset()
    except (OverflowError, ValueError):
        return None
    return None if offset is None else int(offset.total_seconds() * 1000)


def zone_hours(zone: ZoneInfo, hours: Sequence[int]) -> pa.Table:
    """Offsets of each local hour (``local_ms // 3_600_000``), for a vectorised conversion.

    ``utc = local - (off_before if local - hour * 3_600_000 < switch_ms else off_after)``: an
    hour without a change of offset has ``switch_ms = 3_600_000``; the hour of a change has
    the first local millisecond that reads with the new offset (found by bisection, to the
    second). One Python step per distinct hour of the file, never per row.
    """
    rows: list[tuple[int, int | None, int, int | None]] = []
    for hour in hours:
        start = int(hour) * HOUR_MS
        before = _fold0_offset_ms(zone, start)
        after = _fold0_offset_ms(zone, start + HOUR_MS - 1)
        switch = HOUR_MS
        if before != after and before is not None and after is not None:
            lo, hi = 0, 3599  # seconds: offset(lo) == before, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _fold0_offset_ms(zone, start + mid * 1000) == before:
                    lo = mid
                else:
                    hi = mid
            switch = hi * 1000
        rows.append((int(hour), before, switch, after))
    return pa.table(
        {
            "hour": pa.array([r[0] for r in rows], pa.int64()),
            "off_before": pa.array([r[1] for r in rows], pa.int64()),
            "switch_ms": pa.array([r[2] for r in rows], pa.int64()),
            "off_after": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def utc_sql(local: str, hours: str) -> str:
    """SQL: UTC epoch ms of ``local`` (local ms as if UTC), with ``hours`` joined on its hour."""
    return (
        f"({local} - CASE WHEN {local} - {hours}.hour * {HOUR_MS} < {hours}.switch_ms "
        f"THEN {hours}.off_before ELSE {hours}.off_after END)"
    )


def register_zone_hours(
    con: duckdb.DuckDBPyConnection, zone: ZoneInfo, sql_hours: str
) -> int | None:
    """``zone_hours`` for the distinct hours that ``sql_hours`` (a query of one column) finds.

    Returns the one offset of them all when no hour has a change of offset and every hour has
    the same (most files: then no join is needed), else None.
    """
    hours = [r[0] for r in con.execute(sql_hours).fetchall() if r[0] is not None]
    table = zone_hours(zone, sorted(hours))
    con.register("zone_hours_in", table)
    con.execute("CREATE OR REPLACE TEMP TABLE zone_hours AS SELECT * FROM zone_hours_in")
    con.unregister("zone_hours_in")
    offsets = set(table.column("off_before").to_pylist()) | set(
        table.column("off_after").to_pylist()
    )
    if len(offsets) == 1 and None not in offsets:
        return offsets.pop()
    return None if hours else 0


def register_known(con: duckdb.DuckDBPyConnection, known: pa.Table | None, pbx: str) -> bool:
    """``known(extension)``: the imported directory of ``pbx``. True when it has rows."""
    if known is None:
        known = pa.table(
            {"pbx_id": pa.array([], pa.string()), "extension": pa.array([], pa.string())}
        )
    missing = {"pbx_id", "extension"} - set(known.column_names)
    if missing:
        raise TypeError(
            f"known_extensions needs columns pbx_id and extension; missing {sorted(missing)}"
        )
    con.register("known_in", known.select(["pbx_id", "extension"]))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE known AS SELECT DISTINCT trim(CAST(extension AS VARCHAR)) "
        f"AS extension FROM known_in WHERE CAST(pbx_id AS VARCHAR) = {lit(pbx)} "
        "AND extension IS NOT NULL"
    )
    con.unregister("known_in")
    return bool(con.execute("SELECT count(*) FROM known").fetchall()[0][0])


def is_extension_sql(expr: str, has_directory: bool) -> str:
    """SQL: ``expr`` is an extension of the PBX (directory, or the digits fallback)."""
    if has_directory:
        return f"coalesce({expr} IN (SELECT extension FROM known), FALSE)"
    return f"coalesce(regexp_full_match({expr}, {lit(FALLBACK_EXTENSION_PATTERN)}), FALSE)"


@contextmanager
def scratch_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that spills to a private temporary folder, removed afterwards."""
    spill = tempfile.mkdtemp(prefix="workanalytics-cdr-")
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {lit(spill)}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


#: ``cause_code`` (Asterisk's disposition code) as the word that goes in ``cause``.
CAUSE_WORDS = {8: "ANSWERED", 1: "NO ANSWER", 4: "BUSY", 2: "FAILED", 16: "CONGESTION"}


def raw_batches(
    table: pa.Table, pbx_id: str, causes: dict[int, str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Typed legs as raw batches: integers and instants as text, booleans as ``true`` (or
    empty for false, the default), ``pbx_id`` on every row, ``cause_code`` through ``causes``.

    Building the text here, in Arrow and batch by batch, keeps it out of the DuckDB result;
    defaults left empty are work the canonical checks do not have to do.
    """
    words = None
    if causes is not None:
        words = pa.array([causes.get(i) for i in range(max(causes) + 1)], pa.string())
    null = pa.scalar(None, pa.string())
    for batch in table.to_batches():
        n = batch.num_rows
        if not n:
            continue
        given = dict(zip(batch.schema.names, batch.columns, strict=True))
        if words is not None and "cause_code" in given:
            codes = given.pop("cause_code")
            given["cause"] = pc.take(words, pc.if_else(pc.less(codes, len(words)), codes, None))
        arrays = []
        for name in COLUMN_NAMES:
            values = given.get(name)
            if name == "pbx_id":
                zeros = pa.array(np.zeros(n, dtype=np.int32))
                values = pa.DictionaryArray.from_arrays(zeros, pa.array([pbx_id])).cast(pa.string())
            elif values is None:
                values = pa.nulls(n, pa.string())
            elif pa.types.is_boolean(values.type):
                values = pc.if_else(values, pa.scalar("true"), null)
            elif not pa.types.is_string(values.type):
                values = values.cast(pa.string())
            arrays.append(values)
        arrays.append(given[LINE_COLUMN].cast(pa.int64()))
        arrays.append(given[SOURCE_ERROR_COLUMN].cast(pa.string()))
        yield pa.RecordBatch.from_arrays(arrays, schema=RAW_SCHEMA)


def local_ms_sql(text: str) -> str:
    """SQL: a local ``YYYY-MM-DD HH:MM:SS[.ffffff]`` as epoch ms read as if it were UTC."""
    return f"epoch_ms(try_strptime({text}, {LOCAL_TIME_FORMATS}))"


# --- layouts --------------------------------------------------------------------------------


def _column_name(raw: str) -> str | None:
    """A ``--columns`` or header name as a CDR field; None for a column to skip."""
    name = raw.strip().strip('"').strip()
    m = re.search(r"\bCDR\(([A-Za-z_]+)", name)  # ${CDR(src)}, ${CSV_QUOTE(${CDR(src)})}
    if m:
        name = m.group(1)
    name = ALIASES.get(name.lower(), name.lower())
    return name if name in USED_FIELDS else None


@dataclass(frozen=True)
class Layout:
    """The columns of a file: a CDR name (or None) per field."""

    names: tuple[str | None, ...]
    label: str
    #: Line of a header row to skip, if the file has one.
    header_line: int | None = None
    #: Other field counts a record may have (a file spanning a cdr.conf change).
    standard: bool = True

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(n for n in self.names if n)


def _layout_of(count: int, value17: str | None) -> str | None:
    if count in _BY_COUNT:
        return _BY_COUNT[count]
    if count in _AMBIGUOUS:
        with_uid, with_user = _AMBIGUOUS[count]
        return (
            with_uid if value17 and re.fullmatch(UNIQUEID_PATTERN, value17.strip()) else with_user
        )
    return None


def _not_cdr_csv(fields: list[str]) -> str | None:
    """Why a first record is not in a cdr_csv layout (its fixed base columns), else None."""
    words = {*DISPOSITIONS, *NUMERIC_DISPOSITIONS, "NULL"}
    checks = (
        (9, "start", r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"),
        (12, "duration", r"[0-9]+"),
        (13, "billsec", r"[0-9]+"),
    )
    for index, name, pattern in checks:
        value = fields[index].strip()
        if not re.fullmatch(pattern, value):
            return f"field {index + 1} ({name}) is {value[:40]!r}"
    if fields[14].strip().upper() not in words:
        return f"field 15 (disposition) is {fields[14].strip()[:40]!r}"
    return None


def _standard(name: str) -> Layout:
    cols = LAYOUTS[name]
    return Layout(
        tuple(c if c in USED_FIELDS else None for c in cols), f"cdr_csv {name} ({len(cols)} fields)"
    )


# --- CSV blocks (shared with the FreeSWITCH CSV adapter) ---------------------------------

#: One CSV field: quoted (``""`` for a quote inside) or bare.
_FIELD_PATTERN = r'(?:^|,)("(?:[^"]|"")*"|[^,"]*)'
#: SQL over ``lines(text, ...)``: a line's fields, unquoted (a bare empty field is NULL).
_FIELDS_SQL = (
    f"list_transform(regexp_extract_all(text, {lit(_FIELD_PATTERN)}, 1), lambda f: CASE WHEN "
    "starts_with(f, '\"') THEN replace(f[2:-2], '\"\"', '\"') ELSE NULLIF(f, '') END)"
)


def arrow_csv_block(block: bytes, names: Sequence[str | None]) -> pa.Table | None:
    """A block of whole lines by Arrow's CSV reader (the named columns, as text), or None
    when a line does not have ``len(names)`` fields or the line count would not match."""
    columns = [n or f"_skip{i}" for i, n in enumerate(names)]
    invalid: list[int] = []

    def on_invalid(row: object) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(block),
            read_options=pacsv.ReadOptions(column_names=columns, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in columns},
                strings_can_be_null=True,
                # Only an empty field: Arrow's default also nulls NA, NULL, nan, N/A...
                null_values=[""],
                quoted_strings_can_be_null=False,
                include_columns=[n for n in names if n],
            ),
        )
    except pa.ArrowInvalid:
        return None
    if invalid:
        return None
    # One row per line, or the line numbers would drift (a stray carriage return...).
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return table if table.num_rows == lines else None


def fixed_fields_sql(names: Sequence[str | None], used: Sequence[str], label: str) -> str:
    """SQL over ``lines(text, line)``: the ``used`` columns of records of ``len(names)``
    fields, and a reason for a line with another count."""
    pos = {n: i for i, n in enumerate(names) if n}
    count = len(names)
    cols = ", ".join(
        f"CASE WHEN n = {count} THEN f[{pos[c] + 1}] END AS {q(c)}"
        if c in pos
        else f"NULL::VARCHAR AS {q(c)}"
        for c in used
    )
    return (
        f"SELECT line, {cols}, CASE WHEN n <> {count} THEN 'the line has ' || n || "
        f"' fields; expected {count} ({label})' END AS _err FROM (SELECT line, f, len(f) AS n "
        f"FROM (SELECT line, {_FIELDS_SQL} AS f FROM lines WHERE trim(text) <> ''))"
    )


def read_csv_block(
    con: duckdb.DuckDBPyConnection,
    block: bytes,
    first_line: int,
    names: Sequence[str | None],
    used: Sequence[str],
    regex_sql: str,
    header_line: int | None = None,
) -> pa.Table:
    """A block of a header-less CSV file as ``line``, the ``used`` columns (text, absent ones
    null) and ``_err``, without blank lines.

    Arrow's reader does the work; a block it cannot take (a line of another field count, a
    stray carriage return) is read line by line by ``regex_sql`` over ``lines(text, line)``,
    which also reports the lines that do not fit. Bytes that are not UTF-8 (caller names in
    Latin-1...) are kept as U+FFFD.
    """
    if first_line == 1 and block.startswith(b"\xef\xbb\xbf"):
        block = block[3:]
    table = arrow_csv_block(block, names)
    if table is None:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            block = block.decode("utf-8", "replace").encode("utf-8")
            table = arrow_csv_block(block, names)
    if table is not None:
        n = table.num_rows
        cols = {"line": pa.array(np.arange(first_line, first_line + n, dtype=np.int64))}
        for name in used:
            present = name in table.column_names
            cols[name] = table.column(name) if present else pa.nulls(n, pa.string())
        cols["_err"] = pa.nulls(n, pa.string())
        out = pa.table(cols)
        # Blank lines come back as rows of nulls.
        filled = functools.reduce(pc.or_, (pc.is_valid(c) for c in table.columns))
        if not pc.all(filled).as_py():
            out = out.filter(filled)
    else:
        texts, numbers = _split_lines(block, first_line)
        con.register("lines", pa.table({"text": texts, "line": numbers}))
        out = con.sql(regex_sql).to_arrow_table()
        con.unregister("lines")
    if header_line is not None and first_line <= header_line:
        out = out.filter(pc.not_equal(out.column("line"), header_line))
    return out


# --- the source -----------------------------------------------------------------------------


@dataclass
class AsteriskCsvSource(LegSource):
    """Asterisk ``Master.csv`` (see the module docstring for layouts and mapping)."""

    format_name: ClassVar[str] = FORMAT_NAME

    _zone: ZoneInfo = field(init=False, repr=False)
    _pbx: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._zone = source_zone(
            self.path,
            self.source_tz,
            FORMAT_NAME,
            "cdr_csv writes local times without an offset",
        )
        self._pbx = effective_pbx_id(self.path, self.pbx_id, DEFAULT_PBX_ID)

    # --- layout ---------------------------------------------------------------------------

    def _first_record(self) -> tuple[int, list[str]] | None:
        """The line number and fields of the first non-blank line."""
        with open(self.path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        for number, raw in enumerate(head.split(b"\n"), start=1):
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if text.strip():
                try:
                    return number, next(csv.reader(io.StringIO(text)))
                except (csv.Error, StopIteration):
                    return number, [text]
        return None

    def _layout(self) -> Layout:
        if self.columns:
            names = tuple(_column_name(c) for c in self.columns)
            self._require(names, "--columns")
            return Layout(names, "--columns", standard=False)
        first = self._first_record()
        if first is None:
            raise SourceError(self.path, "the file is empty; expected Asterisk CDR records")
        number, fields = first
        normalised = [_column_name(f) for f in fields]
        if {"channel", "start", "disposition"} <= set(normalised):  # a header row (ODBC export)
            self._require(tuple(normalised), "the header row")
            return Layout(tuple(normalised), "the header row", number, False)
        name = _layout_of(len(fields), fields[16] if len(fields) > 16 else None)
        if name is None:
            raise SourceError(
                self.path,
                f"line {number} has {len(fields)} fields, which is no cdr_csv layout: expected "
                "16 (accountcode ... amaflags), 18 (+ uniqueid, userfield) or 21 (+ uniqueid, "
                "userfield, peeraccount, linkedid, sequence), or 17, 19, 20. For a cdr_custom "
                "file, name its columns: --columns accountcode,src,dst,...",
            )
        layout = _standard(name)
        problem = _not_cdr_csv(fields)
        if problem:
            raise SourceError(
                self.path,
                f"line {number} does not look like cdr_csv: {problem}. For a cdr_custom file, "
                "name its columns: --columns clid,src,dst,...",
            )
        return layout

    def _require(self, names: tuple[str | None, ...], where: str) -> None:
        present = {n for n in names if n}
        dupes = sorted({n for n in names if n and names.count(n) > 1})
        if dupes:
            raise SourceError(self.path, f"{where} names column(s) twice: {', '.join(dupes)}")
        needed = ["channel", "start", "disposition"]
        missing = [n for n in needed if n not in present]
        if not present & {"duration", "end"}:
            missing.append("duration (or end)")
        if missing:
            raise SourceError(
                self.path,
                f"{where} lacks column(s) {', '.join(missing)}; known names: "
                f"{', '.join(CDR_FIELDS)} (calldate = start)",
            )

    # --- reading --------------------------------------------------------------------------

    def _regex_parse_sql(self, layout: Layout) -> str:
        """SQL over ``lines(text, line)``: each record's fields by its own layout."""
        if not layout.standard:
            return fixed_fields_sql(layout.names, USED_FIELDS, layout.label)
        # Each record by its own field count (17 and 20 told apart by their 17th value).
        cases: dict[str, list[str]] = {n: [] for n in USED_FIELDS}
        uid = f"regexp_full_match(coalesce(trim(f[17]), ''), {lit(UNIQUEID_PATTERN)})"
        for name, cols in LAYOUTS.items():
            n = len(cols)
            if n in _AMBIGUOUS:
                cond = f"n = {n} AND {'' if name == _AMBIGUOUS[n][0] else 'NOT '}{uid}"
            else:
                cond = f"n = {n}"
            for i, col in enumerate(cols):
                if col in cases:
                    cases[col].append(f"WHEN {cond} THEN f[{i + 1}]")
        cols_sql = ", ".join(f"CASE {' '.join(cases[c])} END AS {q(c)}" for c in USED_FIELDS)
        return (
            f"SELECT line, {cols_sql}, CASE WHEN NOT (n BETWEEN 16 AND 21) THEN 'the line has ' "
            "|| n || ' fields; expected 16 to 21 (a cdr_csv layout)' END AS _err "
            f"FROM (SELECT line, f, len(f) AS n FROM (SELECT line, {_FIELDS_SQL} AS f "
            "FROM lines WHERE trim(text) <> ''))"
        )

    def _parse_block(
        self, con: duckdb.DuckDBPyConnection, block: bytes, first_line: int, layout: Layout
    ) -> pa.Table:
        """A block as ``line``, the used CDR columns (text) and ``_err``, without blank lines."""
        # end and answer are read only when duration and billsec are missing.
        unused = {"end"} if "duration" in layout.fields else set()
        unused |= {"answer"} if "billsec" in layout.fields else set()
        names = tuple(None if n in unused else n for n in layout.names)
        return read_csv_block(
            con, block, first_line, names, USED_FIELDS, self._regex_parse_sql(layout),
            layout.header_line,
        )  # fmt: skip

    def _stage_block(
        self,
        con: duckdb.DuckDBPyConnection,
        block: bytes,
        first_line: int,
        layout: Layout,
        known: Extensions,
    ) -> pa.Table | None:
        """One block's records with their row-local values (see :func:`_stage_sql`)."""
        cur = con.cursor()  # one per worker thread
        try:
            part = self._parse_block(cur, block, first_line, layout)
            if not part.num_rows:
                return None
            cur.register("blk", part)
            numbers = cur.sql(_stage_sql(layout.fields)).to_arrow_table()
            cur.unregister("blk")
        finally:
            cur.close()
        name, number = _split_clid(part.column("clid"))
        columns = {c: part.column(c) for c in _KEPT}
        columns.update({c: numbers.column(c) for c in numbers.column_names})
        columns.update({"clid_name": name, "clid_num": number})
        columns.update(_party_columns("a_", part.column("channel"), known))
        columns.update(_party_columns("b_", part.column("dstchannel"), known))
        return pa.table(columns)

    def _staged(
        self, con: duckdb.DuckDBPyConnection, layout: Layout, known: Extensions
    ) -> pa.Table | None:
        """Every record's row-local values, block by block, two blocks at a time."""
        parts: list[pa.Table] = []
        pending: deque[Future[pa.Table | None]] = deque()

        def collect() -> None:
            part = pending.popleft().result()
            if part is not None:
                parts.append(part)

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for block, first_line in _blocks(self.path, self.on_progress):
                pending.append(
                    pool.submit(self._stage_block, con, block, first_line, layout, known)
                )
                if len(pending) > _WORKERS:
                    collect()
            while pending:
                collect()
        return pa.concat_tables(parts) if parts else None

    def batches(self) -> Iterator[pa.RecordBatch]:
        layout = self._layout()
        total = self.path.stat().st_size
        with scratch_connection() as con:
            has_dir = register_known(con, self.known_extensions, self._pbx)
            known = Extensions.of(con, has_dir)
            cdr = self._staged(con, layout, known)
            if cdr is None:
                self._progress(total, total)
                return
            con.register("cdr", cdr)
            fixed = register_zone_hours(
                con,
                self._zone,
                "SELECT DISTINCT h FROM (SELECT start_l // 3600000 AS h FROM cdr UNION ALL "
                "SELECT end_l // 3600000 FROM cdr UNION ALL SELECT ans_l // 3600000 FROM cdr)",
            )
            has_local = (
                con.execute(
                    "SELECT count(*) FROM cdr WHERE a_tech = 'local' OR b_tech = 'local'"
                ).fetchall()[0][0]
                > 0
            )
            # Only a phone written on two rows can be a leg written twice (Local optimisation).
            con.execute(
                "CREATE OR REPLACE TEMP TABLE twice AS SELECT dstchannel AS b_chan FROM cdr "
                f"WHERE {'err IS NULL' if has_local else 'FALSE'} AND b_kind = 'party' "
                "GROUP BY dstchannel HAVING count(*) > 1"
            )
            plan = _Plan(layout.fields, self._pbx, str(self._zone), has_dir, has_local, fixed)
            # Streamed: the store checks the first legs while the last are still converted.
            try:
                legs = con.sql(_legs_sql(plan)).to_arrow_reader(_RESULT_ROWS)
                for batch in legs:
                    yield from raw_batches(pa.Table.from_batches([batch]), self._pbx, CAUSE_WORDS)
            except duckdb.Error as exc:
                raise SourceError(self.path, f"cannot be read: {exc}") from None
        self._progress(total, total)


# --- SQL ------------------------------------------------------------------------------------

#: A number of seconds as cdr_csv writes it (integer) or an ODBC export (decimal).
_SECONDS = "[0-9]{1,12}(\\.[0-9]{1,9})?"
#: Epoch seconds, as cdr_custom writes ``${CDR(start,f)}``.
_EPOCH = "[0-9]{1,11}(\\.[0-9]{1,6})?"


def time_sql(col: str) -> tuple[str, str]:
    """(local ms as if UTC, epoch ms) SQL for a CDR time column: fast path first.

    ``YYYY-MM-DD HH:MM:SS`` is read by one ``strptime``; fractions of a second, epoch seconds
    and ``0000-00-00 00:00:00`` (empty) are looked at only on the rows that need it.
    """
    c = q(col)
    fast = f"epoch_ms(try_strptime({c}, '%Y-%m-%d %H:%M:%S'))"
    rest = f"{c} IS NOT NULL AND {c} <> '' AND NOT starts_with({c}, '0000-00-00')"
    local = (
        f"coalesce({fast}, CASE WHEN {rest} THEN "
        f"epoch_ms(try_strptime({c}, '%Y-%m-%d %H:%M:%S.%f')) END)"
    )
    epoch = (
        f"CASE WHEN {fast} IS NULL AND {rest} THEN CASE WHEN regexp_full_match({c}, {lit(_EPOCH)}) "
        f"THEN CAST(round(CAST({c} AS DOUBLE) * 1000) AS BIGINT) END END"
    )
    return local, epoch


def seconds_sql(col: str) -> str:
    """SQL: milliseconds of a number of seconds; NULL when empty or not a number >= 0."""
    c = q(col)
    return (
        f"CASE WHEN contains({c}, '.') THEN CASE WHEN regexp_full_match({c}, {lit(_SECONDS)}) "
        f"THEN CAST(round(CAST({c} AS DOUBLE) * 1000) AS BIGINT) END "
        f"ELSE CASE WHEN TRY_CAST({c} AS BIGINT) >= 0 THEN TRY_CAST({c} AS BIGINT) * 1000 END END"
    )


def _disposition_sql(col: str) -> str:
    """SQL: the disposition as Asterisk's code (8 answered, 1 no answer, 4 busy, 2 failed,
    16 congestion), from the word or from an ODBC number."""
    c = q(col)
    words = " ".join(
        f"WHEN {lit(w)} THEN {code}"
        for w, code in (
            ("ANSWERED", 8),
            ("NO ANSWER", 1),
            ("BUSY", 4),
            ("FAILED", 2),
            ("CONGESTION", 16),
            ("NULL", 1),
            ("0", 1),
            ("1", 1),
            ("2", 2),
            ("4", 4),
            ("8", 8),
            ("16", 16),
        )
    )
    return f"coalesce(CASE {c} {words} END, CASE upper(trim({c})) {words} END)"


_PARTY_COLUMNS = ("tech", "kind", "ext", "name", "res")


#: Columns of a parsed block kept for the legs query (text as read; '' is empty).
_KEPT = (
    "line",
    "src",
    "dst",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "uniqueid",
    "linkedid",
)


def _stage_sql(fields: frozenset[str]) -> str:
    """Row-local numbers of a parsed block ``blk`` (times, durations, disposition, sequence)
    and each bad row's reason: one cheap pass, messages built only for bad rows. Text
    columns stay in Arrow; only these come back from DuckDB, in the block's order."""
    start_l, start_e = time_sql("start")
    with_duration, with_billsec, with_seq = (
        f in fields for f in ("duration", "billsec", "sequence")
    )
    end_l, end_e = time_sql("end") if not with_duration else ("NULL::BIGINT", "NULL::BIGINT")
    ans_l, ans_e = time_sql("answer") if not with_billsec else ("NULL::BIGINT", "NULL::BIGINT")
    dur = seconds_sql("duration") if with_duration else "NULL::BIGINT"
    bill = seconds_sql("billsec") if with_billsec else "NULL::BIGINT"
    seq = "TRY_CAST(sequence AS BIGINT)" if with_seq else "NULL::BIGINT"
    inner = f"""
  SELECT _err, start, duration, billsec, disposition, channel,
    {start_l} AS start_l, {start_e} AS start_e, {end_l} AS end_l, {end_e} AS end_e,
    {ans_l} AS ans_l, {ans_e} AS ans_e, {dur} AS dur_ms, {bill} AS bill_ms,
    {_disposition_sql("disposition")} AS disp, {seq} AS seq
  FROM blk"""
    quoted = "' || chr(39) || left({v}, 40) || chr(39)"
    checks = [
        "CASE WHEN coalesce(channel, '') = '' THEN 'channel is empty' END",
        "CASE WHEN start IS NULL OR start = '' THEN 'start is empty' "
        "WHEN start_l IS NULL AND start_e IS NULL AND NOT starts_with(start, '0000-00-00') "
        "THEN 'start must be YYYY-MM-DD HH:MM:SS (local time) or epoch seconds, not "
        + quoted.format(v="start")
        + " END",
        "CASE WHEN disp IS NULL THEN 'disposition must be ANSWERED, NO ANSWER, BUSY, FAILED, "
        "CONGESTION or a numeric code 0, 1, 2, 4, 8, 16, not "
        + quoted.format(v="coalesce(disposition, '')")
        + " END",
    ]
    bad = [
        "_err IS NOT NULL",
        "coalesce(channel, '') = ''",
        "(start_l IS NULL AND start_e IS NULL)",
        "disp IS NULL",
    ]
    if with_duration:
        checks.append(
            "CASE WHEN dur_ms IS NULL THEN 'duration must be a number of seconds, not "
            + quoted.format(v="coalesce(duration, '')")
            + " END"
        )
        bad.append("dur_ms IS NULL")
    else:
        checks.append(
            "CASE WHEN end_l IS NULL AND end_e IS NULL THEN 'end must be YYYY-MM-DD HH:MM:SS "
            "(local time) or epoch seconds' END"
        )
        bad.append("(end_l IS NULL AND end_e IS NULL)")
    if with_billsec:
        checks.append(
            "CASE WHEN bill_ms IS NULL AND coalesce(billsec, '') <> '' THEN 'billsec must be a "
            "number of seconds, not " + quoted.format(v="billsec") + " END"
        )
        bad.append("(bill_ms IS NULL AND coalesce(billsec, '') <> '')")
    if with_seq:
        checks.append("CASE WHEN seq IS NULL OR seq < 0 THEN 'sequence must be a whole number' END")
        bad.append("(seq IS NULL OR seq < 0)")
    return f"""
SELECT
  CASE WHEN {" OR ".join(bad)} THEN coalesce(_err, concat_ws('; ', {", ".join(checks)})) END AS err,
  start_l, start_e, end_l, end_e, ans_l, ans_e, dur_ms, bill_ms, disp, seq
FROM ({inner})"""


def _split_clid(clid: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Name and number of a caller id ``"Alice" <1001>`` (both null without ``<...>``)."""
    has = pc.match_substring(clid, "<")
    parts = pc.split_pattern(
        pc.binary_join_element_wise("<", clid, ""), "<", max_splits=1, reverse=True
    )
    name = pc.utf8_trim(pc.list_element(parts, 0), characters=' "<')
    number = pc.utf8_trim(pc.list_element(parts, 1), characters=" >")
    null = pa.scalar(None, pa.string())
    name = pc.if_else(pc.and_(has, pc.not_equal(name, "")), name, null)
    number = pc.if_else(pc.and_(has, pc.not_equal(number, "")), number, null)
    return name, number


@dataclass(frozen=True)
class Extensions:
    """Which names are extensions of the PBX: its imported directory, else the digits fallback."""

    directory: frozenset[str] | None

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, has_directory: bool) -> Extensions:
        if not has_directory:
            return cls(None)
        return cls(frozenset(r[0] for r in con.execute("SELECT extension FROM known").fetchall()))

    def __contains__(self, name: str | None) -> bool:
        if not name:
            return False
        if self.directory is not None:
            return name in self.directory
        return re.fullmatch(FALLBACK_EXTENSION_PATTERN, name) is not None


def channel_parts(prefix: str | None, known: Extensions) -> tuple[str | None, ...]:
    """(technology, kind, extension, phone name, resource) of ``TECH/resource``.

    kind is ``hop`` (a Local channel), ``none`` (an internal channel of the PBX) or ``party``.
    """
    if prefix is None or prefix == "":
        return (None, "none", None, None, None)
    tech, slash, res = prefix.partition("/")
    if not slash:
        res = prefix
    tech = tech.lower()
    name = res.split("@", 1)[0]
    kind = "hop" if tech == "local" else "none" if tech in INTERNAL_TECHS else "party"
    phone = name if tech in PHONE_TECHS else None
    ext = phone if phone is not None and phone in known else None
    return (tech, kind, ext, phone, res)


def _party_columns(side: str, channel: pa.ChunkedArray, known: Extensions) -> dict[str, pa.Array]:
    """:func:`channel_parts` of every row's channel, worked out once per distinct prefix.

    The prefix is the channel name without its ``-id`` suffix (``PJSIP/1001-0000000a`` ->
    ``PJSIP/1001``); a PBX has few of them (one per phone and trunk), so the Python step runs
    per phone, never per row.
    """
    prefix = pc.list_element(pc.split_pattern(channel, "-", max_splits=1, reverse=True), 0)
    encoded = pc.dictionary_encode(prefix).combine_chunks()
    parts = [channel_parts(v, known) for v in encoded.dictionary.to_pylist()]
    indices = encoded.indices
    return {
        side + name: pa.DictionaryArray.from_arrays(
            indices, pa.array([p[i] for p in parts], pa.string())
        )
        for i, name in enumerate(_PARTY_COLUMNS)
    }


@dataclass(frozen=True)
class _Plan:
    """What the legs query needs to do for one file."""

    fields: frozenset[str]
    pbx: str
    zone: str
    has_dir: bool
    #: The file has Local channels (hops to resolve, rows to merge).
    has_local: bool
    #: A fixed UTC offset for every local time of the file (no change of offset inside it).
    fixed_offset_ms: int | None


def _utc(local: str, alias: str, plan: _Plan) -> str:
    if plan.fixed_offset_ms is not None:
        return f"({local} - {plan.fixed_offset_ms})"
    return utc_sql(local, alias)


#: Columns of a hop row that a Local channel's ``;2`` half takes as its caller's.
_HOP_COLUMNS = ("a_chan", "a_tech", "a_ext", "a_res", "uniqueid", "src")


def _rooted_sql(has_local: bool) -> str:
    """CTEs giving each row its caller: its own channel, or for the ``;2`` half of a Local
    channel the channel that dialled the ``;1`` half (through up to three hops)."""
    if not has_local:
        return """
rooted AS (
  SELECT *, a_chan AS root_chan, a_tech AS root_tech, a_ext AS root_ext, a_res AS root_res,
    uniqueid AS root_uid, src AS root_src
  FROM timed
),"""
    levels = (1, 2, 3)
    picks = ", ".join(f"arg_min({c}, line) AS h_{c}" for c in (*_HOP_COLUMNS, "a_base"))
    depth = " ".join(
        f"WHEN h{n}.h_a_chan IS NOT NULL AND h{n}.h_a_base IS NULL THEN {n}" for n in levels
    )
    carried = [f"h{n}.h_{c} AS h{n}_{c}" for n in levels for c in _HOP_COLUMNS]
    dropped = [f"h{n}_{c}" for n in levels for c in _HOP_COLUMNS]

    def root(col: str, own: str) -> str:
        cases = " ".join(f"WHEN {n} THEN h{n}_{col}" for n in levels)
        return f"CASE depth {cases} ELSE {own} END"

    return f"""
hops AS (SELECT b_base AS base, {picks} FROM timed WHERE b_base IS NOT NULL GROUP BY b_base),
resolved AS (
  SELECT t.*, CASE WHEN t.a_base IS NULL THEN 0 {depth} ELSE 0 END AS depth, {", ".join(carried)}
  FROM timed t
  LEFT JOIN hops h1 ON h1.base = t.a_base
  LEFT JOIN hops h2 ON h2.base = h1.h_a_base
  LEFT JOIN hops h3 ON h3.base = h2.h_a_base
),
rooted AS (
  SELECT * EXCLUDE ({", ".join(dropped)}),
    {root("a_chan", "a_chan")} AS root_chan, {root("a_tech", "a_tech")} AS root_tech,
    {root("a_ext", "a_ext")} AS root_ext, {root("a_res", "a_res")} AS root_res,
    {root("uniqueid", "uniqueid")} AS root_uid, coalesce(src, {root("src", "NULL")}) AS root_src
  FROM resolved
),"""


def _legs_sql(plan: _Plan) -> str:
    """SQL from the staged ``cdr`` rows (and ``zone_hours``, ``known``) to canonical legs as
    text, with ``_line`` and ``_source_error``."""
    fields, has_dir = plan.fields, plan.has_dir
    with_duration, with_billsec = "duration" in fields, "billsec" in fields
    joins = []
    if plan.fixed_offset_ms is None:
        joins.append("LEFT JOIN zone_hours zs ON zs.hour = c.start_l // 3600000")
        if not with_duration:
            joins.append("LEFT JOIN zone_hours ze ON ze.hour = c.end_l // 3600000")
        if not with_billsec:
            joins.append("LEFT JOIN zone_hours za ON za.hour = c.ans_l // 3600000")
    start = f"coalesce(start_e, {_utc('start_l', 'zs', plan)})"
    end = "start_ms + dur_ms" if with_duration else f"coalesce(end_e, {_utc('end_l', 'ze', plan)})"
    answer = "end_ms - bill_ms" if with_billsec else f"coalesce(ans_e, {_utc('ans_l', 'za', plan)})"
    services = ", ".join(lit(a) for a in SERVICE_APPS)
    dahdi_a = (
        f"WHEN root_tech = 'dahdi' AND {is_extension_sql('root_src', True)} THEN root_src "
        if has_dir
        else ""
    )
    dahdi_b = (
        f"WHEN b_tech = 'dahdi' AND {is_extension_sql('dst', True)} THEN dst " if has_dir else ""
    )
    token = "split_part(split_part(split_part(lastdata, ',', 1), '@', 1), '&', 1)"
    keys = [k for k, f in (("linkedid", "linkedid"), ("root_uid", "uniqueid")) if f in fields]
    if keys:
        call_key = (
            f"coalesce({', '.join(keys)}, root_chan || '@' || CAST(start_ms // 1000 AS VARCHAR))"
        )
        runs, keyed = "", "parties"
    else:
        call_key = "root_chan || '@' || CAST(run_start // 1000 AS VARCHAR)"
        runs = f"""
runs AS (
  SELECT *, coalesce(start_ms > max(end_ms) OVER (PARTITION BY root_chan ORDER BY start_ms, line
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + {SLACK_MS}, TRUE) AS new_run
  FROM parties),
run_numbers AS (
  SELECT *, sum(CAST(new_run AS INTEGER)) OVER (PARTITION BY root_chan ORDER BY start_ms, line)
    AS run FROM runs),
keyed AS (
  SELECT *, min(start_ms) OVER (PARTITION BY root_chan, run) AS run_start FROM run_numbers),"""
        keyed = "keyed"
    if plan.has_local:
        # One leg per (call, caller, dstchannel): Asterisk writes a second row for a phone when
        # it optimises a Local channel away.
        legs = """
legs0 AS (
  SELECT call_key, line, start_ms, end_ms, conn_ms, answered, voicemail, disp, lastapp,
    lastdata, seq, caller, caller_name, caller_ext, callee_ext, callee, dst
  FROM leg_rows WHERE merge_chan IS NULL
  UNION ALL
  SELECT call_key, min(line) AS line, min(start_ms) AS start_ms, max(end_ms) AS end_ms,
    min(conn_ms) AS conn_ms, bool_or(answered) AS answered, bool_or(voicemail) AS voicemail,
    CASE WHEN bool_or(answered) THEN 8 ELSE arg_max(disp, end_ms) END AS disp,
    arg_max(lastapp, end_ms) AS lastapp, arg_max(lastdata, end_ms) AS lastdata, min(seq) AS seq,
    arg_min(caller, line) AS caller, arg_min(caller_name, line) AS caller_name,
    arg_min(caller_ext, line) AS caller_ext, arg_min(callee_ext, line) AS callee_ext,
    arg_min(callee, line) AS callee, arg_min(dst, line) AS dst
  FROM leg_rows WHERE merge_chan IS NOT NULL
  GROUP BY call_key, merge_chan, root_chan
),"""
    else:
        legs = """
legs0 AS (
  SELECT call_key, line, start_ms, end_ms, conn_ms, answered, voicemail, disp, lastapp,
    lastdata, seq, caller, caller_name, caller_ext, callee_ext, callee, dst
  FROM leg_rows
),"""
    leg_id = (
        "seq + 1"
        if "sequence" in fields
        else "row_number() OVER (PARTITION BY call_key ORDER BY start_ms, line)"
    )
    legs += f"\nlegs AS MATERIALIZED (SELECT *, {leg_id} AS leg_id FROM legs0),"
    out_cols = f"""call_key AS call_id, leg_id, start_ms AS start_time,
  conn_ms AS connect_time, end_ms AS end_time, caller, callee, caller_ext, callee_ext,
  abandoned, voicemail AND NOT answered AS voicemail, caller_name, disp AS cause_code,
  CASE WHEN dst IS DISTINCT FROM callee THEN dst END AS dnis, line AS {q(LINE_COLUMN)},
  CASE WHEN start_ms IS NULL THEN {lit("start cannot be placed in time zone " + plan.zone)} END
    AS {q(SOURCE_ERROR_COLUMN)}"""
    timeout = "TRY_CAST(NULLIF(trim(split_part(lastdata, ',', 2)), '') AS BIGINT)"
    party = ", ".join(f"c.{side}{col}" for side in ("a_", "b_") for col in _PARTY_COLUMNS)
    return f"""
WITH timed0 AS (
  SELECT c.line, c.start_l, c.start_e, c.end_l, c.end_e, c.ans_l, c.ans_e, c.dur_ms, c.bill_ms,
    c.disp, c.seq, c.clid_name, c.clid_num, {party},
    NULLIF(c.src, '') AS src, NULLIF(c.dst, '') AS dst,
    NULLIF(c.channel, '') AS a_chan, NULLIF(c.dstchannel, '') AS b_chan,
    lower(NULLIF(c.lastapp, '')) AS lastapp, NULLIF(c.lastapp, '') AS lastapp_text,
    NULLIF(c.lastdata, '') AS lastdata, NULLIF(c.uniqueid, '') AS uniqueid,
    NULLIF(c.linkedid, '') AS linkedid,
    CASE WHEN c.a_tech = 'local' AND c.channel[-2:-2] = ';'
      THEN left(c.channel, length(c.channel) - 2) END AS a_base,
    CASE WHEN c.b_tech = 'local' AND c.dstchannel[-2:-2] = ';'
      THEN left(c.dstchannel, length(c.dstchannel) - 2) END AS b_base,
    {start} AS start_ms
  FROM cdr c {" ".join(joins)} WHERE c.err IS NULL
),
timed1 AS (SELECT *, {end} AS end_ms FROM timed0),
timed AS (SELECT *, CASE WHEN disp = 8 THEN {answer} END AS answer_ms FROM timed1),
{_rooted_sql(plan.has_local)}
mailboxes AS (
  SELECT *, CASE WHEN lastapp IN ('voicemail', 'voicemailmain') THEN {token} END AS mb FROM rooted
),
parties AS (
  SELECT *,
    CASE WHEN root_ext IS NOT NULL THEN root_ext {dahdi_a}END AS a_ext_row,
    CASE WHEN b_ext IS NOT NULL THEN b_ext {dahdi_b}END AS b_ext_row,
    CASE WHEN mb IS NOT NULL THEN CASE WHEN regexp_full_match(mb, '[bsuBSU][0-9]+')
      THEN substr(mb, 2) ELSE NULLIF(mb, '') END END AS mailbox,
    coalesce(disp = 8 AND b_kind = 'party' AND answer_ms IS NOT NULL
      AND coalesce(lastapp NOT IN ({services}), TRUE), FALSE) AS answered
  FROM mailboxes
),{runs}
leg_rows AS (
  SELECT {call_key} AS call_key, line, start_ms, end_ms, disp, lastapp, lastdata, seq, dst,
    root_chan, clid_name AS caller_name, answered,
    CASE WHEN answered THEN answer_ms END AS conn_ms,
    coalesce(lastapp = 'voicemail', FALSE) AS voicemail,
    CASE WHEN b_kind = 'hop' THEN NULL ELSE a_ext_row END AS caller_ext,
    CASE WHEN b_kind = 'party' THEN b_ext_row
      WHEN lastapp = 'voicemail' AND {is_extension_sql("mailbox", has_dir)} THEN mailbox
      WHEN lastapp = 'voicemailmain' THEN a_ext_row END AS callee_ext,
    coalesce(src, clid_num, a_ext_row, root_res, root_chan) AS caller,
    coalesce(CASE WHEN b_kind = 'party' THEN b_ext_row END,
      CASE WHEN lastapp = 'voicemail' THEN mailbox END, dst, b_name, b_res, lastapp_text)
      AS callee,
    CASE WHEN b_kind = 'party' AND b_chan IN (SELECT b_chan FROM twice) THEN b_chan END
      AS merge_chan
  FROM {keyed}
),
{legs}
candidates AS (SELECT * FROM legs WHERE disp = 1 AND NOT voicemail),
calls AS (
  SELECT call_key, max(end_ms) AS call_end, list(conn_ms) FILTER (WHERE answered) AS answers
  FROM legs WHERE call_key IN (SELECT call_key FROM candidates) GROUP BY call_key
),
flagged AS (
  SELECT l.*, l.end_ms >= c.call_end - {SLACK_MS}
      AND NOT coalesce(l.lastapp = 'dial' AND {timeout} > 0
        AND l.end_ms - l.start_ms >= {timeout} * 1000, FALSE)
      AND NOT coalesce(list_bool_or(list_transform(c.answers,
        lambda a: a BETWEEN l.start_ms AND l.end_ms + {SLACK_MS})), FALSE) AS abandoned
  FROM candidates l JOIN calls c USING (call_key)
)
SELECT {out_cols} FROM (SELECT *, FALSE AS abandoned FROM legs WHERE NOT (disp = 1 AND NOT voicemail))
UNION ALL
SELECT {out_cols} FROM flagged
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  line, err
FROM cdr WHERE err IS NOT NULL
"""


register_format(FORMAT_NAME, AsteriskCsvSource)

__all__ = [
    "CDR_FIELDS",
    "LAYOUTS",
    "AsteriskCsvSource",
    "source_zone",
    "zone_hours",
]
