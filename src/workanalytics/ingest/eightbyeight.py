"""8x8 ``/v2/call-legs`` JSON: the legs of 8x8's Work Analytics Historical API, as canonical legs.

Accepted documents (``--format 8x8-json``, the default for ``*.json``):

- one page envelope, as the API answers it: ``{"meta": {...}, "data": [leg, ...]}``;
- a bare JSON array of leg objects (the ``data`` array alone);
- a JSON array of page envelopes (several pages saved together);
- JSON Lines: one page envelope per line.

The terminal page ``{"meta": {"totalRecordCount": 0, "scrollId": "No Data"}, "data": []}``
is a valid page with no legs. ``meta`` is not read. Leg keys not listed below are ignored
(8x8 sends about fifty; ``--ignore-unknown`` has nothing to do here).

Mapping, one 8x8 leg to one canonical leg (``docs/adapters/8x8-call-legs.md`` has a worked
example):

====================  =======================================================================
canonical             from the 8x8 leg
====================  =======================================================================
pbx_id                ``pbxId``
call_id               ``callId``
leg_id                ``legId`` (a string such as ``"1"``, or an integer)
start_time            ``startTimeUTC`` (epoch ms)
end_time              ``disconnectedTimeUTC``; for an ``In Progress`` leg that has none yet,
                      its connect time, else its start time (stored, never counted, and
                      replaced when a later export brings the completed leg)
connect_time          ``connectTimeUTC`` only when ``talkTimeMS > 0`` and ``connectTimeUTC > 0``:
                      a service connect (voicemail, queue music) has talk 0 and is no answer
caller, callee        ``caller``, ``callee``, kept as sent (``"-"`` included)
caller_name, ...      ``callerName``, ``calleeName``
caller_ext            ``caller`` when it is an extension of that PBX (see below)
callee_ext            ``callee`` when it is an extension; else, when the callee is a service
                      acting for an extension (``calleeSvcName`` set, or a label naming the
                      ``lra`` such as ``"Voicemail (120088)"``), ``lra`` if that is an extension
abandoned             ``abandoned == "Abandoned"``, unless answered or sent to a voicemail service
voicemail             ``calleeSvcName`` starting ``VM``, or ``propsLastPartyDisp == "Voicemail"``
                      on a leg not marked abandoned; never on an answered leg
status                ``status`` (``Completed`` when absent)
hold_ms               ``calleeHoldDurationMS`` (0 when absent)
cause                 ``cause``
parent_call_id, ...   ``parentCallId``, ``transferToCallId``, ``dnis``, ``sipCallId``
====================  =======================================================================

Outcome precedence, so that every 8x8 leg obeys the canonical rules (answered excludes
abandoned and voicemail; abandoned and voicemail exclude each other):

1. answered (a person talked) wins over everything: ``propsLastPartyDisp`` describes the
   *last* party of the call, and an ``"Abandoned"`` marker beside real talk time is
   contradictory, so neither is applied to an answered leg;
2. a leg whose callee is a voicemail service is voicemail, even if marked ``"Abandoned"``
   (8x8: a leg that advanced to voicemail is "missed but not abandoned");
3. otherwise the leg's own ``"Abandoned"`` marker beats ``propsLastPartyDisp`` (a fact about
   this leg beats a fact about the call's last party).

Extensions: a party is an extension when (``pbxId``, party) is in ``known_extensions`` (the
store's directory, columns ``pbx_id``, ``extension``). For a PBX with no rows there (or when
``known_extensions`` is None), a party is an extension when it is 2 to 8 ASCII digits: a
guess that turns short external numbers into extensions and misses non-numeric extensions,
so importing the directory first is the reliable way.

Values: JSON ``null``, a missing key, ``""`` and (for optional text) ``"-"`` are empty; a time
of ``0`` is unset. Text fields take a string or an integer; times and durations must be JSON
integers. A value of another JSON type is reported on its row (``startTimeUTC must be an
integer (epoch ms), not a string``); a missing required field is reported by the canonical
checks under its canonical name (``start_time is required``).

Rows are located as ``file.json: data[17]`` (0-based, as in the JSON), ``file.json: page 2
data[3]`` in an array of pages, ``file.json: line 2 data[3]`` in JSON Lines and
``file.json: [17]`` in a bare array.

How it reads: the file is loaded whole (about five times its size in memory; 8x8 pages hold
at most 7,000 legs) and parsed once by DuckDB's ``json_transform`` into a list of legs whose
values stay JSON text. One SQL query then checks each value's JSON type, applies the mapping
above and joins the known extensions. No leg is looked at from Python; 100,000 legs read in
about a second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import duckdb
import numpy as np
import pyarrow as pa

from workanalytics.ingest.sources import (
    LegSource,
    SourceError,
    _to_raw,
    register_format,
)
from workanalytics.legs import (
    COLUMN_NAMES,
    LINE_COLUMN,
    SOURCE_ERROR_COLUMN,
    STATUS_IN_PROGRESS,
    lit,
    q,
)

FORMAT_NAME = "8x8-json"
#: What the file must be, for messages.
EXPECTED = (
    'expected 8x8 /v2/call-legs JSON: a page envelope {"meta": {...}, "data": [leg, ...]}, '
    "a JSON array of legs, an array of page envelopes, or JSON Lines of page envelopes"
)
#: A party with no directory for its PBX is an extension when it matches this.
FALLBACK_EXTENSION_PATTERN = r"[0-9]{2,8}"
BATCH_ROWS = 64 * 1024

FieldKind = Literal["text", "int"]

#: The 8x8 leg keys read, and the JSON types each accepts.
LEG_FIELDS: dict[str, FieldKind] = {
    "pbxId": "text",
    "callId": "text",
    "legId": "text",
    "startTimeUTC": "int",
    "connectTimeUTC": "int",
    "disconnectedTimeUTC": "int",
    "talkTimeMS": "int",
    "caller": "text",
    "callee": "text",
    "callerName": "text",
    "calleeName": "text",
    "lra": "text",
    "abandoned": "text",
    "calleeSvcName": "text",
    "propsLastPartyDisp": "text",
    "status": "text",
    "calleeHoldDurationMS": "int",
    "cause": "text",
    "parentCallId": "text",
    "transferToCallId": "text",
    "dnis": "text",
    "sipCallId": "text",
}
#: Text kept as sent even when it is ``"-"`` (identity and parties are required).
_KEEP_DASH = frozenset({"pbxId", "callId", "legId", "caller", "callee"})

#: JSON types by the first character of a value as DuckDB prints it (compact, so exact):
#: S string, I integer, D other number, B boolean, A array, O object, N null.
_TYPE_WORDS = {
    "S": "a string",
    "I": "an integer",
    "D": "a number with a fraction or exponent",
    "B": "a boolean",
    "A": "an array",
    "O": "an object",
    "N": "null",
}
_ACCEPTED_TYPES: dict[FieldKind, tuple[str, ...]] = {"text": ("S", "I"), "int": ("I",)}
_EXPECTED_TYPE: dict[str, str] = {
    "text": "a string",
    "int": "an integer",
    "startTimeUTC": "an integer (epoch ms)",
    "connectTimeUTC": "an integer (epoch ms)",
    "disconnectedTimeUTC": "an integer (epoch ms)",
    "talkTimeMS": "an integer (ms)",
    "calleeHoldDurationMS": "an integer (ms)",
    "legId": "a string or an integer",
}
#: DuckDB's ``json_type`` names, as people say them (for whole pages).
_JSON_TYPE_WORDS = {
    "VARCHAR": "a string",
    "BIGINT": "an integer",
    "UBIGINT": "an integer",
    "DOUBLE": "a number",
    "BOOLEAN": "a boolean",
    "ARRAY": "an array",
    "OBJECT": "an object",
    "NULL": "null",
}

_NOT_A_LEG = (
    "expected a call-leg object (with pbxId, callId, legId, startTimeUTC, "
    "disconnectedTimeUTC, caller, callee, ...)"
)
_PAGE_AMONG_LEGS = (
    "expected a leg object, not a page envelope (an array holds legs or pages, not both)"
)
#: ``json_transform`` structures: every leg value kept as its JSON text, to check its type.
_LEG_STRUCTURE = {key: "JSON" for key in LEG_FIELDS}
_ENVELOPE_STRUCTURE = json.dumps({"data": [_LEG_STRUCTURE]})
#: An element of a top-level array: a leg, or a page envelope.
_ELEMENTS_STRUCTURE = json.dumps([{**_LEG_STRUCTURE, "meta": "JSON", "data": [_LEG_STRUCTURE]}])

_MALFORMED = re.compile(r"Malformed JSON at byte (\d+) of input: (.*?)\.?\s+Input:", re.S)

Layout = Literal["envelope", "pages", "lines", "array"]


def _json_class(expr: str) -> str:
    """SQL: the :data:`_TYPE_WORDS` letter of a JSON text as DuckDB prints it, NULL for NULL."""
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL ELSE CASE left({expr}, 1) "
        f"WHEN '\"' THEN 'S' WHEN 'n' THEN 'N' WHEN 't' THEN 'B' "
        f"WHEN 'f' THEN 'B' WHEN '[' THEN 'A' WHEN '{{' THEN 'O' "
        f"ELSE CASE WHEN regexp_full_match({expr}, '-?[0-9]+') THEN 'I' ELSE 'D' END END END"
    )


def _type_word(letter: str) -> str:
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in _TYPE_WORDS.items())
    return f"CASE {letter} {cases} END"


def _first(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple | None:
    """The first row of a query, with the result read to its end (DuckDB 2 wants that)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _is_ext(party: str, hit: str) -> str:
    """SQL: ``party`` is an extension (directory hit, or the digits fallback)."""
    return (
        f"coalesce(CASE WHEN kp.pbx_id IS NOT NULL THEN {hit}.extension IS NOT NULL "
        f"ELSE regexp_full_match({party}, {lit(FALLBACK_EXTENSION_PATTERN)}) END, FALSE)"
    )


def _legs_sql() -> str:
    """SQL from ``legs(line, is_page, j_<key>...)`` (each 8x8 value as JSON text) to raw
    canonical columns, with the known extensions in ``known_ext`` and ``known_pbx``."""
    typed, oks, checks, vals = [], [], [], []
    for key, kind in LEG_FIELDS.items():
        j, ty = q("j_" + key), q("ty_" + key)
        typed.append(f"{j}, {_json_class(j)} AS {ty}")
        accepted = ", ".join(lit(t) for t in _ACCEPTED_TYPES[kind])
        oks.append(f"coalesce({ty} IN ('N', {accepted}), TRUE)")
        expected = _EXPECTED_TYPE.get(key, _EXPECTED_TYPE[kind])
        checks.append(
            f"CASE WHEN NOT {oks[-1]} THEN {lit(key + ' must be ' + expected + ', not ')} "
            f"|| {_type_word(ty)} END"
        )
        # Strings are unquoted by slicing unless they hold an escape; integers are as printed.
        string = f"CASE WHEN contains({j}, '\\') THEN {j} ->> '$' ELSE {j}[2:-2] END"
        if kind == "int":
            vals.append(f"CASE WHEN {ty} = 'I' THEN TRY_CAST({j} AS BIGINT) END AS {q(key)}")
            continue
        raw = f"trim(CASE {ty} WHEN 'S' THEN {string} WHEN 'I' THEN CAST({j} AS VARCHAR) END)"
        if key in _KEEP_DASH:
            vals.append(f"NULLIF({raw}, '') AS {q(key)}")
        else:
            vals.append(f"NULLIF(NULLIF({raw}, ''), '-') AS {q(key)}")
    # A row with none of the fields (not an object, or an object of something else) gets
    # one message rather than a list of every required column.
    nothing = "coalesce(" + ", ".join(q("j_" + k) for k in LEG_FIELDS) + ") IS NULL"
    source_error = (
        f"CASE WHEN is_page THEN {lit(_PAGE_AMONG_LEGS)} WHEN {nothing} THEN {lit(_NOT_A_LEG)} "
        f"WHEN {' AND '.join(oks)} THEN NULL ELSE concat_ws('; ', {', '.join(checks)}) END"
    )
    answered = "coalesce(talkTimeMS > 0 AND connectTimeUTC > 0, FALSE)"
    vm_service = "coalesce(starts_with(calleeSvcName, 'VM'), FALSE)"
    marked_abandoned = "coalesce(abandoned = 'Abandoned', FALSE)"
    last_party_vm = "coalesce(propsLastPartyDisp = 'Voicemail', FALSE)"
    lra_applies = (
        "(calleeSvcName IS NOT NULL OR coalesce(ends_with(callee, '(' || lra || ')'), FALSE))"
    )
    start = "CASE WHEN startTimeUTC <> 0 THEN startTimeUTC END"
    connect = f"CASE WHEN {answered} THEN connectTimeUTC END"
    end = (
        f"CASE WHEN disconnectedTimeUTC <> 0 THEN disconnectedTimeUTC "
        f"WHEN status = {lit(STATUS_IN_PROGRESS)} THEN coalesce({connect}, {start}) END"
    )
    out = {
        "pbx_id": "pbxId",
        "call_id": "callId",
        "leg_id": "legId",
        "start_time": start,
        "connect_time": connect,
        "end_time": end,
        "caller": "caller",
        "callee": "callee",
        "caller_ext": f"CASE WHEN {_is_ext('caller', 'k_caller')} THEN caller END",
        "callee_ext": (
            f"CASE WHEN {_is_ext('callee', 'k_callee')} THEN callee "
            f"WHEN {lra_applies} AND {_is_ext('lra', 'k_lra')} THEN lra END"
        ),
        "abandoned": f"NOT {answered} AND {marked_abandoned} AND NOT {vm_service}",
        "voicemail": (
            f"NOT {answered} AND ({vm_service} OR ({last_party_vm} AND NOT {marked_abandoned}))"
        ),
        "status": "status",
        "caller_name": "callerName",
        "callee_name": "calleeName",
        "hold_ms": "calleeHoldDurationMS",
        "cause": "cause",
        "parent_call_id": "parentCallId",
        "transfer_to_call_id": "transferToCallId",
        "dnis": "dnis",
        "sip_call_id": "sipCallId",
    }
    assert tuple(out) == COLUMN_NAMES
    cols = ",\n  ".join(f"CAST(({expr}) AS VARCHAR) AS {q(name)}" for name, expr in out.items())
    joins = "\n".join(
        f"LEFT JOIN known_ext {q('k_' + party)} ON {q('k_' + party)}.pbx_id = f.pbxId "
        f"AND {q('k_' + party)}.extension = f.{party}"
        for party in ("caller", "callee", "lra")
    )
    return f"""
WITH typed AS (SELECT line, is_page, {", ".join(typed)} FROM legs),
f AS (SELECT line, {source_error} AS source_error, {", ".join(vals)} FROM typed)
SELECT {cols},
  line AS {q(LINE_COLUMN)}, source_error AS {q(SOURCE_ERROR_COLUMN)}
FROM f
LEFT JOIN known_pbx kp ON kp.pbx_id = f.pbxId
{joins}
ORDER BY line
"""


_LEGS_SQL = _legs_sql()


@dataclass
class EightByEightSource(LegSource):
    """8x8 ``/v2/call-legs`` JSON pages (see the module docstring for the mapping)."""

    format_name: ClassVar[str] = FORMAT_NAME
    # ``known_extensions`` (from LegSource): (pbx_id, extension) rows; see the docstring.

    #: How the last read file was laid out, and where each page's legs start in ``_line``.
    _layout: Layout = field(default="envelope", init=False, repr=False)
    _page_starts: np.ndarray = field(
        default_factory=lambda: np.zeros(1, dtype=np.int64), init=False, repr=False
    )
    _page_labels: list[int] = field(default_factory=list, init=False, repr=False)

    # --- messages ----------------------------------------------------------------------

    def locate(self, line: int) -> str:
        """``file.json: data[17]``, ``page 2 data[3]``, ``line 2 data[3]`` or ``[17]``."""
        page = max(int(np.searchsorted(self._page_starts, line, side="left")) - 1, 0)
        idx = line - int(self._page_starts[page]) - 1
        if self._layout == "array":
            return f"{self.path}: [{idx}]"
        if self._layout == "envelope":
            return f"{self.path}: data[{idx}]"
        label = self._page_labels[page] if page < len(self._page_labels) else page + 1
        word = "line" if self._layout == "lines" else "page"
        return f"{self.path}: {word} {label} data[{idx}]"

    def _fail(self, message: str) -> SourceError:
        return SourceError(self.path, message)

    # --- reading -----------------------------------------------------------------------

    def _document(self) -> tuple[bytes, pa.Table]:
        """The file as ``(page, page_text)``: one UTF-8 text cell, without a byte-order mark."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise self._fail(f"cannot be read: {exc.strerror or exc}") from None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if not data.strip():
            raise self._fail(f"the file is empty; {EXPECTED}")
        offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
        try:
            text = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
            text = text.cast(pa.large_string())
        except pa.ArrowInvalid:
            raise self._fail(f"not UTF-8 text; {EXPECTED}") from None
        return data, pa.table({"page": pa.array([1], pa.int64()), "page_text": text})

    def _malformed(self, exc: duckdb.Error, data: bytes) -> SourceError:
        m = _MALFORMED.search(str(exc))
        if m is None:
            return self._fail(f"not valid JSON ({exc}); {EXPECTED}")
        pos = int(m.group(1))
        line = data.count(b"\n", 0, pos) + 1
        col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
        return self._fail(f"not valid JSON: {m.group(2)} at line {line} column {col}; {EXPECTED}")

    def _looks_like_lines(self, con: duckdb.DuckDBPyConnection, data: bytes) -> bool:
        """The first line alone is a whole JSON value (the document starts with ``{``)."""
        first = data.lstrip().split(b"\n", 1)[0].decode("utf-8", "replace")
        return bool(_first(con, "SELECT json_valid($t)", {"t": first})[0])

    def _lines_as_pages(self, con: duckdb.DuckDBPyConnection, data: bytes) -> pa.Table:
        """JSON Lines of envelopes: one page per non-blank line (a loop per page, not leg)."""
        rows = [
            (n, text)
            for n, text in enumerate(data.decode("utf-8").split("\n"), start=1)
            if text.strip()
        ]
        pages = pa.table(
            {
                "page": pa.array([n for n, _ in rows], pa.int64()),
                "page_text": pa.array([t for _, t in rows], pa.large_string()),
            }
        )
        con.register("line_pages", pages)
        bad = _first(
            con, "SELECT page FROM line_pages WHERE NOT json_valid(page_text) ORDER BY page LIMIT 1"
        )
        if bad is not None:
            raise self._fail(f"line {bad[0]}: not valid JSON; {EXPECTED}")
        return pages

    def _not_an_envelope(self, ty: str | None, data_ty: str | None, where: str) -> SourceError:
        if ty != "OBJECT":
            found = f"found {_JSON_TYPE_WORDS.get(ty or 'NULL', str(ty).lower())}"
        elif data_ty is None:
            found = 'found an object without "data"'
        else:
            found = f'found "data" holding {_JSON_TYPE_WORDS.get(data_ty, data_ty.lower())}'
        return self._fail(f"{where}{found}; {EXPECTED}")

    def _object_pages(self, con: duckdb.DuckDBPyConnection, pages: str) -> None:
        """``page_data(page, data)`` from a relation of envelope texts ``(page, page_text)``."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE page_data AS SELECT page, "
            f"json_transform(page_text, {lit(_ENVELOPE_STRUCTURE)}).data AS data FROM {pages}"
        )
        bad = _first(
            con,
            "SELECT p.page, json_type(p.page_text), json_type(p.page_text, '$.data') "
            f"FROM {pages} p JOIN page_data d USING (page) WHERE d.data IS NULL "
            "ORDER BY p.page LIMIT 1",
        )
        if bad is not None:
            page, ty, data_ty = bad
            where = f"line {page}: " if self._layout == "lines" else ""
            raise self._not_an_envelope(ty, data_ty, where)

    def _array_elements(self, con: duckdb.DuckDBPyConnection, data: bytes) -> None:
        """A top-level array: ``page_data`` when it holds pages, else ``legs`` directly."""
        try:
            con.execute(
                "CREATE TEMP TABLE elems AS SELECT generate_subscripts(e, 1) AS pos, "
                "unnest(e) AS el FROM "
                f"(SELECT json_transform(page_text, {lit(_ELEMENTS_STRUCTURE)}) AS e FROM doc)"
            )
        except duckdb.InvalidInputException as exc:
            raise self._malformed(exc, data) from None
        first = _first(con, "SELECT el.data IS NOT NULL FROM elems WHERE pos = 1")
        if first is not None and first[0]:
            self._layout = "pages"
            con.execute(
                "CREATE TEMP TABLE page_data AS SELECT pos AS page, el.data AS data FROM elems"
            )
            bad = _first(con, "SELECT min(page) FROM page_data WHERE data IS NULL")[0]
            if bad is not None:
                ty, data_ty = _first(
                    con,
                    "SELECT json_type(page_text, $p), json_type(page_text, $p || '.data') FROM doc",
                    {"p": f"$[{bad - 1}]"},
                )
                raise self._not_an_envelope(ty, data_ty, f"page {bad}: ")
            return
        self._layout = "array"
        fields = ", ".join(f"el.{q(k)} AS {q('j_' + k)}" for k in LEG_FIELDS)
        con.execute(
            "CREATE TEMP TABLE legs AS SELECT pos AS line, "
            f"el.data IS NOT NULL AND el.meta IS NOT NULL AS is_page, {fields} FROM elems"
        )

    def _legs_of_pages(self, con: duckdb.DuckDBPyConnection) -> None:
        """``legs`` from ``page_data``, numbered in file order across pages."""
        sizes = con.execute("SELECT page, len(data) FROM page_data ORDER BY page").fetchall()
        self._page_labels = [p for p, _ in sizes]
        counts = np.array([n for _, n in sizes], dtype=np.int64)
        self._page_starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        starts = pa.table(
            {
                "page": pa.array(self._page_labels, pa.int64()),
                "page_start": pa.array(self._page_starts[: len(sizes)], pa.int64()),
            }
        )
        con.register("page_starts", starts)
        fields = ", ".join(f"s.{q(k)} AS {q('j_' + k)}" for k in LEG_FIELDS)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE legs AS SELECT page_start + pos AS line, "
            f"FALSE AS is_page, {fields} FROM ("
            "SELECT page, generate_subscripts(data, 1) AS pos, unnest(data) AS s "
            "FROM page_data) JOIN page_starts USING (page)"
        )
        con.unregister("page_starts")

    def _stage_legs(self, con: duckdb.DuckDBPyConnection) -> int:
        """Read the file into ``legs``; remember its layout for messages. Returns its size."""
        data, doc = self._document()
        self._progress(0, len(data))
        con.register("doc", doc)
        first = data.lstrip()[:1]
        self._page_starts = np.zeros(1, dtype=np.int64)
        self._page_labels = [1]
        if first == b"{":
            self._layout = "envelope"
            try:
                self._object_pages(con, "doc")
            except duckdb.InvalidInputException as exc:
                if not self._looks_like_lines(con, data):
                    raise self._malformed(exc, data) from None
                self._layout = "lines"
                con.register("line_pages", self._lines_as_pages(con, data))
                self._object_pages(con, "line_pages")
                con.unregister("line_pages")
            self._legs_of_pages(con)
        elif first == b"[":
            self._array_elements(con, data)
            if self._layout == "pages":
                self._legs_of_pages(con)
        else:
            raise self._fail(f"does not start with {{ or [; {EXPECTED}")
        con.unregister("doc")
        return len(data)

    def _register_known(self, con: duckdb.DuckDBPyConnection) -> None:
        known = self.known_extensions
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
            "CREATE TEMP TABLE known_ext AS SELECT DISTINCT CAST(pbx_id AS VARCHAR) AS pbx_id, "
            "trim(CAST(extension AS VARCHAR)) AS extension FROM known_in "
            "WHERE pbx_id IS NOT NULL AND extension IS NOT NULL"
        )
        con.execute("CREATE TEMP TABLE known_pbx AS SELECT DISTINCT pbx_id FROM known_ext")
        con.unregister("known_in")

    def batches(self) -> Iterator[pa.RecordBatch]:
        con = duckdb.connect()
        try:
            total = self._stage_legs(con)
            self._register_known(con)
            try:
                table = con.sql(_LEGS_SQL).to_arrow_table()
            except duckdb.Error as exc:
                raise self._fail(f"cannot be read: {exc}") from None
        finally:
            con.close()
        raw = _to_raw(
            table,
            table.column(LINE_COLUMN).combine_chunks(),
            table.column(SOURCE_ERROR_COLUMN).combine_chunks(),
        )
        for start in range(0, raw.num_rows, BATCH_ROWS):
            yield raw.slice(start, BATCH_ROWS)
        self._progress(total, total)


register_format(FORMAT_NAME, EightByEightSource)

__all__ = ["FALLBACK_EXTENSION_PATTERN", "LEG_FIELDS", "EightByEightSource"]
