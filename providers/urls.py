from django.urls import path

from providers import views

urlpatterns = [
    path("settings/channels/whatsapp/", views.provider_list, name="provider-list"),
    path("messages/", views.message_list, name="message-list"),
]
