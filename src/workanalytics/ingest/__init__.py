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
from workanalytics.ingest import eightbyeight  # noqa: F401
