"""JSON Lines fields read by parsing a line twice give what reading each field on its own
gives.

The reference below is the plain reading, one ``json_type`` / ``json_extract`` per field (what
the source did until it took 219 s for ten million legs). Random lines, valid or not, with
every JSON type in every field, duplicate keys and numbers spelled every way JSON allows,
must come out of both the same: the same text per field, the same line, the same error.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workanalytics.ingest.sources import JSON_WHITESPACE, jsonl_fields_sql
from workanalytics.legs import COLUMN_NAMES, LINE_COLUMN, SOURCE_ERROR_COLUMN, lit, q


def per_field_sql(ignore_unknown: bool) -> str:
    known = "[" + ", ".join(lit(n) for n in COLUMN_NAMES) + "]"
    unknown = f"list_filter(json_keys(text), lambda k: NOT list_contains({known}, k))"
    unknown_check = (
        "NULL"
        if ignore_unknown
        else f"CASE WHEN len({unknown}) > 0 THEN 'unknown key(s): ' || "
        f"array_to_string({unknown}, ', ') || ' (--ignore-unknown skips them)' END"
    )
    cols = ",\n".join(
        f"CASE json_type(text, {lit('$.' + n)}) "
        f"WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN json_extract_string(text, {lit('$.' + n)}) "
        f"ELSE json_extract(text, {lit('$.' + n)})::VARCHAR END AS {q(n)}"
        for n in COLUMN_NAMES
    )
    return f"""
        SELECT {cols}, line AS {q(LINE_COLUMN)},
          CASE WHEN NOT valid THEN 'not valid JSON'
               WHEN NOT ok THEN 'expected a JSON object'
               ELSE {unknown_check} END AS {q(SOURCE_ERROR_COLUMN)}
        FROM (SELECT CASE WHEN ok THEN safe ELSE '{{}}' END AS text, line, valid, ok
          FROM (SELECT safe, line, valid, valid AND json_type(safe) = 'OBJECT' AS ok
            FROM (SELECT CASE WHEN valid THEN text ELSE '{{}}' END AS safe, line, valid
              FROM (SELECT text, line, json_valid(text) AS valid FROM lines
                    WHERE trim(text, {lit(JSON_WHITESPACE)}) <> ''))))
    """


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
#: Numbers as JSON may spell them, beyond what json.dumps writes.
spelled_numbers = st.sampled_from(
    ["-0", "1.50", "1e3", "1E+3", "2e-7", "1e21", "1.7976931348623157e308", "5e-324",
     "12345678901234567890", "-123456789012345678901234", "0.1", "3.0"]
)  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)


def encoded(value, ascii_only: bool = False) -> str:
    """JSON text; ``ascii_only`` escapes every other character (``\\u00e9``, surrogate pairs)."""
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=False)


nested = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=2), max_leaves=4
)
values = st.one_of(st.builds(encoded, nested, st.booleans()), spelled_numbers)
keys = st.one_of(
    st.builds(encoded, st.sampled_from(COLUMN_NAMES) | st.sampled_from(["PBX_ID", "other", ""])),
    # A canonical key written with an escape, and one with a space.
    st.sampled_from(['"pbx\\u005fid"', '"caller_n\\u0061me"', '"pbx_id "']),
)


@st.composite
def lines(draw) -> str:
    kind = draw(st.sampled_from(["object", "object", "object", "other"]))
    if kind == "other":
        return draw(
            st.sampled_from(["", "   ", "\t", "\r", " \t\r ", "not json", "{", "[1, 2]", "7", '"x"', "null",
                             '{"pbx_id": }', "{'pbx_id': 'a'}"])
        )  # fmt: skip
    # Written by hand, so that a key may come twice.
    pairs = draw(st.lists(st.tuples(keys, values), max_size=6))
    padding = st.sampled_from(["", "", " ", "\t", "\r", " \t\r"])
    line = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return draw(padding) + line + draw(padding)


def read(sql: str, rows: list[str]) -> list[tuple]:
    con = duckdb.connect()
    con.register("lines", pa.table({"text": rows, "line": list(range(1, len(rows) + 1))}))
    return con.execute(f"SELECT * FROM ({sql}) ORDER BY {q(LINE_COLUMN)}").fetchall()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(lines(), min_size=1, max_size=12), ignore_unknown=st.booleans())
def test_fields_parsed_once_equal_fields_read_one_by_one(rows, ignore_unknown):
    expected = read(per_field_sql(ignore_unknown), rows)
    assert read(jsonl_fields_sql(ignore_unknown), rows) == expected


def test_every_json_type_becomes_its_text():
    """The reference itself, pinned on values whose text is known."""
    row = {
        "pbx_id": '"a\\"b"', "call_id": "12", "leg_id": "1.50", "start_time": "true",
        "caller": "null", "callee": '{"x": [1, 2]}', "dnis": "1e308",
    }  # fmt: skip
    line = "{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}"
    for sql in (per_field_sql(False), jsonl_fields_sql(False)):
        (got,) = read(sql, [line])
        fields = dict(zip([*COLUMN_NAMES, LINE_COLUMN, SOURCE_ERROR_COLUMN], got, strict=True))
        assert [fields[k] for k in row] == ['a"b', "12", "1.5", "true", None, '{"x":[1,2]}',
                                            "1e308"]  # fmt: skip
        assert fields[SOURCE_ERROR_COLUMN] is None
