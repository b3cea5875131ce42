"""``make demo``: a generated company in a local store and a report from it, in one step.

The company is generated and ingested once per data dir; later runs reuse it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from workanalytics.settings import Settings

DEMO_DATA_DIR = Path("demo-data")
DEMO_SEED = 42
DEMO_TIME_ZONE = "America/New_York"


def run_demo(
    settings: Settings, *, extensions: int = 500, days: int = 90, output_format: str = "table"
) -> None:
    from workanalytics.cli.output import emit_rows
    from workanalytics.directory import read_directory_csv
    from workanalytics.generate import generate_company
    from workanalytics.ingest.run import ingest_paths
    from workanalytics.metrics import DEFAULT_TABLE_FIELDS
    from workanalytics.report import ALL_PBXES, extension_summary
    from workanalytics.store import DuckDBStore

    show = sys.stderr.isatty()
    with DuckDBStore(settings.store_path, memory_limit=settings.memory_limit) as store:
        if store.leg_count() == 0:
            out = settings.data_dir / "generated" / "company.parquet"
            click.echo(f"generating {extensions} extensions x {days} days into {out} ...", err=True)
            gen = generate_company(
                extensions=extensions, days=days, seed=DEMO_SEED, out=out, progress=show
            )
            store.upsert_directory(read_directory_csv(gen.directory_path))
            outcome = ingest_paths(store, [gen.legs_path])
            if not outcome.ok:
                raise click.ClickException(str(outcome.failures[0][1]))
            click.echo(f"ingested {gen.legs} legs for PBXs {', '.join(gen.pbx_ids)}", err=True)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        start, end = f"{yesterday} 00:00:00", f"{yesterday} 23:59:59"
        result = extension_summary(
            store, ALL_PBXES, start, end, DEMO_TIME_ZONE, retention_years=settings.retention_years
        )
    emit_rows(
        result.names,
        result.rows,
        output_format,
        json_bytes=result.to_json() if output_format == "json" else None,
        table_columns=DEFAULT_TABLE_FIELDS,
        title=f"Extension Summary, all PBXs, {yesterday} ({DEMO_TIME_ZONE})",
    )
    click.echo(
        f"\n{len(result)} rows. Try it yourself:\n"
        f"  workanalytics --data-dir {settings.data_dir} extsum --pbx allpbxes "
        f'--start "{start}" --end "{end}" --tz {DEMO_TIME_ZONE} --format json',
        err=True,
    )


def main() -> None:
    run_demo(Settings.from_env(DEMO_DATA_DIR))


if __name__ == "__main__":
    main()
