from django.urls import path

from accounts import views

urlpatterns = [path("account/api-token/", views.api_token, name="api-token")]
