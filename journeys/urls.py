from django.urls import path

from journeys import views

urlpatterns = [
    path("journeys/", views.journey_list, name="journey-list"),
    path("journeys/new/", views.journey_create, name="journey-create"),
    path("journeys/<int:pk>/", views.journey_detail, name="journey-detail"),
    path("journeys/<int:pk>/settings/", views.journey_settings, name="journey-settings"),
    path("journeys/<int:pk>/canvas/", views.canvas_state, name="journey-canvas"),
    path("journeys/<int:pk>/canvas/edge/", views.canvas_edge, name="journey-canvas-edge"),
    path("journeys/<int:pk>/canvas/entry/", views.canvas_entry, name="journey-canvas-entry"),
    path("journeys/<int:pk>/canvas/delete/", views.canvas_delete, name="journey-canvas-delete"),
    path("journeys/<int:pk>/canvas/layout/", views.canvas_layout, name="journey-canvas-layout"),
    path("journeys/<int:pk>/canvas/test/", views.canvas_test, name="journey-canvas-test"),
    path("journeys/<int:pk>/canvas/panel/", views.node_panel, name="journey-node-panel"),
    path("journeys/<int:pk>/canvas/panel/<str:node_id>/", views.node_panel, name="journey-node-panel-edit"),
    path("journeys/<int:pk>/publish/", views.journey_publish, name="journey-publish"),
    path("journeys/<int:pk>/pause/", views.journey_pause, name="journey-pause"),
    path("journeys/<int:pk>/resume/", views.journey_resume, name="journey-resume"),
    path("journeys/<int:pk>/stop/", views.journey_stop, name="journey-stop"),
]
