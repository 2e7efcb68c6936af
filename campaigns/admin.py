from django.contrib import admin
from django.http import HttpRequest

from campaigns.models import AudienceList, Campaign, CampaignRecipient


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "provider",
        "template",
        "audience",
        "status",
        "throttle_per_second",
        "scheduled_at",
        "created_at",
    ]
    list_filter = ["status", "audience", "provider"]
    search_fields = ["name"]
    raw_id_fields = ["audience_list"]
    readonly_fields = ["status", "pause_reason", "stats", "stats_at", "planned_at", "started_at", "completed_at"]


@admin.register(AudienceList)
class AudienceListAdmin(admin.ModelAdmin):
    """Uploaded lists are read once, through the wizard or the API; here they are shown, not edited."""

    list_display = ["name", "rows", "matched", "duplicates", "unmatched", "created_by", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["rows", "matched", "duplicates", "unmatched", "problems", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ["phone", "campaign", "state", "skip_reason", "message"]
    list_filter = ["state", "skip_reason"]
    search_fields = ["phone"]
    raw_id_fields = ["campaign", "contact", "message"]
