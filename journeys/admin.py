from django.contrib import admin

from journeys.models import Enrollment, Journey, JourneyStep, JourneyVersion


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "current_version", "entered_count", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    readonly_fields = ["status", "current_version", "entered_count"]


@admin.register(JourneyVersion)
class JourneyVersionAdmin(admin.ModelAdmin):
    list_display = ["journey", "number", "entry_node", "published_at"]
    readonly_fields = ["journey", "number", "trigger", "entry_node", "nodes", "published_at"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["journey", "contact", "state", "node", "next_run_at", "exit_reason", "entered_at"]
    list_filter = ["state", "exit_reason"]
    raw_id_fields = ["journey", "version", "contact", "wait_message"]


@admin.register(JourneyStep)
class JourneyStepAdmin(admin.ModelAdmin):
    list_display = ["enrollment", "node", "visit", "outcome", "created_at"]
    list_filter = ["outcome"]
    raw_id_fields = ["enrollment", "journey", "version", "message"]
