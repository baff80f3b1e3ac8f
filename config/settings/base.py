"""Settings shared by every environment. Values that vary come from the environment."""

import datetime as dt
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer's own overrides; never committed (see .env.example for the list).
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A kept connection is checked before a request uses it (one cheap query, only when it was
# kept from an earlier request): after a database restart a worker reconnects at once instead
# of failing that request (`/healthz` answered 503 while the database was up again).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and a management command share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
# PostgreSQL: the order path's hot statements run as server-side prepared statements
# (`config.prepared.hot_cursor`). Turn off behind a transaction-mode pooler that cannot keep them
# (PgBouncer before 1.21).
DB_SERVER_PREPARED_STATEMENTS = env.bool("DB_SERVER_PREPARED_STATEMENTS", default=True)
if DB_SERVER_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Those statements are key lookups and inserts: one generic plan each, made once per
    # connection. Left to choose ("auto"), PostgreSQL kept planning the earn statement afresh on
    # every order (measured: a fifth of the database's CPU per earn). Only server-prepared
    # statements have a plan cache, so Django's own queries are not affected.
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = " ".join(
        part
        for part in (_db_options.get("options", ""), "-c plan_cache_mode=force_generic_plan")
        if part
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Procrastinate's tables (the job queue) exist only on PostgreSQL.
DATABASE_ROUTERS = ["jobs.routers.JobsRouter"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "config.apps.AxesConfig",  # axes, named for the admin (config/apps.py)
    "csp",
    "rest_framework",
    "config.apps.ApiKeysConfig",  # rest_framework_api_key, likewise
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "pgtrigger",
    "procrastinate.contrib.django",
    "anymail",
    # Our apps, in dependency order: each may import only those above it.
    "idempotency",
    "jobs",
    "events",
    "members",
    "loyalty",
    "memberships",
    "feedback",
    "segments",
    "rewards",
    "campaigns",
    "messaging",
    "analytics",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the staff user's choice (the admin header's switcher sets Django's language
    # cookie), else ADMIN_LANGUAGE in the admin, else Accept-Language, else LANGUAGE_CODE.
    "config.languages.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

# --- the front door (docs/security.md) ---------------------------------------------------------
# The admin login: django-axes counts failed logins per (username, IP address); at
# AXES_FAILURE_LIMIT the pair is locked out for AXES_COOLOFF_MINUTES (a 429 page, the right
# password included). Every attempt is kept (Axes' access attempts, failures and logins in the
# admin); a superuser unlocks by deleting the access attempt.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The address is the connection's (REMOTE_ADDR), which a client cannot forge; behind a reverse
# proxy it is the proxy's, and the lockout is then in effect per username (docs/security.md).

# Content-Security-Policy (django-csp): scripts, styles, fonts and images only from our own
# static files (Swagger UI included: drf-spectacular-sidecar). Inline style *attributes* stay
# allowed (the admin and Swagger UI set widths with them; they run no code); inline scripts,
# inline <style> blocks, eval and other origins are refused.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
# The admin's language for staff who have not chosen one, whatever their browser says
# (`make run LANGUAGE=zh-hans`); empty: the browser decides.
ADMIN_LANGUAGE = env("ADMIN_LANGUAGE", default="")
# Our catalog (docs/i18n.md); Django's own admin strings come with Django.
LOCALE_PATHS = [BASE_DIR / "locale"]
# `en` formats dates the British way; zh-Hans groups thousands (config/formats).
FORMAT_MODULE_PATH = ["config.formats"]
# The program's time zone: weekdays, member days and calendar dates are counted in it.
TIME_ZONE = env("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True
# Numbers shown to staff read "12,345" (admin columns, templates); form inputs are not localised.
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.HasStorefrontApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "config.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
    # Per API key: API_THROTTLE_RATE requests per window, then 429 rate_limited + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.ApiKeyRateThrottle"],
}
# Far above a storefront's peak (about 1,700 requests a second, all day): it stops a runaway
# client or a leaked key, never a sale. "" turns it off. Counted in the cache API_THROTTLE_CACHE.
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="100000/m")
API_THROTTLE_CACHE = "default"

# The cache is shared by every worker process: the rate limit counts there. Production defaults
# to the database cache (the table `loyalty_cache`, made by the migrations); Redis works too
# (CACHE_URL=redis://...). Development and tests: this process's memory.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty Back Office — Storefront API",
    "DESCRIPTION": "Server-to-server API for the storefront: members, orders, refunds, rewards.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar): the docs work offline and
    # under the Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: Api-Key <key>` (keys: `manage.py create_api_key`).",
            }
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
    # The schema says what the server refuses (`config.api.schema.exact_schema`).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.exact_schema",
    ],
    # Stable component names for enums whose field name (`status`) several models share.
    "ENUM_NAME_OVERRIDES": {
        "MemberStatusEnum": "members.models.Member.Status",
        "RewardKindEnum": "rewards.models.RewardKind",
        "RedemptionStatusEnum": "rewards.models.RedemptionStatus",
    },
}

# Jobs (docs/jobs.md). On PostgreSQL jobs go to Procrastinate's queue and workers run them
# (`make worker`); on SQLite they run in-process after commit. JOBS_RUN_INLINE forces either.
JOBS_RUN_INLINE = env.bool("JOBS_RUN_INLINE", default=None)
# When the daily jobs run, in the program's time zone (HH:MM, or HH:MM:SS). Pick a time that
# exists every day: not inside a daylight-saving gap (01:00-02:00 in Europe/London).
DAILY_JOBS_AT = env("DAILY_JOBS_AT", default="03:30")
# How often workers look for jobs whose worker stopped sending heartbeats (cron, UTC).
JOBS_STALLED_CHECK_CRON = env("JOBS_STALLED_CHECK_CRON", default="* * * * *")
PROCRASTINATE_WORKER_DEFAULTS = {
    # A worker writes a heartbeat this often; one silent for `stalled_worker_timeout` is dead
    # and its running jobs are retried by `jobs.tasks.retry_stalled_jobs`.
    "update_heartbeat_interval": env.float("JOBS_HEARTBEAT_SECONDS", default=10.0),
    "stalled_worker_timeout": env.float("JOBS_STALLED_AFTER_SECONDS", default=30.0),
    "concurrency": env.int("JOBS_WORKER_CONCURRENCY", default=4),
    # New jobs wake a worker at once (LISTEN/NOTIFY); a retry's or a scheduled job's time is
    # noticed by polling this often.
    "fetch_job_polling_interval": env.float("JOBS_POLL_SECONDS", default=5.0),
    "shutdown_graceful_timeout": env.float("JOBS_SHUTDOWN_GRACE_SECONDS", default=60.0),
}
# Finished jobs are kept this long (their history in the admin), then deleted daily.
JOBS_KEEP_DAYS = env.int("JOBS_KEEP_DAYS", default=30)
# Extra task modules a worker imports besides each app's `tasks.py` (the tests' probe tasks).
PROCRASTINATE_IMPORT_PATHS = env.list("JOBS_IMPORT_PATHS", default=[])
# The daily `points.expiring` event: points expiring within this many days (0: no notices).
POINTS_EXPIRING_NOTICE_DAYS = env.int("POINTS_EXPIRING_NOTICE_DAYS", default=7)
# A campaign's results measure its lift over its window and this many days after it
# (`campaigns.results`; the page's `?days_after=` overrides it).
CAMPAIGN_RESULTS_DAYS_AFTER = env.int("CAMPAIGN_RESULTS_DAYS_AFTER", default=14)

# Webhooks (docs/webhooks.md). Private, loopback and link-local addresses are refused unless
# allowed here: for tests and development only, never in production.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=5.0)
# Per socket read, and (TOTAL) for the whole answer after connecting.
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=10.0)
WEBHOOKS_TOTAL_TIMEOUT = env.float("WEBHOOKS_TOTAL_TIMEOUT", default=15.0)
# At most this much of an answer is read; the log keeps the first WEBHOOKS_LOG_RESPONSE_CHARS.
WEBHOOKS_MAX_RESPONSE_BYTES = env.int("WEBHOOKS_MAX_RESPONSE_BYTES", default=64 * 1024)
WEBHOOKS_LOG_RESPONSE_CHARS = env.int("WEBHOOKS_LOG_RESPONSE_CHARS", default=1000)
# Seconds to wait after each failed attempt (the Standard Webhooks reference schedule, then
# every 10 hours): 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times, about 2.8 days in all.
WEBHOOKS_RETRY_SCHEDULE = env.list(
    "WEBHOOKS_RETRY_SCHEDULE",
    cast=int,
    default=[5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000],
)
# An endpoint whose every attempt has failed for this many days is switched off.
WEBHOOKS_DISABLE_AFTER_DAYS = env.int("WEBHOOKS_DISABLE_AFTER_DAYS", default=5)
# The dispatcher (`webhooks.tasks.dispatch`): a periodic job (cron, UTC) that reads the outbox
# for DISPATCH_SECONDS, pausing DISPATCH_POLL_SECONDS whenever it has caught up.
WEBHOOKS_DISPATCH_CRON = env("WEBHOOKS_DISPATCH_CRON", default="* * * * *")
WEBHOOKS_DISPATCH_SECONDS = env.float("WEBHOOKS_DISPATCH_SECONDS", default=60.0)
WEBHOOKS_DISPATCH_POLL_SECONDS = env.float("WEBHOOKS_DISPATCH_POLL_SECONDS", default=0.2)
# Jobs of first attempts to one endpoint run at most this many at a time (a hanging endpoint
# holds no more of the workers' slots).
WEBHOOKS_ENDPOINT_CONCURRENCY = env.int("WEBHOOKS_ENDPOINT_CONCURRENCY", default=2)
# New deliveries to one endpoint are sent by one job per batch of at most this many.
WEBHOOKS_DELIVERY_BATCH = env.int("WEBHOOKS_DELIVERY_BATCH", default=50)
# After a rotation the previous secret keeps signing for this long.
WEBHOOKS_SECRET_OVERLAP_HOURS = env.int("WEBHOOKS_SECRET_OVERLAP_HOURS", default=24)

# --- member messages (docs/messaging.md) -----------------------------------------------------
# Django's email backend: SMTP (EMAIL_URL), an ESP through django-anymail
# (EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend and ANYMAIL_* keys), or in development the
# console (default) / file backend. Tests use locmem (pytest-django).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="loyalty@example.com")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_"
}
# The public base URL of this back office: unsubscribe links in messages point here.
MESSAGING_BASE_URL = env("MESSAGING_BASE_URL", default="http://localhost:8000")
MESSAGING_PROGRAM_NAME = env("MESSAGING_PROGRAM_NAME", default="Loyalty Club")
MESSAGING_MESSAGE_ID_DOMAIN = env("MESSAGING_MESSAGE_ID_DOMAIN", default="loyalty.example.com")
# Frequency cap: at most one promotional message per member per this many days.
MESSAGING_PROMO_CAP_DAYS = env.int("MESSAGING_PROMO_CAP_DAYS", default=7)

IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_ADMIN_MAX_MB = env.int("IMPORT_ADMIN_MAX_MB", default=20)
# The admin's uploads and error reports. The background import job reads the upload back from
# here: with workers on other machines, this directory must be shared with them.
IMPORT_UPLOAD_DIR = Path(env("IMPORT_UPLOAD_DIR", default=str(BASE_DIR / "var" / "imports")))
# An order placed before the member enrolled earns only when the storefront asks for retro credit
# (`"retro_credit": true`) and it was placed at most this many days before enrolment.
LOYALTY_RETRO_CREDIT_DAYS = env.int("LOYALTY_RETRO_CREDIT_DAYS", default=90)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        app: {
            "handlers": ["console"],
            "level": env("LOG_LEVEL", default="INFO"),
            "propagate": False,
        }
        for app in (
            "idempotency",
            "jobs",
            "events",
            "members",
            "loyalty",
            "memberships",
            "feedback",
            "segments",
            "rewards",
            "campaigns",
            "messaging",
            "analytics",
            "webhooks",
            "config",
        )
    },
}
# The engine logs each job's start and end at INFO: `make worker` sets JOBS_LOG_LEVEL=INFO.
LOGGING["loggers"]["procrastinate"] = {
    "handlers": ["console"],
    "level": env("JOBS_LOG_LEVEL", default="WARNING"),
    "propagate": False,
}
