"""Tests: like local, with fast password hashing. DATABASE_URL picks SQLite or PostgreSQL."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-insecure-secret-key")
os.environ["DJANGO_DEBUG"] = "false"

from .base import *  # noqa: F403

# The tests' receivers listen on 127.0.0.1; the SSRF tests switch this off again.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "ERROR"  # noqa: F405
for _logger in LOGGING["loggers"].values():  # noqa: F405
    _logger["level"] = "ERROR"
# This process's memory, whatever CACHE_URL says: each test starts from an empty cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
