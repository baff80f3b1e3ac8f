"""Development: SQLite by default, DEBUG on, a throw-away secret."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-do-not-use-in-production")
os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
