from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from whatsapp_project import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("", include("providers.urls")),
    path("", include("contacts.urls")),
    path("", include("templates_app.urls")),
    path("", include("campaigns.urls")),
    path("", include("journeys.urls")),
    path("", include("conversations.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("whatsapp_project.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script from a URL: the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler403 = "whatsapp_project.views.permission_denied"
handler404 = "whatsapp_project.views.not_found"
