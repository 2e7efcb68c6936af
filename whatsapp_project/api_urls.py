"""`/api/v1/`: one router; each app's `api.register(router)` adds its endpoints."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

API_MODULES = (
    "contacts.api",
    "providers.api",
    "templates_app.api",
    "campaigns.api",
    "journeys.api",
    "conversations.api",
)

router = DefaultRouter()
for module_name in API_MODULES:
    import_module(module_name).register(router)

urlpatterns = router.urls
