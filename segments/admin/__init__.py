"""Segments in the admin: the member page's statistics panel and the list's RFM column and
filter (`members`), the segment builder (`segments`), clubs (`clubs`)."""

from segments.admin import clubs, members, segments  # noqa: F401  (registers the admins)
