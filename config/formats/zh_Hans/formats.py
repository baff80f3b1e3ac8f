"""Simplified Chinese: Django's formats, with prices grouped like ¥1,234.50 (`config.formats`)."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
