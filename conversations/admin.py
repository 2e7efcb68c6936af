from django.contrib import admin

from conversations.models import Conversation, Note


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["author", "text", "created_at"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["author"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "provider", "status", "assignee", "unread_count", "last_message_at"]
    list_filter = ["status", "provider"]
    search_fields = ["contact__name", "contact__phone"]
    # Who handles it and whether it is open move through the services (they release the journey sends held for the
    # contact): the inbox and the API change them, the admin shows them.
    readonly_fields = [
        "contact",
        "provider",
        "status",
        "assignee",
        "unread_count",
        "last_message_at",
        "last_message_text",
        "created_at",
        "updated_at",
        "closed_at",
    ]
    inlines = [NoteInline]


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["conversation", "author", "created_at"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "author"]
