"""Readers that turn a file into *raw* canonical legs, as a stream of Arrow batches.

Every reader yields the same schema: each canonical column as text, ``_line`` (where the row
stands in its file, for messages) and ``_source_error`` (what the reader itself could not
make sense of). Typing and the leg rules are applied afterwards, once, by
:func:`workanalytics.legs.validated_select`, so every format is checked the same way.

A reader whose file already holds a column in its store type (Parquet timestamps, integers
and booleans) hands it over typed instead (:attr:`LegSource.typed_columns`), which spares
writing it out as text only to parse it back; the rules and their messages are the same.

Readers stream in blocks: a file of any size is read with bounded memory.
"""

from __future__ import annotations

import csv
import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workanalytics.legs import (
    COLUMN_NAMES,
    COLUMNS,
    LINE_COLUMN,
    REQUIRED_COLUMNS,
    SOURCE_ERROR_COLUMN,
    ColumnKind,
    lit,
    q,
)

RAW_SCHEMA = pa.schema(
    [pa.field(name, pa.string()) for name in COLUMN_NAMES]
    + [pa.field(LINE_COLUMN, pa.int64()), pa.field(SOURCE_ERROR_COLUMN, pa.string())]
)
#: The Arrow type of a column handed over typed, by kind: the store's SQL type.
TYPED_ARROW_TYPES: dict[ColumnKind, pa.DataType] = {
    "instant": pa.int64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
_KINDS: dict[str, ColumnKind] = {c.name: c.kind for c in COLUMNS}


def raw_schema(typed: frozenset[str] = frozenset()) -> pa.Schema:
    """:data:`RAW_SCHEMA`, with the columns named in ``typed`` in their store type."""
    if not typed:
        return RAW_SCHEMA
    return pa.schema(
        [
            pa.field(n, TYPED_ARROW_TYPES[_KINDS[n]] if n in typed else pa.string())
            for n in COLUMN_NAMES
        ]
        + [pa.field(LINE_COLUMN, pa.int64()), pa.field(SOURCE_ERROR_COLUMN, pa.string())]
    )


BLOCK_BYTES = 16 << 20
#: Blocks of a canonical CSV file. pyarrow's streaming reader parses about forty blocks
#: ahead of its reader, so memory grows with the block: 16 MB blocks held 630 MB of Arrow
#: memory and took an ingest of ten million legs past 1.5 GB. 2 MB is as fast.
CSV_BLOCK_BYTES = 2 << 20
#: Blocks grow up to this for a record longer than a block (a multi-megabyte field).
CSV_MAX_BLOCK_BYTES = 1 << 30
PARQUET_BATCH_ROWS = 256 * 1024
#: Rows of a DuckDB row group, the grain at which zone maps find a window's legs. A stream
#: reaches DuckDB in batches of exactly this many rows (:meth:`LegSource.reader`).
ROW_GROUP_ROWS = 122_880
#: A stream's batch is handed over early past this many bytes: no string column of a
#: combined batch may reach Arrow's 2 GB, whatever the length of the file's fields.
STREAM_BATCH_MAX_BYTES = 256 << 20

#: Called with (bytes or rows done, total) as a reader advances.
ProgressCallback = Callable[[int, int], None]


class SourceError(ValueError):
    """The file as a whole cannot be read (wrong columns, not the format it claims...)."""

    def __init__(self, path: Path, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass
class LegSource(ABC):
    """One input file and how to read it."""

    path: Path
    ignore_unknown: bool = False
    on_progress: ProgressCallback | None = field(default=None, repr=False)
    #: (pbx_id, extension) rows of the directory, for formats whose rows do not say which
    #: parties are extensions (8x8 legs). Canonical formats ignore it.
    known_extensions: pa.Table | None = field(default=None, repr=False)
    #: ``--source-tz``: the IANA zone of local times written without an offset (Asterisk and
    #: FreeSWITCH CDRs). Canonical formats ignore it.
    source_tz: str | None = None
    #: ``--columns``: the column names of a header-less file (an Asterisk ``cdr_custom``
    #: file). Canonical formats ignore it.
    columns: list[str] | None = None
    #: The PBX the legs are stored under, for formats whose rows do not name one (PBX CDRs);
    #: None means the format's default. Canonical formats ignore it.
    pbx_id: str | None = None

    #: Name used by ``--format``.
    format_name: ClassVar[str] = ""
    #: The format reads a folder of files as one source (FreeSWITCH JSON CDRs).
    reads_folders: ClassVar[bool] = False
    #: The :class:`SourceError` that stopped the last :meth:`reader`, if any.
    failure: SourceError | None = field(default=None, init=False, repr=False)

    @property
    def typed_columns(self) -> frozenset[str]:
        """The canonical columns this source hands over in their store type, not as text:
        instants as epoch ms (int64), whole numbers as int64, booleans as bool. See
        :func:`workanalytics.legs.validated_select`."""
        return frozenset()

    @property
    def raw_schema(self) -> pa.Schema:
        """The schema of :meth:`batches`."""
        return raw_schema(self.typed_columns)

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Raw batches in :attr:`raw_schema`; raises :class:`SourceError` for a bad file."""

    def native_scan(self) -> str | None:
        """A DuckDB query reading the rows of :meth:`batches` from the file itself, or None
        when the batches must come from Python (:meth:`reader`). DuckDB reads a file on
        every core, where a stream from Python reaches it on one."""
        return None

    def reader(self) -> pa.RecordBatchReader:
        """The batches as a stream a query engine can scan.

        An engine reports a failure inside a stream as its own error; the reader's own
        :class:`SourceError` is kept in :attr:`failure` so the caller can report that instead.
        """
        self.failure = None

        def guarded() -> Iterator[pa.RecordBatch]:
            try:
                yield from in_row_groups(self.batches(), self.raw_schema)
            except SourceError as exc:
                self.failure = exc
                raise

        return pa.RecordBatchReader.from_batches(self.raw_schema, guarded())

    def locate(self, line: int) -> str:
        """Where a row stands, as people read it: ``legs.csv:17``."""
        return f"{self.path}:{line}"

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)

    def _check_columns(self, names: list[str]) -> None:
        missing = sorted(REQUIRED_COLUMNS - set(names))
        if missing:
            raise SourceError(self.path, f"missing required column(s): {', '.join(missing)}")
        unknown = [n for n in names if n not in COLUMN_NAMES]
        if unknown and not self.ignore_unknown:
            raise SourceError(
                self.path,
                f"unknown column(s): {', '.join(unknown)} "
                "(expected canonical leg columns; --ignore-unknown skips them)",
            )
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SourceError(self.path, f"column(s) named twice: {', '.join(dupes)}")


def in_row_groups(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The same rows, in the same order, in batches of :data:`ROW_GROUP_ROWS` (the last one
    shorter, and one cut short wherever :data:`STREAM_BATCH_MAX_BYTES` is reached, so that
    no batch holds more than that and one batch of ``batches``).

    DuckDB keeps a stream's order by its batches: batches of a row group each become whole
    row groups of the staged table, where small ones (a CSV block is ten thousand rows) are
    first written apart and then copied together. At ten million legs from CSV that copy
    cost 2 s, and its row groups each spanned twice the time they would in file order.
    Copying small batches together here costs memory instead: about 0.15 GB more at the
    peak of a CSV ingest.
    """
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        pending.append(batch)
        rows, size = rows + batch.num_rows, size + batch.nbytes
        if rows < ROW_GROUP_ROWS and size < STREAM_BATCH_MAX_BYTES:
            continue
        table = pa.Table.from_batches(pending, schema)
        whole = rows - rows % ROW_GROUP_ROWS
        for start in range(0, whole, ROW_GROUP_ROWS):
            yield _one_batch(table.slice(start, ROW_GROUP_ROWS))
        rest = table.slice(whole)
        pending, rows, size = rest.to_batches(), rest.num_rows, rest.nbytes
        if rows and size >= STREAM_BATCH_MAX_BYTES:  # never carried on past the cap
            yield _one_batch(rest)
            pending, rows, size = [], 0, 0
    if rows:
        yield _one_batch(pa.Table.from_batches(pending, schema))


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    """A table of any number of chunks as one record batch: copied together where it is in
    several pieces, as it is where it is in one."""
    return pa.RecordBatch.from_arrays(
        [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in table.columns],
        schema=table.schema,
    )


def _to_raw(
    table: pa.Table,
    lines: pa.Array,
    errors: pa.Array | None = None,
    schema: pa.Schema = RAW_SCHEMA,
) -> pa.RecordBatch:
    """Reshape a table of text (or typed) columns into ``schema`` (absent columns as nulls)."""
    n = len(lines)
    arrays = []
    for name in COLUMN_NAMES:
        kind = schema.field(name).type
        if name in table.column_names:
            arrays.append(table.column(name).combine_chunks().cast(kind))
        else:
            arrays.append(pa.nulls(n, kind))
    arrays.append(lines)
    arrays.append(errors if errors is not None else pa.nulls(n, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class CsvSource(LegSource):
    """Canonical CSV: a header naming the columns (any order), then one leg per line."""

    format_name = "csv"

    def locate(self, line: int) -> str:
        return f"{self.path}:{line}"

    def _header(self) -> list[str]:
        with open(self.path, newline="", encoding="utf-8-sig") as fh:
            try:
                header = next(csv.reader(fh))
            except StopIteration:
                raise SourceError(self.path, "the file is empty; expected a header row") from None
            except (UnicodeDecodeError, csv.Error) as exc:
                raise SourceError(self.path, f"line 1: cannot read the header: {exc}") from None
        return [h.strip() for h in header]

    def batches(self) -> Iterator[pa.RecordBatch]:
        names = self._header()
        self._check_columns(names)
        total = self.path.stat().st_size
        block = CSV_BLOCK_BYTES
        reader = self._reader(names, block, skip_rows=1)
        next_line = 2  # line 1 is the header; one record per line
        done = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                # A record longer than about two blocks: read on from it in bigger ones.
                if "straddl" in str(exc) and block < CSV_MAX_BLOCK_BYTES:
                    block *= 8
                    reader = self._reader(names, block, skip_rows=next_line - 1)
                    continue
                raise SourceError(self.path, f"near line {next_line}: {exc}") from None
            n = batch.num_rows
            lines = pa.array(np.arange(next_line, next_line + n, dtype=np.int64))
            next_line += n
            done += batch.nbytes
            self._progress(min(done, total), total)
            table = pa.Table.from_batches([batch])
            # A column without nulls means no row is blank: no need to look at every cell.
            if n and table.num_columns and all(c.null_count for c in table.columns):
                filled = functools.reduce(pc.or_, (pc.is_valid(c) for c in table.columns))
                if not pc.all(filled).as_py():
                    table, lines = table.filter(filled), lines.filter(filled.combine_chunks())
            yield _to_raw(table, lines)
        self._progress(total, total)

    def _reader(self, names: list[str], block: int, skip_rows: int) -> pacsv.CSVStreamingReader:
        """Arrow's reader of the file's records as text, from line ``skip_rows + 1``."""
        try:
            return pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(
                    column_names=names, skip_rows=skip_rows, block_size=block
                ),
                # Blank lines come back as rows of nulls (dropped by the caller), so that the
                # line numbers of the rows after them stay true.
                parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=True,
                    # Only an empty field: Arrow's default also nulls NA, NULL, nan, N/A...
                    null_values=[""],
                    quoted_strings_can_be_null=False,
                    include_columns=[n for n in names if n in COLUMN_NAMES],
                ),
            )
        except pa.ArrowInvalid as exc:
            raise SourceError(self.path, f"not a readable CSV file: {exc}") from None


def _split_lines(block: bytes, first_line: int) -> tuple[pa.Array, pa.Array]:
    """Lines of a block of text, with their line numbers, without a Python loop per line."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 0x0A)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    if len(stops) and stops[-1] == starts[-1]:  # nothing after the last newline
        starts, stops = starts[:-1], stops[:-1]
    offsets = np.empty(len(starts) + 1, dtype=np.int64)
    offsets[:-1] = starts
    offsets[-1] = len(data)
    # Each line spans [start, next start); the newline is stripped below.
    texts = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(offsets.tobytes()), pa.py_buffer(block)
    )
    texts = pc.utf8_rtrim(texts.cast(pa.large_binary()).cast(pa.large_string()), characters="\r\n")
    numbers = pa.array(np.arange(first_line, first_line + len(starts), dtype=np.int64))
    return texts, numbers


def _blocks(path: Path, on_progress: ProgressCallback | None) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines, each with the number of its first line."""
    total = path.stat().st_size
    done = 0
    line = 1
    carry = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(BLOCK_BYTES)
            if not chunk:
                break
            done += len(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            yield block, line
            line += block.count(b"\n")
            if on_progress:
                on_progress(done, total)
    if carry:
        yield carry, line


#: What a blank line may hold (JSON's own whitespace); DuckDB's trim() strips only spaces.
JSON_WHITESPACE = " \t\r\n"


def jsonl_fields_sql(ignore_unknown: bool) -> str:
    """SQL over ``lines(text, line)``: each line's canonical fields as text, ``_line`` and
    ``_source_error``. JSON scalars of any type become their text; JSON null becomes NULL.

    The fields come from two whole-line parses, ``json_transform`` to JSON values and to
    text, not from three per field (ten million legs took 219 s that way, 59 s this way).
    A string's field is its text (unescaped); any other value's is its JSON, which writes
    numbers as ``json_extract`` does (the text transform writes 1e308 as 1e+308).
    """
    known = "[" + ", ".join(lit(n) for n in COLUMN_NAMES) + "]"
    unknown = f"list_filter(keys, lambda k: NOT list_contains({known}, k))"
    unknown_check = (
        "NULL"
        if ignore_unknown
        else (
            f"CASE WHEN len({unknown}) > 0 THEN 'unknown key(s): ' || "
            f"array_to_string({unknown}, ', ') || ' (--ignore-unknown skips them)' END"
        )
    )

    def shape(kind: str) -> str:
        return lit(json.dumps(dict.fromkeys(COLUMN_NAMES, kind)))

    def field(n: str) -> str:
        value = f"j.{q(n)}::VARCHAR"
        # JSON null is SQL NULL here already; a string's JSON starts with its quote.
        return f"CASE WHEN left({value}, 1) = '\"' THEN s.{q(n)} ELSE {value} END AS {q(n)}"

    cols = ",\n".join(field(n) for n in COLUMN_NAMES)
    # Invalid lines are swapped for '{}' first: DuckDB may evaluate every branch of a CASE,
    # and the JSON functions throw on malformed input.
    return f"""
        SELECT {cols}, line AS {q(LINE_COLUMN)},
          CASE WHEN NOT valid THEN 'not valid JSON'
               WHEN NOT ok THEN 'expected a JSON object'
               ELSE {unknown_check} END AS {q(SOURCE_ERROR_COLUMN)}
        FROM (SELECT json_transform(text, {shape("JSON")}) AS j,
            json_transform(text, {shape("VARCHAR")}) AS s,
            json_keys(text) AS keys, line, valid, ok
          FROM (SELECT CASE WHEN ok THEN safe ELSE '{{}}' END AS text, line, valid, ok
            FROM (SELECT safe, line, valid, valid AND json_type(safe) = 'OBJECT' AS ok
              FROM (SELECT CASE WHEN valid THEN text ELSE '{{}}' END AS safe, line, valid
                FROM (SELECT text, line, json_valid(text) AS valid FROM lines
                      WHERE {not_blank_sql("text", JSON_WHITESPACE)})))))
    """


def not_blank_sql(text: str, whitespace: str) -> str:
    """SQL: ``text`` holds more than ``whitespace``. trim() copies every line it is given (a
    third of the time of reading JSON Lines); most lines start with something else, and
    those it is not given."""
    firsts = ", ".join(lit(c) for c in whitespace)
    return (
        f"(({text} <> '' AND left({text}, 1) NOT IN ({firsts})) "
        f"OR trim({text}, {lit(whitespace)}) <> '')"
    )


#: Lines per batch handed to DuckDB to parse.
JSONL_BATCH_LINES = 8192


class JsonLinesSource(LegSource):
    """Canonical JSON Lines: one object per line with the canonical keys."""

    format_name = "jsonl"

    def batches(self) -> Iterator[pa.RecordBatch]:
        con = duckdb.connect()
        sql = jsonl_fields_sql(self.ignore_unknown)
        for block, first_line in _blocks(self.path, self.on_progress):
            texts, numbers = _split_lines(block, first_line)
            # In several batches, which DuckDB parses on every core (one batch: on one).
            lines = pa.Table.from_batches(  # noqa: F841 (read by DuckDB)
                pa.table({"text": texts, "line": numbers}).to_batches(JSONL_BATCH_LINES)
            )
            try:
                table = con.sql(sql).to_arrow_table()
            except duckdb.Error as exc:
                raise SourceError(self.path, f"near line {first_line}: {exc}") from None
            if table.num_rows:
                yield _to_raw(
                    table,
                    table.column(LINE_COLUMN).combine_chunks(),
                    table.column(SOURCE_ERROR_COLUMN).combine_chunks(),
                )
        con.close()


def _text_column(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as canonical text: instants as epoch ms, booleans as true/false."""
    t = array.type
    if pa.types.is_timestamp(t):
        # Floored first: a plain cast from us/ns refuses any sub-millisecond digits.
        floored = pc.floor_temporal(array, unit="millisecond")
        return pc.cast(pc.cast(floored, pa.timestamp("ms", tz=t.tz)), pa.int64()).cast(pa.string())
    if pa.types.is_dictionary(t):
        return array.cast(t.value_type).cast(pa.string())
    return array.cast(pa.string())


#: Integer types every value of which an int64 holds.
_WHOLE_NUMBER_TYPES = (
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
)
#: Stored units per millisecond, of the timestamp units finer than one.
_PER_MS = {"us": 1_000, "ns": 1_000_000}


def _comes_typed(kind: ColumnKind, t: pa.DataType) -> bool:
    """Whether a Parquet column of type ``t`` can be handed over in its store type as is."""
    if kind == "instant":
        return pa.types.is_timestamp(t) or t in _WHOLE_NUMBER_TYPES
    if kind == "int":
        return t in _WHOLE_NUMBER_TYPES
    if kind == "bool":
        return pa.types.is_boolean(t)
    return False


def _epoch_ms(array: pa.Array) -> pa.Array:
    """A timestamp column (any unit, any zone or none) as epoch ms, floored like its text."""
    unit = array.type.unit
    values = array.cast(pa.int64())  # the stored count of units since the epoch
    if unit == "ms":
        return values
    if unit == "s":
        return pc.multiply_checked(values, 1000)
    per_ms = _PER_MS[unit]
    # Integer division truncates towards zero; a negative instant between two whole
    # milliseconds belongs to the earlier one.
    quotient = pc.divide(values, per_ms)
    return pc.if_else(
        pc.greater(pc.multiply(quotient, per_ms), values), pc.subtract(quotient, 1), quotient
    )


#: Per Parquet time unit: DuckDB's epoch function for it, and the widest stored count it
#: reads as is (beyond, it refuses a millisecond count; at the int64 extremes it reads an
#: infinity).
_PARQUET_UNITS = {
    "milliseconds": ("us", 10**15),
    "microseconds": ("us", 10**18),
    "nanoseconds": ("ns", 2**63 - 2),
}


def _instant_unit_within_bounds(pf: pq.ParquetFile, name: str) -> str | None:
    """The unit DuckDB gives ``name``'s timestamps in (``us`` or ``ns``), if the file's
    statistics show every stored count within what it reads as is; else None."""
    meta = pf.metadata
    found = [i for i in range(meta.num_columns) if meta.schema.column(i).path == name]
    if len(found) != 1:
        return None
    column = meta.schema.column(found[0])
    logical = json.loads(column.logical_type.to_json() or "{}")
    if column.physical_type != "INT64" or logical.get("timeUnit") not in _PARQUET_UNITS:
        return None
    unit, widest = _PARQUET_UNITS[logical["timeUnit"]]
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(found[0])
        stats = chunk.statistics
        if stats is None:
            return None
        if not stats.has_min_max:
            if stats.null_count == chunk.num_values:
                continue  # nothing but nulls
            return None
        if not -widest <= stats.min_raw <= stats.max_raw <= widest:
            return None
    return unit


def _floor_div_sql(value: str, by: int) -> str:
    """``value`` divided by ``by``, floored (DuckDB's ``//`` truncates towards zero)."""
    return f"(({value}) // {by} - CASE WHEN ({value}) % {by} < 0 THEN 1 ELSE 0 END)"


#: What DuckDB's read_parquet takes as a pattern of several files.
_GLOB_CHARACTERS = "*?[{"
#: The column read_parquet adds with each row's place in the file.
_ROW_NUMBER = "file_row_number"


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _typed_column(array: pa.Array) -> pa.Array:
    """A Parquet column that :func:`_comes_typed` in its store type."""
    if pa.types.is_timestamp(array.type):
        return _epoch_ms(array)
    if pa.types.is_boolean(array.type):
        return array
    return array.cast(pa.int64())


def _typed_in(schema: pa.Schema) -> frozenset[str]:
    """The canonical columns of a Parquet schema that :func:`_comes_typed`."""
    return frozenset(
        f.name for f in schema if f.name in _KINDS and _comes_typed(_KINDS[f.name], f.type)
    )


class ParquetSource(LegSource):
    """Canonical Parquet: the same column names; instants as UTC timestamps or epoch ms.

    Timestamp, integer and boolean columns are handed over typed; a column of any other
    type (an instant written as text, say) goes as text, like a CSV cell.
    """

    format_name = "parquet"

    def locate(self, line: int) -> str:
        return f"{self.path}: row {line}"

    @functools.cached_property
    def typed_columns(self) -> frozenset[str]:
        try:
            return _typed_in(pq.read_schema(self.path))
        except (pa.ArrowInvalid, OSError):
            return frozenset()  # batches() says what is wrong with the file

    def native_scan(self) -> str | None:
        """DuckDB's own Parquet reader, wherever it is sure to give what :meth:`batches`
        gives: text columns, and typed ones whose statistics keep every instant within what
        DuckDB's timestamps hold as is (it turns the extremes into infinities, or refuses
        them, where the text rule names the row). Anything else goes through pyarrow: other
        column types, and a path DuckDB would read as more than this one file (a glob
        character in its name)."""
        if any(c in str(self.path) for c in _GLOB_CHARACTERS):
            return None
        try:
            with pq.ParquetFile(self.path) as pf:
                return self._native_scan_of(pf)
        except (pa.ArrowInvalid, OSError):
            return None  # batches() says what is wrong with the file

    def _native_scan_of(self, pf: pq.ParquetFile) -> str | None:
        schema = pf.schema_arrow
        self._check_columns(schema.names)
        typed = self.typed_columns
        if typed != _typed_in(schema) or any(n.lower() == _ROW_NUMBER for n in schema.names):
            return None
        present = {f.name: f.type for f in schema if f.name in COLUMN_NAMES}
        items = []
        for name in COLUMN_NAMES:
            t, col = present.get(name), q(name)
            if t is None:
                expr = "CAST(NULL AS VARCHAR)"
            elif name in typed and pa.types.is_timestamp(t):
                unit = _instant_unit_within_bounds(pf, name)
                if unit is None:
                    return None
                expr = _floor_div_sql(f"epoch_{unit}({col})", _PER_MS[unit])
            elif name in typed:
                expr = col if pa.types.is_boolean(t) else f"CAST({col} AS BIGINT)"
            elif _is_text(t):
                expr = f"CAST({col} AS VARCHAR)"
            else:
                return None  # written as text the way pyarrow writes it, by batches()
            items.append(f"{expr} AS {col}")
        items.append(f"{_ROW_NUMBER} + 1 AS {q(LINE_COLUMN)}")
        items.append(f"CAST(NULL AS VARCHAR) AS {q(SOURCE_ERROR_COLUMN)}")
        # Folders named like ``pbx_id=x`` would otherwise override the file's own columns.
        return (
            # Absolute: DuckDB would read a leading ~ as the home folder.
            f"SELECT {', '.join(items)} FROM read_parquet({lit(str(self.path.absolute()))}, "
            f"{_ROW_NUMBER} = true, hive_partitioning = false)"
        )

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(self.path, f"not a readable Parquet file: {exc}") from None
        names = pf.schema_arrow.names
        self._check_columns(names)
        wanted = [n for n in names if n in COLUMN_NAMES]
        typed = self.typed_columns
        if typed != _typed_in(pf.schema_arrow):
            raise SourceError(self.path, "the file changed while it was being read")
        schema = self.raw_schema
        total = pf.metadata.num_rows
        row = 1
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
            table = pa.table(
                {
                    n: _typed_column(batch.column(n))
                    if n in typed
                    else _text_column(batch.column(n))
                    for n in wanted
                }
            )
            lines = pa.array(np.arange(row, row + batch.num_rows, dtype=np.int64))
            row += batch.num_rows
            self._progress(row - 1, total)
            yield _to_raw(table, lines, schema=schema)


#: ``--format`` names, and the file suffixes that select them.
SOURCE_FORMATS: dict[str, type[LegSource]] = {
    "csv": CsvSource,
    "jsonl": JsonLinesSource,
    "parquet": ParquetSource,
}
SUFFIX_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".json": "8x8-json",
}


def register_format(name: str, cls: type[LegSource]) -> None:
    SOURCE_FORMATS[name] = cls


def detect_format(path: Path) -> str:
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        accepted = ", ".join(sorted(SUFFIX_FORMATS))
        raise SourceError(
            path, f"cannot tell the format from the name (accepted: {accepted}); use --format"
        )
    return fmt


def open_source(
    path: Path,
    fmt: str | None = None,
    *,
    ignore_unknown: bool = False,
    on_progress: ProgressCallback | None = None,
    known_extensions: pa.Table | None = None,
    source_tz: str | None = None,
    columns: list[str] | None = None,
    pbx_id: str | None = None,
) -> LegSource:
    """The reader for ``path``, by ``fmt`` or else by its suffix."""
    path = Path(path)
    folder = path.is_dir() and fmt is not None and SOURCE_FORMATS.get(fmt, LegSource).reads_folders
    if path.is_dir() and not folder:
        readers = sorted(n for n, c in SOURCE_FORMATS.items() if c.reads_folders)
        raise SourceError(path, f"is a folder; only --format {' or '.join(readers)} reads one")
    if not path.is_file() and not folder:
        raise SourceError(path, "no such file")
    name = fmt or detect_format(path)
    cls = SOURCE_FORMATS.get(name)
    if cls is None:
        raise SourceError(
            path, f"unknown format {name!r}; expected one of {', '.join(sorted(SOURCE_FORMATS))}"
        )
    return cls(
        path,
        ignore_unknown=ignore_unknown,
        on_progress=on_progress,
        known_extensions=known_extensions,
        source_tz=source_tz,
        columns=columns,
        pbx_id=pbx_id,
    )


__all__ = [
    "COLUMNS",
    "RAW_SCHEMA",
    "LegSource",
    "SourceError",
    "detect_format",
    "open_source",
    "register_format",
]
