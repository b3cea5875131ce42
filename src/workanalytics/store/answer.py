"""From summed measures per (PBX, extension) to the answer: fields, row order, JSON body.

Every engine ends here: the embedded store and the ClickHouse store both hand over an Arrow
table of summed measures, and this module derives the 45 fields, orders the rows and writes
the API's body. So the answer's bytes are the same whatever holds the legs.

All of it works on whole columns. The directory side of a row (who the extension is, where
it sorts, its JSON) changes only when the directory does, so it is prepared once per
directory version in :class:`DirectoryIndex`; an answer then costs a lookup, a sort of
integers, the numeric fields in numpy and one Arrow string join, instead of planning and
running 45 expressions and a JSON writer in SQL for every request.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from workanalytics import directory
from workanalytics.metrics import (
    CREDIT_COUNT_MEASURES,
    FIELDS,
    MEASURE_NAMES,
    SummaryResult,
    directory_field_arrays,
    extension_sort_key,
    fields_for,
    measure_field_arrays,
)

#: What joins a PBX and an extension into one lookup key (neither can contain it).
_KEY_SEPARATOR = "\x00"
#: The directory fields an answer object starts and ends with; numeric fields sit between.
_NUMERIC_AT = [i for i, f in enumerate(FIELDS) if f.kind != "directory"]
_HEAD, _TAIL = FIELDS[: _NUMERIC_AT[0]], FIELDS[_NUMERIC_AT[-1] + 1 :]
# The numeric fields sit together, and a directory field follows the last of them: each
# number is written with the comma after it (see _numbers_json).
assert _HEAD and _TAIL and len(_NUMERIC_AT) == _NUMERIC_AT[-1] + 1 - _NUMERIC_AT[0], (
    "directory fields must open and close an answer object"
)


_DIRECTORY_SCHEMA = pa.schema([(c, pa.string()) for c in directory.COLUMNS])


def lookup_keys(pbx_ids: pa.Array, extensions: pa.Array) -> pa.Array:
    """One string per (PBX, extension), to find a row of one table in another."""
    return pc.binary_join_element_wise(pbx_ids, extensions, _KEY_SEPARATOR)


@dataclass(frozen=True)
class DirectoryIndex:
    """The directory, prepared for answers: per row its lookup key, its place in the answer's
    row order, its directory fields, and the JSON its answer object starts and ends with."""

    table: pa.Table
    keys: pa.Array
    #: Rows in the answer's row order.
    order: np.ndarray
    fields: dict[str, pa.Array]
    #: '{"PbxId":...,"Department":"..."' of each row.
    json_head: pa.Array
    #: '"Email":...,"UserName":"..."}' of each row: the last number brings its comma.
    json_tail: pa.Array
    #: An engine's 64-bit hash of each row's key; None when not given or when two rows
    #: share a hash.
    key_hashes: pa.Array | None = None

    @classmethod
    def build(cls, table: pa.Table, key_hashes: np.ndarray | None = None) -> DirectoryIndex:
        """From directory rows (``directory.COLUMNS``; nulls where a value is unknown) and,
        optionally, the engine's hash of each row's (PBX, extension)."""
        # Nullable strings whatever the engine said (chdb's are NOT NULL): rows for unknown
        # people, with nulls, are appended to it.
        table = table.select(list(directory.COLUMNS)).cast(_DIRECTORY_SCHEMA).combine_chunks()
        columns = {c: table.column(c).combine_chunks() for c in directory.COLUMNS}
        fields = directory_field_arrays(columns)
        pbx_ids = columns["pbx_id"].to_pylist()
        extensions = columns["extension"].to_pylist()
        # Runs once per directory version, over its rows: the sort key is defined once, in
        # Python, and the JSON is orjson's own (escaping included) because orjson writes it.
        order = sorted(
            range(len(pbx_ids)), key=lambda i: (pbx_ids[i], extension_sort_key(extensions[i]))
        )
        head_names, tail_names = [f.name for f in _HEAD], [f.name for f in _TAIL]
        head = zip(*(fields[name].to_pylist() for name in head_names), strict=True)
        tail = zip(*(fields[name].to_pylist() for name in tail_names), strict=True)
        return cls(
            table=table,
            keys=lookup_keys(columns["pbx_id"], columns["extension"]),
            order=np.asarray(order, dtype=np.int64),
            fields=fields,
            json_head=pa.array(
                [orjson.dumps(dict(zip(head_names, row, strict=True)))[:-1] for row in head],
                pa.string(),
            ),
            json_tail=pa.array(
                [orjson.dumps(dict(zip(tail_names, row, strict=True)))[1:] for row in tail],
                pa.string(),
            ),
            **_hash_lookup(key_hashes),
        )

    @classmethod
    def empty(cls) -> DirectoryIndex:
        return cls.build(pa.table({c: pa.array([], pa.string()) for c in directory.COLUMNS}))

    def __len__(self) -> int:
        return len(self.keys)

    def rows_of_keys(self, pbx_ids: pa.Array, extensions: pa.Array) -> pa.Array:
        """The row of each (PBX, extension); null where the directory lacks it."""
        return pc.index_in(lookup_keys(pbx_ids, extensions), value_set=self.keys)

    def rows_of_hashes(self, hashes: np.ndarray) -> np.ndarray | None:
        """The row of each key hash, or None when one is not in the directory (or hashes
        are not usable): the caller then looks its keys up by :meth:`rows_of_keys`."""
        if self.key_hashes is None:
            return None
        rows = pc.index_in(pa.array(hashes), value_set=self.key_hashes)
        return None if rows.null_count else rows.to_numpy()

    def with_rows_for(self, pbx_ids: pa.Array, extensions: pa.Array) -> DirectoryIndex:
        """This index and rows of unknown people for extensions it lacks. Stores add a
        directory row for every extension their legs name, so this is the rare path of a
        directory read a moment before the legs it should cover."""
        unknown = {c: pa.nulls(len(pbx_ids), pa.string()) for c in directory.COLUMNS}
        unknown["pbx_id"], unknown["extension"] = pbx_ids, extensions
        return DirectoryIndex.build(pa.concat_tables([self.table, pa.table(unknown)]))


def _hash_lookup(key_hashes: np.ndarray | None) -> dict[str, pa.Array]:
    if key_hashes is None or len(np.unique(key_hashes)) < len(key_hashes):
        return {}  # none, or a collision: every lookup goes by key instead
    return {"key_hashes": pa.array(key_hashes)}


@dataclass(frozen=True)
class Answer:
    """An answer's rows in order: the numeric fields, and each row's place in the index."""

    version: int
    numbers: dict[str, np.ndarray]
    index: DirectoryIndex
    rows_of_index: np.ndarray

    def __len__(self) -> int:
        return len(self.rows_of_index)

    def result(self) -> SummaryResult:
        """As Python rows (the CLI, the client's local mode)."""
        fields = fields_for(self.version)
        if not len(self):
            return SummaryResult(fields, [])
        take = pa.array(self.rows_of_index, pa.int64())
        columns = [
            self.index.fields[f.name].take(take).to_pylist()
            if f.kind == "directory"
            else self.numbers[f.name].tolist()
            for f in fields
        ]
        return SummaryResult(fields, list(zip(*columns, strict=True)))

    def json(self) -> bytes:
        """The API's body, byte for byte what ``orjson.dumps(result().as_dicts())`` writes.

        The numbers are written first, by orjson, which holds the GIL. A large answer's
        objects are then joined in two halves at once, one in a worker thread: Arrow's
        kernels let go of the GIL, so on two cores that join takes half the time. (Writing
        the numbers in halves too made both threads wait on the GIL: slower than one.)"""
        n = len(self)
        if n == 0:
            return b"[]"
        numbers = self._number_parts()
        if n < _HALVED_FROM_ROWS:
            return self._json_rows(numbers, 0, n).to_pybytes()
        middle = n // 2
        try:
            first = _json_workers().submit(self._json_rows, numbers, 0, middle)
        except RuntimeError:  # the interpreter is shutting down: no new threads
            return self._json_rows(numbers, 0, n).to_pybytes()
        second = self._json_rows(numbers, middle, n)
        # Under load the worker may not have got to it yet: then it is quicker done here.
        head = self._json_rows(numbers, 0, middle) if first.cancel() else first.result()
        return b"".join((head, second))

    def _number_parts(self) -> list[object]:
        """The numeric fields' parts of every answer object: each field's '"Name":' and its
        numbers, each with the comma after it."""
        parts: list[object] = []
        for f in fields_for(self.version):
            if f.kind != "directory":
                parts.append(_names_json(f.name, first=not parts))
                parts.append(_numbers_json(self.numbers[f.name]))
        return parts

    def _json_rows(self, numbers: list[object], start: int, end: int) -> pa.Buffer:
        """The body's bytes for the answer's rows ``start`` to ``end``: their objects, each
        after its '[' or ',', and the closing ']' if ``end`` is the last row."""
        n = end - start
        take = pa.array(self.rows_of_index[start:end], pa.int64())
        parts: list[object] = [_openers(n, start == 0), self.index.json_head.take(take)]
        parts += [p.slice(start, n) if isinstance(p, pa.Array) else p for p in numbers]
        parts.append(self.index.json_tail.take(take))
        parts.append(_closers(n, end == len(self)))
        objects = pc.binary_join_element_wise(*parts, "")
        # The joined objects lie end to end in one buffer: that stretch is the body.
        offsets = np.frombuffer(objects.buffers()[1], dtype=np.int32)
        first, stop = int(offsets[objects.offset]), int(offsets[objects.offset + n])
        return objects.buffers()[2].slice(first, stop - first)


@functools.cache
def _names_json(name: str, *, first: bool) -> pa.Scalar:
    """'"Name":' of a numeric field, after the comma of the directory field before it, or
    of the number before it."""
    return pa.scalar(("," if first else "") + f'"{name}":')


def _numbers_json(values: np.ndarray) -> pa.Array:
    """Each of (at least one) numbers as orjson writes it, and a comma: "12,", "0,"...

    One orjson call per column writes them all, three times as fast as Arrow's cast to
    strings: its '[12,0,...,7]' is then the array's data from the second byte on, with the
    closing bracket made the last comma and an offset after each comma."""
    assert len(values), "no numbers: '[]' would read as one empty value"
    contiguous = np.ascontiguousarray(values)  # what orjson writes: a no-op for a column
    text = bytearray(orjson.dumps(contiguous, option=orjson.OPT_SERIALIZE_NUMPY))
    text[-1] = ord(",")
    commas = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord(","))
    offsets = np.empty(len(commas) + 1, dtype=np.int32)
    offsets[0] = 1
    offsets[1:] = commas + 1
    return pa.StringArray.from_buffers(len(commas), pa.py_buffer(offsets), pa.py_buffer(text))


#: Answers from this many rows are written in two halves at once.
_HALVED_FROM_ROWS = 1024


@functools.cache
def _json_workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="answer-json")


@functools.lru_cache(maxsize=32)
def _openers(n: int, first: bool) -> pa.Array:
    """'[' before the body's first object, ',' before every other."""
    return pa.array(["[" if first else ","] + [","] * (n - 1))


@functools.lru_cache(maxsize=32)
def _closers(n: int, last: bool) -> pa.Array:
    """']' after the body's last object."""
    return pa.array([""] * (n - 1) + ["]" if last else ""])


def build_answer(measures: pa.Table, index: DirectoryIndex, version: int) -> Answer:
    """The answer over ``measures``: one row of summed measures (BIGINT) per PBX and extension,
    in any order."""
    fields_for(version)  # refuse an unknown version before any work
    pbx_ids = measures.column("pbx_id").combine_chunks()
    extensions = measures.column("extension").combine_chunks()
    where = index.rows_of_keys(pbx_ids, extensions)
    if where.null_count:
        lacking = pc.is_null(where)
        index = index.with_rows_for(pbx_ids.filter(lacking), extensions.filter(lacking))
        where = index.rows_of_keys(pbx_ids, extensions)
    rows = where.to_numpy()
    per_row = {m: np.zeros(len(index), dtype=np.int64) for m in MEASURE_NAMES}
    for m, values in per_row.items():
        values[rows] = measures.column(m).to_numpy()
    return answer_of(per_row, index, version)


def answer_of(per_row: dict[str, np.ndarray], index: DirectoryIndex, version: int) -> Answer:
    """The answer over measures per directory row (arrays as long as the index). Rows
    without a credit (nobody called, or their legs all moved out of the window) are left
    out."""
    fields_for(version)
    credited = credit_counts(per_row)
    rows = index.order[credited[index.order] > 0]
    numbers = measure_field_arrays({m: v[rows] for m, v in per_row.items()})
    return Answer(version, numbers, index, rows)


def credit_counts(values: dict[str, np.ndarray]) -> np.ndarray:
    """The number of credited legs per measures row: a row exists only where it is > 0."""
    return functools.reduce(np.add, (values[m] for m in CREDIT_COUNT_MEASURES))
