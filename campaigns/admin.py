from django.contrib import admin

from campaigns.models import Campaign, CampaignRecipient


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "template", "status", "throttle_per_second", "scheduled_at", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["name"]
    readonly_fields = ["status", "pause_reason", "stats", "stats_at", "planned_at", "started_at", "completed_at"]


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ["phone", "campaign", "state", "skip_reason", "message"]
    list_filter = ["state", "skip_reason"]
    search_fields = ["phone"]
    raw_id_fields = ["campaign", "contact", "message"]
