"""Directory CSV import: every bad row named with file:line, nothing stored from a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workanalytics.cli import main
from workanalytics.directory import COLUMNS, DirectoryError, read_directory_csv
from workanalytics.store import DuckDBStore

from conftest import write_directory_csv

HEADER = ",".join(COLUMNS)


def row(ext: str, pbx: str = "acme", **kw: str) -> dict[str, str]:
    return {"pbx_id": pbx, "extension": ext, **kw}


def as_tuple(r: dict[str, str]) -> tuple[str, ...]:
    """What the store keeps for a row: trimmed cells, empty service_type read as UE."""
    out = tuple(r.get(c, "").strip() for c in COLUMNS)
    return (*out[:2], out[2] or "UE", *out[3:])


def write_text(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def directory(store: DuckDBStore) -> list[tuple]:
    return store.con.execute("SELECT * EXCLUDE (imported) FROM directory ORDER BY ALL").fetchall()


GOOD_ROWS = [
    row("1001", service_type="UE", first_name="Ada", last_name="Lovelace", branch="HQ",
        department="R&D", email="ada@example.com", username="ada"),
    row("1002", first_name="Zoë", last_name="山田", department="Sales, East"),
    row("200", service_type="RG", first_name="Front desk"),
    row("300", service_type="CQ"),
    row("400", service_type="AA"),
    row("1001", pbx="beta.pbx-2_X", service_type="VM", first_name=" Padded "),
]  # fmt: skip


def test_good_file(tmp_path: Path):
    path = write_directory_csv(tmp_path / "d.csv", GOOD_ROWS)
    table = read_directory_csv(path)
    assert table.column_names == list(COLUMNS)
    assert [tuple(r.values()) for r in table.to_pylist()] == [as_tuple(r) for r in GOOD_ROWS]
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        assert store.upsert_directory(table) == len(GOOD_ROWS)
        assert directory(store) == sorted(as_tuple(r) for r in GOOD_ROWS)
        assert store.pbx_ids() == ["acme", "beta.pbx-2_X"]


def test_columns_in_any_order(tmp_path: Path):
    cols = list(reversed(COLUMNS))
    r = row("1001", first_name="Ada", service_type="RG")
    path = write_text(tmp_path / "d.csv", [",".join(cols), ",".join(r.get(c, "") for c in cols)])
    assert [tuple(x.values()) for x in read_directory_csv(path).to_pylist()] == [as_tuple(r)]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(",email", ""), "missing column(s): email"),
        ("pbx_id,extension", "missing column(s): service_type, first_name"),
        (HEADER + ",mood", "unknown column(s): mood"),
        (HEADER.replace("username", "user_name"), "unknown column(s): user_name"),
        (HEADER + ",email", "column(s) named twice: email"),
    ],
)
def test_header_problems_name_line_1(tmp_path: Path, header: str, message: str):
    n = header.count(",") + 1
    path = write_text(tmp_path / "d.csv", [header, ",".join(["acme", "1001"] + [""] * (n - 2))])
    with pytest.raises(DirectoryError) as err:
        read_directory_csv(path)
    assert f"{path}:1: {message}" in str(err.value)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (row("1001", pbx="ac me"), "pbx_id must be 1-64 characters"),
        (row("1001", pbx=""), "pbx_id must be 1-64 characters"),
        (row("1001", pbx="x" * 65), "pbx_id must be 1-64 characters"),
        (row(""), "extension is required"),
        (row("   "), "extension is required"),
        (row("1001", service_type="XX"), "service_type must be one of UE, RG, CQ, AA, VM"),
        (row("1001", service_type="ue"), "service_type must be one of UE, RG, CQ, AA, VM"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, bad: dict[str, str], reason: str):
    rows = [row("1"), row("2"), bad, row("3")]
    path = write_directory_csv(tmp_path / "d.csv", rows)
    with pytest.raises(DirectoryError) as err:
        read_directory_csv(path)
    assert err.value.total == 1
    [problem] = err.value.problems
    assert problem.startswith(f"{path}:4: ")
    assert reason in problem


def test_duplicate_rows_name_both_lines(tmp_path: Path):
    rows = [row("1001"), row("1002"), row(" 1001 ", first_name="again"), row("1001", pbx="beta")]
    path = write_directory_csv(tmp_path / "d.csv", rows)
    with pytest.raises(DirectoryError) as err:
        read_directory_csv(path)
    assert err.value.problems == [f"{path}:4: (acme, 1001) is also on line 2"]


def test_blank_lines_keep_line_numbers_true(tmp_path: Path):
    ok = "acme,1001,UE,Ada,,,,,"
    path = write_text(tmp_path / "d.csv", [HEADER, ok, "", "", "acme,1002,ZZ,,,,,,", ""])
    with pytest.raises(DirectoryError) as err:
        read_directory_csv(path)
    assert err.value.problems[0].startswith(f"{path}:5: service_type")


def test_every_bad_row_up_to_100_then_a_count(tmp_path: Path):
    rows = [row(str(i), service_type="??") for i in range(130)]
    path = write_directory_csv(tmp_path / "d.csv", rows)
    with pytest.raises(DirectoryError) as err:
        read_directory_csv(path)
    assert err.value.total == 130
    assert len(err.value.problems) == 100
    assert err.value.problems[-1].startswith(f"{path}:101: ")
    assert "... and 30 more" in str(err.value)


def test_not_a_csv_file(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DirectoryError):
        read_directory_csv(empty)
    with pytest.raises(DirectoryError):
        read_directory_csv(tmp_path / "absent.csv")


def test_a_bad_file_stores_nothing_through_the_cli(tmp_path: Path):
    data = tmp_path / "data"
    runner = CliRunner()
    good = write_directory_csv(tmp_path / "good.csv", GOOD_ROWS[:2])
    result = runner.invoke(main, ["--data-dir", str(data), "directory", "import", str(good)])
    assert result.exit_code == 0, result.output
    with DuckDBStore(data / "legs.duckdb") as store:
        before = directory(store)
    assert before == sorted(as_tuple(r) for r in GOOD_ROWS[:2])
    changed = [row("1001", first_name="Changed"), row("9"), row("9", service_type="RG")]
    bad = write_directory_csv(tmp_path / "bad.csv", changed)
    result = runner.invoke(main, ["--data-dir", str(data), "directory", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: (acme, 9) is also on line 3" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    dupe_cols = write_text(tmp_path / "cols.csv", [HEADER + ",email", "acme,5,UE,,,,,,,"])
    result = runner.invoke(main, ["--data-dir", str(data), "directory", "import", str(dupe_cols)])
    assert result.exit_code == 1
    assert "named twice: email" in result.stderr
    assert not isinstance(result.exception, KeyError)
    with DuckDBStore(data / "legs.duckdb") as store:
        assert directory(store) == before


def test_reimport_replaces_rows(tmp_path: Path):
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        store.upsert_directory(
            read_directory_csv(write_directory_csv(tmp_path / "a.csv", GOOD_ROWS))
        )
        new = [row("1001", service_type="RG", first_name="Grace"), row("5000")]
        store.upsert_directory(read_directory_csv(write_directory_csv(tmp_path / "b.csv", new)))
        expected = {as_tuple(r)[:2]: as_tuple(r) for r in GOOD_ROWS}
        expected.update({as_tuple(r)[:2]: as_tuple(r) for r in new})
        assert directory(store) == sorted(expected.values())
