"""Settings, read from the environment (and optional `.env` / `.env.local` files) with strict validation."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from whatsapp_project.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env(BASE_DIR / ".env", BASE_DIR / ".env.local")

# The test suite, and the type checker (django-stubs imports these settings), run with no environment of their own.
TESTING = env.flag("TESTING", "pytest" in sys.modules or "mypy" in sys.modules)

# Off unless asked for: `make run` (scripts/devserver.py) asks for it, and so does the test suite (TESTING), so a
# deployment that forgets it runs hardened rather than with development defaults.
DEBUG = env.flag("DEBUG", TESTING)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env.text("SECRET_KEY", default="").strip() or (_DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters when DEBUG is off.")

ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names the site answers to when DEBUG is off.")

PUBLIC_BASE_URL = env.url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
NEXMO_API_BASE_URL = env.url("NEXMO_API_BASE_URL", "https://api.nexmo.com")
# Where a provider's API base URL may point besides Vonage's own https API hosts (providers/nexmo/hosts.py): the
# server sends the number's live JWT there. `make run` adds its simulator; tests run simulators on free local ports.
NEXMO_ALLOWED_BASE_URLS = env.origins(
    "NEXMO_ALLOWED_BASE_URLS", ["http://127.0.0.1", "http://localhost", "https://api.nexmo.test"] if TESTING else []
)
# Gateway timeouts (seconds): connect short, read bounded; a read timeout after sending is ambiguous.
NEXMO_CONNECT_TIMEOUT = env.number("NEXMO_CONNECT_TIMEOUT", 3.0, minimum=0.1)
NEXMO_READ_TIMEOUT = env.number("NEXMO_READ_TIMEOUT", 10.0, minimum=0.1)
NEXMO_MAX_CONCURRENCY = env.integer("NEXMO_MAX_CONCURRENCY", 300, minimum=1)
# Templates: how often every WhatsApp Business Account's templates are pulled from Vonage, and the request rate of
# the Template Management API (Vonage documents 40 requests/s).
TEMPLATES_SYNC_MINUTES = env.integer("TEMPLATES_SYNC_MINUTES", 15, minimum=1)
TEMPLATES_API_RATE = env.number("TEMPLATES_API_RATE", 40.0, minimum=0.1)

# First key encrypts, every key decrypts (rotation). Never derived from anything in the repository (a key derived
# from the development SECRET_KEY would let anyone decrypt): `make run` generates one into the untracked
# .env.local, the test suite makes a throwaway one per process, and everything else must configure its own.
FIELD_ENCRYPTION_KEYS = env.fernet_keys("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not TESTING:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold at least one Fernet key (comma-separated; the first encrypts, all "
            "decrypt). For local development `make run` generates one into .env.local."
        )
    FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "accounts",
    "contacts",
    "providers",
    "templates_app",
    "campaigns",
    "journeys",
    "conversations",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whatsapp_project.middleware.RefuseUnstorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into accounts.throttling.login_locked_out.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "whatsapp_project.urls"
WSGI_APPLICATION = "whatsapp_project.wsgi.application"
ASGI_APPLICATION = "whatsapp_project.asgi.application"

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
                "accounts.context_processors.roles",
                "conversations.context_processors.inbox",
            ],
        },
    },
]

# PostgreSQL only. Unset, DATABASE_URL names the project's own server that `make run` starts
# (whatsapp_project/localdb.py); `make test` and `make bench` export the address of the one they start.
DATABASES = {"default": env.database("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/whatsapp")}
DATABASES["default"]["CONN_MAX_AGE"] = env.integer("CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.text("REDIS_URL", default="").strip()
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}.")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
elif TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # A file cache is shared by the web server and the worker, so /healthz can see the worker's heartbeat.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(BASE_DIR / "var" / "cache"),
        }
    }

Q_CLUSTER: dict[str, object] = {
    "name": "whatsapp",
    "workers": env.integer("Q_WORKERS", 2, minimum=1),
    "recycle": 500,
    # A task may run this long before it is killed; it is retried only after `retry` seconds, so the two never
    # overlap (timeout < retry), and at most `max_attempts` times.
    "timeout": env.integer("Q_TIMEOUT", 600, minimum=10),
    "retry": env.integer("Q_RETRY", 660, minimum=11),
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Background tasks",
    "cache": "default",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# How long one journeys clock task runs timed steps as they fall due before handing over (journeys.services);
# 0 leaves timed steps to the minute tick (the tests, where tasks run inline).
JOURNEYS_CLOCK_SECONDS = env.integer("JOURNEYS_CLOCK_SECONDS", 0 if TESTING else 50, minimum=0)
if TESTING:
    Q_CLUSTER["sync"] = True
if int(Q_CLUSTER["timeout"]) >= int(Q_CLUSTER["retry"]):  # type: ignore[call-overload]
    raise ImproperlyConfigured("Q_TIMEOUT must be smaller than Q_RETRY, or a slow task would run twice at once.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing cost buys nothing in tests and dominates the fixtures' run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Failed sign-ins (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one username, or from one address, lock
# that username or address out for LOGIN_LOCKOUT_MINUTES; a successful sign-in clears its count. Failures are rows
# in the database (axes' database handler), shared by every server process with or without Redis (axes refuses the
# file cache we use without Redis) and listed in the admin; successful sign-ins are not logged.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_LOCKOUT_MINUTES = env.integer("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_DISABLE_ACCESS_LOG = True
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.login_locked_out"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.text("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The journey canvas's layout library comes from npm (package.json, installed by `make install`), served from there.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/dagre", BASE_DIR / "node_modules/@dagrejs/dagre/dist")]
STATIC_ROOT = BASE_DIR / "static_root"

# Callbacks answer 413 above this; keep Django's own limit just above it so we decide, not Django.
CALLBACK_MAX_BODY_BYTES = 256 * 1024
# Database connections per server process writing callbacks on the ASGI fast path (providers/asgi.py). One makes
# the largest batches (everything that arrives while it commits) and measured best on 2 cores; more overlap commits
# when the database is far away.
CALLBACK_DB_THREADS = env.integer("CALLBACK_DB_THREADS", 1, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=CALLBACK_MAX_BODY_BYTES
)

API_TOKEN_THROTTLE_RATE = env.text("API_TOKEN_THROTTLE_RATE", "1200/minute").strip()
if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day|s|m|h|d)", API_TOKEN_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"API_TOKEN_THROTTLE_RATE must look like 1200/minute (per second, minute, hour or day), "
        f"got {API_TOKEN_THROTTLE_RATE!r}."
    )

# Uploads: the contact import takes files up to CONTACT_IMPORT_MAX_BYTES and keeps them in CONTACT_IMPORT_DIR until
# imported; an audience list up to AUDIENCE_LIST_MAX_BYTES. The first upload handler stops any file past the larger
# of the two as its chunks arrive (whatsapp_project/uploads.py), before the rest is written anywhere.
CONTACT_IMPORT_MAX_BYTES = env.integer("CONTACT_IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1)
CONTACT_IMPORT_DIR = BASE_DIR / "var" / "imports"
AUDIENCE_LIST_MAX_BYTES = env.integer("AUDIENCE_LIST_MAX_BYTES", 100 * 1024 * 1024, minimum=1)
FILE_UPLOAD_HANDLERS = [
    "whatsapp_project.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsMarketer"],
    # JSON refused with a 400 when nested too deep or holding NUL / lone surrogates (whatsapp_project/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "whatsapp_project.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "whatsapp_project.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "whatsapp_project.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "whatsapp_project.api.exception_handler",
    # Token-authenticated clients (scripts, integrations) get a request rate; 429 carries Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_token": API_TOKEN_THROTTLE_RATE},
    "UNAUTHENTICATED_USER": None,
}
# The schema maps every endpoint and field: signed-in users only, unless this opens it (accounts.permissions).
API_DOCS_PUBLIC = env.flag("API_DOCS_PUBLIC", False)
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": ["accounts.permissions.ApiDocsReader"],
    "TITLE": "WhatsApp Engage API",
    "DESCRIPTION": "Providers, templates, contacts, segments, campaigns and journeys over WhatsApp (Nexmo).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Production hardening: on whenever DEBUG is off (`manage.py check --deploy` is clean with these).
# X-Forwarded-Proto says "https" only if a proxy we run set it; anyone can send it to a server reached directly.
BEHIND_PROXY = env.flag("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL])
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own): scripts, styles and everything else from this site only, no inline code
# (templates load static files; tests/foundation/test_csp.py keeps it so). data: images for Swagger UI's icons.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Keys, secrets and passwords stay out of error pages and error emails, DEBUG or not (whatsapp_project/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "whatsapp_project.reporting.SecretsHiddenFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
    # axes: failures and lockouts are warnings; its start-up banner and per-sign-in notes are not worth a line.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
