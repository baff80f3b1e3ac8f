"""Production: PostgreSQL via DATABASE_URL, secrets from the environment with no defaults.

`DJANGO_SECRET_KEY`, `DATABASE_URL` and `DJANGO_ALLOWED_HOSTS` must be set (in the environment or
the `.env` file `base` reads); without them the settings refuse to load. `python manage.py check
--deploy --fail-level WARNING` is clean with these settings (tests/config/test_deploy.py runs it).
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# `base` falls back to SQLite for development; production names its database, with no default.
env("DATABASE_URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)  # noqa: F405
# Contention ends in a prompt `503` with `Retry-After` (config/api/errors.py), never in a worker
# stuck until gunicorn kills it: a row-lock wait longer than DB_LOCK_TIMEOUT fails (API requests
# hold a member's lock for milliseconds; 5 s means something is wrong). DB_STATEMENT_TIMEOUT
# bounds any one statement; it is off by default because the same settings run the long reports
# and jobs (`audit_ledger`, imports): set it for the web processes only, below gunicorn's
# --timeout (e.g. DB_STATEMENT_TIMEOUT=20s). See docs/api.md, "Contention".
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = " ".join(
        part
        for part in (
            _options.get("options", ""),
            f"-c lock_timeout={env('DB_LOCK_TIMEOUT', default='5s')}",
            f"-c statement_timeout={env('DB_STATEMENT_TIMEOUT', default='0')}",
        )
        if part
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# Shared by every gunicorn worker (the API rate limit counts here): the database cache unless
# CACHE_URL names another (redis://...). Its table is made by the migrations.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://loyalty_cache")}

if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# The health check is probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
