from __future__ import annotations

from django.contrib import admin

from contacts.models import ConsentChange, Contact, ContactImport, ContactImportError, Event, Segment


class ConsentChangeInline(admin.TabularInline):
    model = ConsentChange
    extra = 0
    readonly_fields = ["consent", "source", "reason", "changed_at"]
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        # Consent changes only through contact_consent_set, so the history stays truthful.
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "phone",
        "name",
        "external_id",
        "whatsapp_consent",
        "is_test_profile",
        "last_inbound_at",
        "created_at",
    ]
    list_filter = ["whatsapp_consent", "is_test_profile", "language"]
    search_fields = ["phone", "name", "email", "external_id"]
    readonly_fields = ["whatsapp_consent", "consent_source", "consent_changed_at", "last_inbound_at", "last_import"]
    inlines = [ConsentChangeInline]
    show_full_result_count = False  # counting a million rows on every page is wasted work


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "contact", "occurred_at", "event_id"]
    list_filter = ["name"]
    search_fields = ["name", "event_id", "contact__phone", "contact__external_id"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "updated_at"]
    search_fields = ["name"]

    def save_model(self, request: object, obj: Segment, form: object, change: bool) -> None:
        from contacts.services import segment_definition_clean

        obj.definition = segment_definition_clean(obj.definition)
        super().save_model(request, obj, form, change)  # type: ignore[arg-type]


class ContactImportErrorInline(admin.TabularInline):
    model = ContactImportError
    extra = 0
    readonly_fields = ["row_number", "kind", "message", "values"]
    can_delete = False
    max_num = 0


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "status",
        "created_count",
        "updated_count",
        "skipped_count",
        "invalid_count",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["original_name"]
    readonly_fields = [f.name for f in ContactImport._meta.fields]
    inlines = [ContactImportErrorInline]

    def has_add_permission(self, request: object) -> bool:
        return False
