from django.urls import path

from journeys import views

urlpatterns = [
    path("journeys/", views.journey_list, name="journey-list"),
    path("journeys/new/", views.journey_create, name="journey-create"),
    path("journeys/<int:pk>/", views.journey_detail, name="journey-detail"),
    path("journeys/<int:pk>/graph/", views.journey_stats_fragment, name="journey-graph"),
    path("journeys/<int:pk>/settings/", views.journey_settings, name="journey-settings"),
    path("journeys/<int:pk>/nodes/add/", views.node_edit, name="journey-node-add"),
    path("journeys/<int:pk>/nodes/<str:node_id>/", views.node_edit, name="journey-node-edit"),
    path("journeys/<int:pk>/nodes/<str:node_id>/delete/", views.node_delete, name="journey-node-delete"),
    path("journeys/<int:pk>/publish/", views.journey_publish, name="journey-publish"),
    path("journeys/<int:pk>/pause/", views.journey_pause, name="journey-pause"),
    path("journeys/<int:pk>/resume/", views.journey_resume, name="journey-resume"),
    path("journeys/<int:pk>/stop/", views.journey_stop, name="journey-stop"),
]
