"""FreeSWITCH call detail records as canonical legs.

Two formats, one mapping (``docs/adapters/freeswitch.md`` walks through a folder of CDRs, from
files to the extension summary):

- ``--format freeswitch-json``: mod_json_cdr documents, one per channel. ``FILE`` is one
  ``.json`` file (one document, a JSON array of documents, or JSON Lines of documents) or a
  folder of them (every ``*.json`` directly inside it, read as one source so the A and B legs
  of a call meet). Variable values are URL-decoded (mod_json_cdr's ``encode-values``).
- ``--format freeswitch-csv --source-tz ZONE``: mod_cdr_csv with the ``example`` template
  (:data:`EXAMPLE_TEMPLATE`), or another template whose variables ``--columns`` names
  (``caller_id_number,destination_number,...,last_app``). Header-less, one record per line.

A CDR is one channel. An *A leg* is a channel that came in (or was originated on its own); a
*B leg* is a channel an A leg dialled: it has ``originating_leg_uuid`` (or ``originator``, or
an originator caller profile). Which records become legs:

==================================  =========================================================
record                              canonical leg
==================================  =========================================================
B leg to a phone or a gateway       the leg that rang that party (the ``callee`` kind)
B leg to ``loopback/app=voicemail``  a voicemail leg for the mailbox
other loopback halves               kept, credited to no one (``hop``)
A leg with B legs in the source     its part after the B legs: a voicemail leg when its
                                    ``last_app`` is ``voicemail``, else a routing record
                                    credited to no one (the B legs are the calls' legs)
A leg without B legs                the leg itself, to the party it dialled (``own``): what
                                    mod_cdr_csv and ``log-b-leg=false`` give
==================================  =========================================================

Mapping:

=================  ==========================================================================
canonical          from the CDR
=================  ==========================================================================
pbx_id             the source's ``pbx_id`` (default ``freeswitch``)
call_id            ``call_uuid``, else the A leg's uuid (``originating_leg_uuid``), else ``uuid``
leg_id             rank in the call by start time (an A leg first on a tie), then uuid
start_time         ``start_uepoch`` (else ``start_epoch``; else ``start_stamp`` read in
                   ``--source-tz``); a voicemail leg of an A leg starts when its last B leg ended
end_time           ``end_uepoch`` (else ``end_epoch``, else start + ``duration``)
connect_time       B leg: ``answer_uepoch``; own A leg: ``bridge_uepoch`` (else, for a record
                   without bridge times, ``answer`` when it was bridged: ``bleg_uuid``,
                   ``bridge_uuid``, ``originated_legs`` or ``last_bridge_to``); with stamps
                   only, ``end - billsec``. Set only when a person (or a gateway) answered
caller             the caller profile's ``caller_id_number`` (else ``sip_from_user``)
caller_ext         ``user_name`` (a caller that authenticated as a directory user) when it is
                   an extension; else the caller number when it is one. A B leg takes its A
                   leg's
callee             the extension rung, the mailbox, else ``destination_number``
callee_ext         ``dialed_user`` when it is an extension; else, when the leg is not to a
                   gateway (``sip_gateway_name``, ``sofia/gateway/...``), the destination when
                   it is an extension; for voicemail the mailbox (the third argument of
                   ``voicemail default $${domain} 1003``); ``voicemail check`` is the caller's
                   own mailbox (system activity, ignored by the report)
abandoned          ``hangup_cause`` ``ORIGINATOR_CANCEL`` (the caller gave up) on an unanswered
                   leg, unless another leg of the call was answered while it rang
voicemail          ``last_app`` ``voicemail``, or a loopback leg to ``app=voicemail``
cause              ``hangup_cause`` (``NORMAL_CLEARING``, ``NO_ANSWER``, ``USER_BUSY``,
                   ``LOSE_RACE`` (another phone of a ring-all answered), ...)
hold_ms            ``hold_accum_ms``
sip_call_id        ``sip_call_id``
dnis               ``destination_number`` when it differs from the callee
=================  ==========================================================================

Extensions are as for Asterisk: the directory imported for the PBX, else 2 to 8 digits.

How it reads: the JSON files are read by DuckDB (``read_text`` over the file list, one Python
step per folder, none per file), split into documents and parsed once each by
``json_transform`` into the variables used; the CSV like ``asterisk-csv`` (Arrow, in 16 MB
blocks). One query then maps every record. Memory holds the folder's text: mod_json_cdr
documents are 10-40 kB each, so 100,000 calls are a few GB of JSON; split a larger backlog into
several folders (each call's files must stay together).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from workanalytics.ingest.asterisk import (
    effective_pbx_id,
    fixed_fields_sql,
    is_extension_sql,
    local_ms_sql,
    raw_batches,
    read_csv_block,
    register_known,
    register_zone_hours,
    scratch_connection,
    seconds_sql,
    source_zone,
    utc_sql,
)
from workanalytics.ingest.sources import LegSource, SourceError, _blocks, register_format
from workanalytics.legs import LINE_COLUMN, SOURCE_ERROR_COLUMN, lit, q

JSON_FORMAT = "freeswitch-json"
CSV_FORMAT = "freeswitch-csv"
DEFAULT_PBX_ID = "freeswitch"
#: mod_cdr_csv's ``example`` template, in order.
EXAMPLE_TEMPLATE: tuple[str, ...] = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)
#: The channel variables (and CSV template variables) this adapter reads.
VARIABLES: tuple[str, ...] = (
    "uuid",
    "call_uuid",
    "originating_leg_uuid",
    "originator",
    "bleg_uuid",
    "bridge_uuid",
    "originated_legs",
    "last_bridge_to",
    "channel_name",
    "sip_gateway_name",
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "sip_from_user",
    "sip_to_user",
    "user_name",
    "dialed_user",
    "hangup_cause",
    "last_app",
    "last_arg",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "start_epoch",
    "answer_epoch",
    "bridge_epoch",
    "end_epoch",
    "start_uepoch",
    "answer_uepoch",
    "bridge_uepoch",
    "end_uepoch",
    "duration",
    "billsec",
    "hold_accum_ms",
    "sip_call_id",
)
#: Variables holding numbers: never URL-encoded, so not decoded.
_NUMERIC = frozenset(v for v in VARIABLES if v.endswith(("epoch", "uepoch")) or v in (
    "duration", "billsec", "hold_accum_ms"))  # fmt: skip
#: Variables that say the channel was bridged to another.
_BRIDGE_LINKS = ("bleg_uuid", "bridge_uuid", "originated_legs", "last_bridge_to")
#: Applications that answer for the PBX itself: a leg ending in one is no answer.
SERVICE_APPS = ("voicemail", "playback", "ivr", "conference", "park", "valet_park", "fifo",
                "callcenter", "sleep", "hangup", "answer", "echo", "delay_echo")  # fmt: skip
#: The caller profile, from ``callflow`` (an array in recent versions, an object in old ones).
_PROFILE_PATHS = {
    "cf_caller_id_number": "caller_profile.caller_id_number",
    "cf_caller_id_name": "caller_profile.caller_id_name",
    "cf_destination_number": "caller_profile.destination_number",
    "cf_chan_name": "caller_profile.chan_name",
    "cf_originator": "caller_profile.originator.originator_caller_profiles[0].uuid",
}
_DOCUMENT = 'expected a FreeSWITCH JSON CDR (an object with "variables")'
_NO_VARIABLES = 'no "variables"; ' + _DOCUMENT


# --- the shared mapping -------------------------------------------------------------------


def _n(col: str) -> str:
    return f"NULLIF(trim({q(col)}), '')"


def _epoch_ms(sec: str, usec: str) -> str:
    """SQL: epoch ms from ``*_uepoch`` (µs), else ``*_epoch`` (s); 0 or empty is unset."""
    return (
        f"CASE WHEN TRY_CAST({_n(usec)} AS BIGINT) > 0 THEN TRY_CAST({_n(usec)} AS BIGINT) // 1000 "
        f"WHEN TRY_CAST({_n(sec)} AS BIGINT) > 0 THEN TRY_CAST({_n(sec)} AS BIGINT) * 1000 END"
    )


def _stage_sql(has_zone: bool) -> str:
    """Row-local values of ``fsraw`` (``line``, ``_err`` and every :data:`VARIABLES` as text)."""
    items = {
        "start_e": _epoch_ms("start_epoch", "start_uepoch"),
        "answer_e": _epoch_ms("answer_epoch", "answer_uepoch"),
        "bridge_e": _epoch_ms("bridge_epoch", "bridge_uepoch"),
        "end_e": _epoch_ms("end_epoch", "end_uepoch"),
        "start_l": local_ms_sql(_n("start_stamp")),
        "answer_l": local_ms_sql(_n("answer_stamp")),
        "end_l": local_ms_sql(_n("end_stamp")),
        "dur_ms": seconds_sql("duration"),
        "bill_ms": seconds_sql("billsec"),
        "hold_ms": f"TRY_CAST({_n('hold_accum_ms')} AS BIGINT)",
        "bridge_known": "(bridge_uepoch IS NOT NULL OR bridge_epoch IS NOT NULL)",
        "bridged": f"coalesce({', '.join(_n(c) for c in _BRIDGE_LINKS)}) IS NOT NULL",
    }
    texts = {
        "uuid": _n("uuid"),
        "call_uuid": _n("call_uuid"),
        "a_uuid": f"coalesce({_n('originating_leg_uuid')}, {_n('originator')})",
        "chan": _n("channel_name"),
        "gateway_name": _n("sip_gateway_name"),
        "caller_num": f"coalesce({_n('caller_id_number')}, {_n('sip_from_user')})",
        "caller_name": _n("caller_id_name"),
        "dest": f"coalesce({_n('destination_number')}, {_n('sip_to_user')})",
        "user_name": _n("user_name"),
        "dialed_user": _n("dialed_user"),
        "cause": f"upper({_n('hangup_cause')})",
        "last_app": f"lower({_n('last_app')})",
        "last_arg": _n("last_arg"),
        "sip_call_id": _n("sip_call_id"),
    }
    inner = ",\n    ".join(f"{expr} AS {name}" for name, expr in {**texts, **items}.items())
    stamp = "' || chr(39) || left(start_stamp, 40) || chr(39)"
    checks = [
        "CASE WHEN uuid IS NULL THEN 'uuid is missing' END",
        "CASE WHEN start_e IS NULL AND start_l IS NULL THEN CASE WHEN start_stamp_given "
        "THEN 'start_stamp must be YYYY-MM-DD HH:MM:SS, not " + stamp + " "
        "ELSE 'start_uepoch, start_epoch and start_stamp are all missing' END END",
        "CASE WHEN end_e IS NULL AND end_l IS NULL AND dur_ms IS NULL THEN "
        "'end_uepoch, end_epoch, end_stamp and duration are all missing' END",
    ]
    bad = ["_err IS NOT NULL", "uuid IS NULL", "(start_e IS NULL AND start_l IS NULL)",
           "(end_e IS NULL AND end_l IS NULL AND dur_ms IS NULL)"]  # fmt: skip
    if not has_zone:
        checks.append(
            "CASE WHEN start_e IS NULL AND start_l IS NOT NULL THEN 'this CDR has only local "
            "times (start_stamp, no start_epoch): give --source-tz ZONE' END"
        )
        bad.append("(start_e IS NULL AND start_l IS NOT NULL)")
    return f"""
SELECT line,
  CASE WHEN {" OR ".join(bad)} THEN coalesce(_err, concat_ws('; ', {", ".join(checks)})) END
    AS err,
  * EXCLUDE (line, _err, start_stamp, start_stamp_given)
FROM (
  SELECT line, _err, {_n("start_stamp")} AS start_stamp,
    {_n("start_stamp")} IS NOT NULL AS start_stamp_given,
    {inner}
  FROM fsraw)"""


@dataclass(frozen=True)
class _Plan:
    pbx: str
    zone: str
    has_dir: bool
    fixed_offset_ms: int | None
    #: Some record of the source names a bridged leg (bleg_uuid...): a record without one
    #: was not bridged. When none does, the template does not carry the link at all.
    links_seen: bool


def _utc(local: str, alias: str, plan: _Plan) -> str:
    if plan.fixed_offset_ms is not None:
        return f"({local} - {plan.fixed_offset_ms})"
    return utc_sql(local, alias)


def _legs_sql(plan: _Plan) -> str:
    """SQL from the staged records ``fs`` to typed legs (see the module docstring)."""
    joins = ""
    if plan.fixed_offset_ms is None:
        joins = (
            "LEFT JOIN zone_hours zs ON zs.hour = s.start_l // 3600000 "
            "LEFT JOIN zone_hours ze ON ze.hour = s.end_l // 3600000 "
            "LEFT JOIN zone_hours za ON za.hour = s.answer_l // 3600000"
        )
    ext = lambda expr: is_extension_sql(expr, plan.has_dir)  # noqa: E731
    services = ", ".join(lit(a) for a in SERVICE_APPS)
    vm_args = (
        "CASE WHEN last_app = 'voicemail' THEN last_arg "
        "WHEN loopback AND contains(coalesce(dest, chan, ''), 'app=voicemail') "
        "THEN regexp_extract(coalesce(dest, chan, ''), 'app=voicemail:(.*)$', 1) END"
    )
    box = (
        "CASE WHEN vm_args IS NOT NULL THEN coalesce(NULLIF(split_part(trim(vm_args), ' ', 3), ''),"
        " dest) END"
    )
    return f"""
WITH timed0 AS (
  SELECT s.*, coalesce(s.start_e, {_utc("s.start_l", "zs", plan)}) AS start_ms,
    {_utc("s.end_l", "ze", plan)} AS end_local_ms, {_utc("s.answer_l", "za", plan)} AS answer_local_ms
  FROM fs s {joins} WHERE s.err IS NULL
),
timed1 AS (
  SELECT *, coalesce(end_e, start_ms + dur_ms, end_local_ms) AS end_ms FROM timed0
),
timed AS (
  SELECT *, coalesce(answer_e, CASE WHEN answer_l IS NOT NULL
      THEN coalesce(end_ms - bill_ms, answer_local_ms) END) AS answer_ms
  FROM timed1
),
docs0 AS (
  SELECT *, a_uuid IS NOT NULL AS is_b, coalesce(call_uuid, a_uuid, uuid) AS call_key,
    starts_with(lower(coalesce(chan, '')), 'loopback/') AS loopback,
    gateway_name IS NOT NULL OR starts_with(lower(coalesce(chan, '')), 'sofia/gateway/')
      AS gateway,
    CASE WHEN {ext("user_name")} THEN user_name WHEN {ext("caller_num")} THEN caller_num END
      AS own_caller_ext
  FROM timed
),
docs1 AS (SELECT *, {vm_args} AS vm_args FROM docs0),
docs AS (SELECT *, {box} AS box, starts_with(lower(trim(coalesce(vm_args, ''))), 'check')
  AS vm_check FROM docs1),
b_ends AS (SELECT a_uuid, max(end_ms) AS b_end FROM docs WHERE is_b GROUP BY a_uuid),
a_callers AS (
  SELECT uuid, arg_min(own_caller_ext, start_ms) AS a_caller_ext FROM docs WHERE NOT is_b
  GROUP BY uuid
),
kinds AS (
  SELECT d.*, be.b_end, ac.a_caller_ext,
    CASE WHEN d.loopback AND NOT d.is_b THEN 'hop'
      WHEN d.loopback AND ends_with(coalesce(d.chan, ''), '-b') THEN 'hop'
      WHEN d.loopback THEN CASE WHEN d.vm_args IS NOT NULL THEN 'voicemail' ELSE 'hop' END
      WHEN d.is_b THEN CASE WHEN d.last_app = 'voicemail' THEN 'voicemail' ELSE 'callee' END
      WHEN be.b_end IS NOT NULL THEN
        CASE WHEN d.last_app = 'voicemail' THEN 'voicemail' ELSE 'route' END
      WHEN d.last_app = 'voicemail' THEN 'voicemail'
      ELSE 'own' END AS kind
  FROM docs d
  LEFT JOIN b_ends be ON NOT d.is_b AND be.a_uuid = d.uuid
  LEFT JOIN a_callers ac ON d.is_b AND ac.uuid = d.a_uuid
),
parties AS (
  SELECT *,
    CASE WHEN kind IN ('hop', 'route') THEN NULL
      WHEN is_b THEN coalesce(a_caller_ext, CASE WHEN {ext("caller_num")} THEN caller_num END)
      ELSE own_caller_ext END AS caller_ext,
    CASE kind
      WHEN 'callee' THEN CASE WHEN {ext("dialed_user")} THEN dialed_user
        WHEN NOT gateway AND {ext("dest")} THEN dest END
      WHEN 'voicemail' THEN CASE WHEN vm_check THEN NULL WHEN {ext("box")} THEN box END
      WHEN 'own' THEN CASE WHEN {ext("dialed_user")} THEN dialed_user
        WHEN coalesce(last_app = 'bridge', TRUE) AND NOT gateway AND {ext("dest")} THEN dest END
      END AS callee_ext0,
    CASE kind
      WHEN 'callee' THEN answer_ms IS NOT NULL AND coalesce(last_app NOT IN ({services}), TRUE)
      WHEN 'own' THEN answer_ms IS NOT NULL
        AND (bridge_e IS NOT NULL OR (NOT bridge_known AND (bridged OR NOT {plan.links_seen})))
        AND coalesce(last_app NOT IN ({services}), TRUE)
      ELSE FALSE END AS answered
  FROM kinds
),
legs0 AS (
  SELECT call_key, line, is_b, uuid, cause, end_ms, answered, kind, kind = 'voicemail' AS voicemail,
    CASE WHEN kind = 'voicemail' AND NOT is_b AND b_end IS NOT NULL
      THEN least(greatest(start_ms, b_end), end_ms) ELSE start_ms END AS start_ms,
    CASE WHEN answered THEN CASE WHEN kind = 'own' THEN coalesce(bridge_e, answer_ms)
      ELSE answer_ms END END AS conn_ms,
    coalesce(caller_num, own_caller_ext, uuid) AS caller, caller_name, caller_ext,
    CASE WHEN vm_check THEN caller_ext ELSE callee_ext0 END AS callee_ext,
    coalesce(CASE WHEN vm_check THEN caller_ext ELSE callee_ext0 END, box, dialed_user, dest,
      chan, uuid) AS callee,
    dest, NULLIF(hold_ms, 0) AS hold_ms, sip_call_id
  FROM parties
),
legs AS MATERIALIZED (
  SELECT *, row_number() OVER (PARTITION BY call_key ORDER BY start_ms, is_b, uuid) AS leg_id
  FROM legs0
),
answers AS (SELECT call_key, conn_ms FROM legs WHERE answered),
flagged AS (
  SELECT l.*, l.kind IN ('callee', 'own') AND NOT l.answered
    AND coalesce(l.cause = 'ORIGINATOR_CANCEL', FALSE)
    AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.call_key = l.call_key
      AND a.conn_ms BETWEEN l.start_ms AND l.end_ms + 1000) AS abandoned
  FROM legs l
)
SELECT call_key AS call_id, leg_id, start_ms AS start_time, conn_ms AS connect_time,
  end_ms AS end_time, caller, callee, caller_ext, callee_ext, abandoned,
  voicemail AND NOT answered AS voicemail, caller_name, hold_ms, cause, sip_call_id,
  CASE WHEN dest IS DISTINCT FROM callee THEN dest END AS dnis,
  line AS {q(LINE_COLUMN)},
  CASE WHEN start_ms IS NULL THEN {lit("start cannot be placed in time zone " + plan.zone)} END
    AS {q(SOURCE_ERROR_COLUMN)}
FROM flagged
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, line, err
FROM fs WHERE err IS NOT NULL
"""


def _map(
    con: duckdb.DuckDBPyConnection,
    zone: ZoneInfo | None,
    known: pa.Table | None,
    pbx: str,
    path_for_errors: object,
) -> pa.Table:
    """``fsraw`` (registered or a table) to typed legs."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE fs AS {_stage_sql(zone is not None)}")
    fixed: int | None = 0
    if zone is not None:
        fixed = register_zone_hours(
            con,
            zone,
            "SELECT DISTINCT h FROM (SELECT start_l // 3600000 AS h FROM fs UNION ALL "
            "SELECT end_l // 3600000 FROM fs UNION ALL SELECT answer_l // 3600000 FROM fs)",
        )
    has_dir = register_known(con, known, pbx)
    links_seen = bool(con.execute("SELECT count(*) FROM fs WHERE bridged").fetchall()[0][0])
    plan = _Plan(pbx, str(zone) if zone else "UTC", has_dir, fixed, links_seen)
    try:
        return con.sql(_legs_sql(plan)).to_arrow_table()
    except duckdb.Error as exc:
        raise SourceError(path_for_errors, f"cannot be read: {exc}") from None  # type: ignore[arg-type]


# --- mod_json_cdr -------------------------------------------------------------------------

#: ``json_transform`` structure: each variable used, as text.
_STRUCTURE = json.dumps({"variables": {v: "VARCHAR" for v in VARIABLES}})


def _documents_sql() -> str:
    """SQL from ``files(file_no, filename, content)`` to ``(doc_no, where, doc, _err)``."""
    first_line = "split_part(ltrim(content, chr(10) || chr(13) || ' ' || chr(9)), chr(10), 1)"
    return f"""
WITH kinds AS (
  SELECT file_no, filename, content,
    CASE WHEN json_valid(content) THEN CASE json_type(content) WHEN 'OBJECT' THEN 'object'
           WHEN 'ARRAY' THEN 'array' ELSE 'other' END
         WHEN json_valid({first_line}) THEN 'lines' ELSE 'invalid' END AS kind
  FROM files
),
found AS (
  SELECT file_no, 1 AS pos, filename AS "where", content AS doc, NULL AS _err
  FROM kinds WHERE kind = 'object'
  UNION ALL
  SELECT file_no, pos, filename || ': [' || (pos - 1) || ']', doc, NULL
  FROM (SELECT file_no, filename, unnest(json_extract(content, '$[*]')) AS doc,
          generate_subscripts(json_extract(content, '$[*]'), 1) AS pos
        FROM kinds WHERE kind = 'array')
  UNION ALL
  SELECT file_no, pos, filename || ':' || pos, line, CASE WHEN NOT json_valid(line)
    THEN 'not valid JSON' END
  FROM (SELECT file_no, filename, unnest(string_split(content, chr(10))) AS line,
          generate_subscripts(string_split(content, chr(10)), 1) AS pos
        FROM kinds WHERE kind = 'lines')
  WHERE trim(line, ' ' || chr(9) || chr(13)) <> ''
  UNION ALL
  SELECT file_no, 1, filename, '{{}}', CASE kind WHEN 'invalid' THEN 'not valid JSON'
    ELSE 'a JSON value that is not an object; ' || {lit(_DOCUMENT)} END
  FROM kinds WHERE kind IN ('invalid', 'other')
)
SELECT row_number() OVER (ORDER BY file_no, pos) AS doc_no, "where",
  CASE WHEN _err IS NULL AND json_type(doc) = 'OBJECT' THEN doc ELSE '{{}}' END AS doc,
  coalesce(_err, CASE WHEN json_type(doc) <> 'OBJECT' THEN {lit("expected a JSON object; " + _DOCUMENT)}
    END) AS _err
FROM found"""


def _fields_sql() -> str:
    """SQL from ``documents(doc_no, doc, _err)`` to ``fsraw`` (URL-decoded variables)."""
    paths = []
    for prefix in ("$.callflow[0].", "$.callflow."):
        paths += [prefix + p for p in _PROFILE_PATHS.values()]
    cols = []
    for v in VARIABLES:
        value = f"v.variables.{q(v)}"
        cols.append(f"{value if v in _NUMERIC else f'url_decode({value})'} AS {q(v)}")
    profile = {name: i + 1 for i, name in enumerate(_PROFILE_PATHS)}
    width = len(_PROFILE_PATHS)
    cf = {name: f"coalesce(cf[{i}], cf[{i + width}])" for name, i in profile.items()}
    fixes = {
        "caller_id_number": cf["cf_caller_id_number"],
        "caller_id_name": cf["cf_caller_id_name"],
        "destination_number": cf["cf_destination_number"],
        "channel_name": cf["cf_chan_name"],
        "originator": cf["cf_originator"],
    }
    outer = ", ".join(
        f"coalesce(NULLIF({q(v)}, ''), {fixes[v]}) AS {q(v)}" if v in fixes else q(v)
        for v in VARIABLES
    )
    return f"""
SELECT doc_no AS line,
  CASE WHEN _err IS NULL AND v.variables IS NULL THEN {lit(_NO_VARIABLES)}
    ELSE _err END AS _err,
  {outer}
FROM (
  SELECT doc_no, _err, v, cf, {", ".join(cols)}
  FROM (SELECT doc_no, _err, json_transform(doc, {lit(_STRUCTURE)}) AS v,
          json_extract_string(doc, [{", ".join(lit(p) for p in paths)}]) AS cf
        FROM documents)
)"""


@dataclass
class FreeSwitchJsonSource(LegSource):
    """mod_json_cdr documents: a file or a folder of them (see the module docstring)."""

    format_name: ClassVar[str] = JSON_FORMAT
    reads_folders: ClassVar[bool] = True

    _zone: ZoneInfo | None = field(default=None, init=False, repr=False)
    _pbx: str = field(default=DEFAULT_PBX_ID, init=False, repr=False)
    _where: pa.Array | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.source_tz:
            self._zone = source_zone(self.path, self.source_tz, JSON_FORMAT, "")
        self._pbx = effective_pbx_id(self.path, self.pbx_id, DEFAULT_PBX_ID)

    def locate(self, line: int) -> str:
        """The file of a document (``folder/x.cdr.json``), and its place in a file of many."""
        if self._where is not None and 0 < line <= len(self._where):
            return str(self._where[line - 1].as_py())
        return f"{self.path}: document {line}"

    def _files(self) -> list[str]:
        if self.path.is_dir():
            files = sorted(str(p) for p in self.path.glob("*.json") if p.is_file())
            if not files:
                raise SourceError(self.path, "the folder has no *.json files (mod_json_cdr CDRs)")
            return files
        return [str(self.path)]

    def batches(self) -> Iterator[pa.RecordBatch]:
        files = self._files()
        self._progress(0, len(files))
        with scratch_connection() as con:
            try:
                con.execute(
                    "CREATE TEMP TABLE files AS SELECT row_number() OVER (ORDER BY filename) "
                    "AS file_no, filename, content FROM read_text($files)",
                    {"files": files},
                )
                con.execute(f"CREATE TEMP TABLE documents AS {_documents_sql()}")
            except duckdb.Error as exc:
                raise SourceError(self.path, f"cannot be read: {exc}") from None
            where = con.sql('SELECT "where" FROM documents ORDER BY doc_no').to_arrow_table()
            self._where = where.column(0).combine_chunks()
            try:
                con.execute(f"CREATE TEMP TABLE fsraw AS {_fields_sql()}")
            except duckdb.Error as exc:
                raise SourceError(self.path, f"cannot be read: {exc}") from None
            table = _map(con, self._zone, self.known_extensions, self._pbx, self.path)
        self._progress(len(files), len(files))
        yield from raw_batches(table, self._pbx)


# --- mod_cdr_csv --------------------------------------------------------------------------


def _variable_name(raw: str) -> str | None:
    """A ``--columns`` name or template piece (``"${caller_id_number}"``) as a variable."""
    name = raw.strip().strip('"').strip()
    m = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}", name)
    if m:
        name = m.group(1)
    return name if name in VARIABLES else None


@dataclass
class FreeSwitchCsvSource(LegSource):
    """mod_cdr_csv records (the ``example`` template, or ``--columns``)."""

    format_name: ClassVar[str] = CSV_FORMAT

    _zone: ZoneInfo | None = field(default=None, init=False, repr=False)
    _pbx: str = field(default=DEFAULT_PBX_ID, init=False, repr=False)
    _names: tuple[str | None, ...] = field(default=(), init=False, repr=False)
    _label: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.columns:
            self._names = tuple(_variable_name(c) for c in self.columns)
            label = "--columns"
        else:
            self._names = tuple(n if n in VARIABLES else None for n in EXAMPLE_TEMPLATE)
            label = "the example template"
        self._label = label
        present = {n for n in self._names if n}
        missing = [n for n in ("uuid",) if n not in present]
        if not present & {"start_stamp", "start_epoch", "start_uepoch"}:
            missing.append("start_stamp (or start_epoch)")
        if not present & {"end_stamp", "end_epoch", "end_uepoch", "duration"}:
            missing.append("end_stamp (or duration)")
        if missing:
            raise SourceError(self.path, f"--columns lacks {', '.join(missing)}")
        epochs = present & {"start_epoch", "start_uepoch"}
        if self.source_tz or not epochs:
            self._zone = source_zone(
                self.path, self.source_tz, CSV_FORMAT, "mod_cdr_csv writes local times"
            )
        self._pbx = effective_pbx_id(self.path, self.pbx_id, DEFAULT_PBX_ID)

    def batches(self) -> Iterator[pa.RecordBatch]:
        regex_sql = fixed_fields_sql(self._names, VARIABLES, self._label)
        total = self.path.stat().st_size
        parts = []
        with scratch_connection() as con:
            for block, first_line in _blocks(self.path, self.on_progress):
                part = read_csv_block(con, block, first_line, self._names, VARIABLES, regex_sql)
                if part.num_rows:
                    parts.append(part)
            if not parts:
                return
            con.register("fsraw", pa.concat_tables(parts))
            table = _map(con, self._zone, self.known_extensions, self._pbx, self.path)
        self._progress(total, total)
        yield from raw_batches(table, self._pbx)


register_format(JSON_FORMAT, FreeSwitchJsonSource)
register_format(CSV_FORMAT, FreeSwitchCsvSource)

__all__ = [
    "EXAMPLE_TEMPLATE",
    "VARIABLES",
    "FreeSwitchCsvSource",
    "FreeSwitchJsonSource",
]
