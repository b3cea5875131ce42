"""Input adapters: every supported file format turned into canonical legs."""

from workanalytics.ingest.sources import (
    LegSource,
    SourceError,
    detect_format,
    open_source,
    register_format,
)

__all__ = ["LegSource", "SourceError", "detect_format", "open_source", "register_format"]
