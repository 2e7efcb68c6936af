from django.urls import path

from providers import callbacks, views

urlpatterns = [
    path("callbacks/nexmo/<str:callback_token>/inbound/", callbacks.inbound_callback, name="nexmo-inbound"),
    path("callbacks/nexmo/<str:callback_token>/status/", callbacks.status_callback, name="nexmo-status"),
    path("settings/channels/whatsapp/", views.provider_list, name="provider-list"),
    path("messages/", views.message_list, name="message-list"),
]
