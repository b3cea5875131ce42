"""The web dashboard (issue #8): a page at ``/`` and ``/analytics/work/ui``, its static
files, and the two small answers it needs (``fields.json`` and ``pbxes``). See
``docs/dashboard.md``."""

from workanalytics.ui.router import STATIC_DIR, UI_PATH, fields_document, router

__all__ = ["STATIC_DIR", "UI_PATH", "fields_document", "router"]
