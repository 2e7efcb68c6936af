from django.urls import path

from templates_app import views

urlpatterns = [
    path("templates/", views.template_list, name="template-list"),
    path("templates/new/", views.template_create, name="template-create"),
    path("templates/export/", views.template_export, name="template-export"),
    path("templates/import/", views.template_import, name="template-import"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template-edit"),
    path("templates/<int:pk>/copy/", views.template_copy, name="template-copy"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template-delete"),
    path("templates/<int:pk>/test/", views.template_test_send, name="template-test-send"),
    path("templates/<int:pk>/submit/", views.template_submit, name="template-submit"),
    path("templates/sync/<int:pk>/", views.templates_sync, name="templates-sync"),
]
