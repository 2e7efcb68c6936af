from django.urls import path

from providers import callbacks, views

urlpatterns = [
    path("callbacks/nexmo/<str:callback_token>/inbound/", callbacks.inbound_callback, name="nexmo-inbound"),
    path("callbacks/nexmo/<str:callback_token>/status/", callbacks.status_callback, name="nexmo-status"),
    path("settings/channels/whatsapp/", views.provider_list, name="provider-list"),
    path("settings/channels/whatsapp/add/", views.provider_choose, name="provider-choose"),
    path("settings/channels/whatsapp/add/nexmo/", views.provider_add, name="provider-add"),
    path("settings/channels/whatsapp/<int:pk>/", views.provider_detail, name="provider-detail"),
    path("settings/channels/whatsapp/<int:pk>/edit/", views.provider_edit, name="provider-edit"),
    path(
        "settings/channels/whatsapp/<int:pk>/callback-token/",
        views.provider_token_regenerate,
        name="provider-token-regenerate",
    ),
    path("settings/channels/whatsapp/<int:pk>/test/", views.provider_test, name="provider-test"),
    path("messages/", views.message_list, name="message-list"),
]
