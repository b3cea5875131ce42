"""Render the field reference (docs/fields.md) from :data:`workanalytics.metrics.FIELDS`.

The page is generated so it cannot drift from the engine: a test compares the committed
page with a fresh rendering. Regenerate with ``python -m workanalytics.fielddoc``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from workanalytics.metrics import FIELDS, MEASURES, SQL_TRUE

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "fields.md"


def render() -> str:
    lines = [
        "# Extension Summary fields",
        "",
        "Generated from `src/workanalytics/metrics.py` by `python -m workanalytics.fielddoc`;",
        "do not edit by hand. I = inbound legs of the extension, O = outbound, X/N = external /",
        "internal subsets, C = I and O together (`../shared/spec/extension-summary.md` §3).",
        "",
        "| # | field | kind | v1 | definition |",
        "|---|---|---|---|---|",
    ]
    for f in FIELDS:
        v1 = "yes" if f.in_v1 else "no"
        lines.append(f"| {f.position} | `{f.name}` | {f.kind} | {v1} | {f.definition} |")
    lines += [
        "",
        "## Additive measures",
        "",
        "Every field is computed from these per-extension counts and sums (or read from the",
        "directory), so a window split into parts adds up exactly.",
        "",
        "| measure | over credits where | value |",
        "|---|---|---|",
    ]
    for m in MEASURES:
        value = "count" if m.sum_of is None else f"sum of `{m.sum_of}`"
        where = "every credit" if m.where == SQL_TRUE else f"`{m.where}`"
        lines.append(f"| `{m.name}` | {where} | {value} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    DOC_PATH.write_text(render())
    sys.stdout.write(f"wrote {DOC_PATH}\n")


if __name__ == "__main__":
    main()
