from django.urls import path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contact-list"),
    path("segments/", views.segment_list, name="segment-list"),
]
