from django.urls import path

from campaigns import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/new/reach.json", views.campaign_new_reach, name="campaign-new-reach"),
    path("campaigns/new/details/", views.campaign_new_details, name="campaign-new-details"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-show"),
    path("campaigns/<int:pk>/progress.json", views.campaign_progress, name="campaign-progress"),
    path("campaigns/<int:pk>/recipients.csv", views.campaign_export, name="campaign-export"),
    path("campaigns/<int:pk>/<slug:action>/", views.campaign_action, name="campaign-action"),
]
