from django.urls import path

from journeys import views

urlpatterns = [
    path("journeys/", views.journey_list, name="journey-list"),
]
