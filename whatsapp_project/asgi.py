"""ASGI entry point for production: Nexmo's callback URLs on a lean fast path, everything else through Django.

Serve with `gunicorn whatsapp_project.asgi:application -k uvicorn_worker.UvicornWorker -w N` (see README, "Running at
scale").
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
django_application = get_asgi_application()

from providers.asgi import CallbackFastPath  # noqa: E402  (after Django is set up)

application = CallbackFastPath(django_application)
