"""Settings, read from the environment (and optional `.env` / `.env.local` files) with strict validation."""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from whatsapp_project.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env(BASE_DIR / ".env", BASE_DIR / ".env.local")

TESTING = env.flag("TESTING", "pytest" in sys.modules)

DEBUG = env.flag("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env.text("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
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

# First key encrypts, every key decrypts (rotation). Development derives a stable key from SECRET_KEY so that
# the project starts with no environment at all; production must configure real keys.
FIELD_ENCRYPTION_KEYS = env.fernet_keys("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold at least one Fernet key when DEBUG is off (comma-separated; "
            "the first encrypts, all decrypt)."
        )
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "accounts",
    "contacts",
    "providers",
    "templates_app",
    "campaigns",
    "journeys",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whatsapp_project.middleware.RefuseUnstorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.text("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
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
        "rest_framework.authentication.TokenAuthentication",
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
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
