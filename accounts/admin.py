"""API tokens in the admin: who has one, its prefix and expiry; never the key (only its hash is stored)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "prefix", "created_at", "expires_at")
    search_fields = ("user__username", "prefix")
    fields = ("user", "prefix", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A key is shown once, to its owner, on the API token page.
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
