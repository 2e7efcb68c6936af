from django.urls import path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/export/", views.contact_export, name="contact-export"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/imports/new/", views.import_new, name="contact-import-new"),
    path("contacts/imports/<int:pk>/", views.import_detail, name="contact-import-detail"),
    path("contacts/imports/<int:pk>/status/", views.import_status, name="contact-import-status"),
    path("contacts/imports/<int:pk>/errors.csv", views.import_errors, name="contact-import-errors"),
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_create, name="segment-create"),
    path("segments/preview/", views.segment_preview, name="segment-preview"),
    path("segments/<int:pk>/", views.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment-edit"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment-delete"),
]
