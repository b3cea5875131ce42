"""workanalytics: an open, self-hostable Work Analytics Historical API (Extension Summary)."""

__version__ = "0.1.0"
