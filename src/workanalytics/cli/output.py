"""One way to print data, shared by every command: ``--format table|json|csv``."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence

import click
import orjson
from rich.console import Console
from rich.table import Table

OUTPUT_FORMATS = ("table", "json", "csv")


def format_option(
    default: str = "table", choices: Sequence[str] = OUTPUT_FORMATS, flag: str = "--format"
):
    return click.option(
        flag,
        "output_format",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="How to print the result.",
    )


def emit_rows(
    names: Sequence[str],
    rows: Sequence[Sequence[object]],
    output_format: str,
    *,
    json_bytes: bytes | None = None,
    table_columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Print rows. JSON is compact and alone on stdout, so it pipes into other tools."""
    if output_format == "json":
        if json_bytes is None:
            json_bytes = orjson.dumps([dict(zip(names, r, strict=True)) for r in rows])
        sys.stdout.buffer.write(json_bytes + b"\n")
        sys.stdout.flush()
        return
    if output_format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return
    shown = list(table_columns) if table_columns else list(names)
    index = [list(names).index(c) for c in shown]
    table = Table(title=title, show_lines=False)
    for c in shown:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*("" if r[i] is None else str(r[i]) for i in index))
    Console().print(table)
    if not rows:
        click.echo("(no rows)", err=True)
