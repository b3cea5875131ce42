"""Input adapters: every supported file format turned into canonical legs."""

from workanalytics.ingest.sources import (
    LegSource,
    SourceError,
    detect_format,
    open_source,
    register_format,
)

__all__ = ["LegSource", "SourceError", "detect_format", "open_source", "register_format"]

# Registers the "8x8-json" format (8x8 /v2/call-legs pages) with open_source.
# Registers "asterisk-csv" (Asterisk Master.csv / cdr_custom / ODBC exports).
# Registers "freeswitch-json" (mod_json_cdr) and "freeswitch-csv" (mod_cdr_csv).
from workanalytics.ingest import (
    asterisk,  # noqa: F401
    eightbyeight,  # noqa: F401
    freeswitch,  # noqa: F401
)
