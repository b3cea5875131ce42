"""From summed measures per (PBX, extension) to the answer: fields, row order, JSON body.

Every engine ends here, in DuckDB: the embedded store runs it on its own file, the ClickHouse
store on the few thousand measure rows ClickHouse sums. So the 45 fields, the row order and
the bytes of the API's body are computed by one piece of SQL, whatever holds the legs.
"""

from __future__ import annotations

from workanalytics.legs import q
from workanalytics.metrics import (
    answer_columns_sql,
    credit_count_sql,
    fields_for,
    select_fields_sql,
)

_DIGITS = "regexp_full_match(m.extension, '[0-9]+')"
#: Sort keys of a row; mirrors :func:`workanalytics.metrics.extension_sort_key`.
_ROW_ORDER_KEYS = (
    f"CASE WHEN {_DIGITS} THEN 0 ELSE 1 END AS _o1, "
    f"CASE WHEN {_DIGITS} THEN length(ltrim(m.extension, '0')) ELSE 0 END AS _o2, "
    f"CASE WHEN {_DIGITS} THEN ltrim(m.extension, '0') ELSE m.extension END AS _o3"
)
_ROW_ORDER = '"PbxId", _o1, _o2, _o3, "Extension"'


def _json_members(version: int) -> str:
    """``struct_pack`` members of an answer object, in spec order."""
    return ", ".join(f"{q(f.name)} := {q(f.name)}" for f in fields_for(version))


def _floor_div(numerator: str, denominator: str) -> str:
    return f"({numerator}) // ({denominator})"


def answer_sql(
    measures: str, directory: str, version: int, *, as_json: bool, ctes: str = ""
) -> str:
    """The answer over ``measures`` (one row of summed measures per PBX and extension) and
    ``directory`` (``directory.COLUMNS``), as rows or, with ``as_json``, as the API's body.

    ``as_json`` makes DuckDB write the body itself: one string, objects in row order, keys
    in spec order (DuckDB's to_json writes what orjson writes; the API tests compare the two
    byte for byte). ``ctes`` are common table expressions put before the answer's own, where
    ``measures`` may be defined.
    """
    answer = (
        f"WITH {ctes + ',' if ctes else ''}\nanswer AS (SELECT {select_fields_sql(2, floor_div=_floor_div)}, {_ROW_ORDER_KEYS}\n"
        f"FROM {measures} AS m LEFT JOIN {directory} AS d "
        f"ON d.pbx_id = m.pbx_id AND d.extension = m.extension\n"
        # An extension whose legs all moved out of the window keeps a row of zeros.
        f"WHERE {credit_count_sql('m')} > 0)\n"
    )
    if as_json:
        return answer + (
            f"SELECT '[' || coalesce(string_agg(to_json(struct_pack({_json_members(version)})), "
            f"',' ORDER BY {_ROW_ORDER}), '') || ']' FROM answer"
        )
    return answer + f"SELECT {answer_columns_sql(version)} FROM answer ORDER BY {_ROW_ORDER}"
