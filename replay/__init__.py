"""Rebuild, as-of views and audit, reading events only."""
