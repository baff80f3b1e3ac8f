"""Segments in the admin: the member page's statistics panel and the list's RFM column and
filter (`members`)."""

from segments.admin import members  # noqa: F401  (registers the member page's parts)
