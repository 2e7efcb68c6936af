from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.roles import is_marketer, is_staff


class IsMarketer(BasePermission):
    """Staff, or a member of the Marketer group (the API's default)."""

    message = "Your account needs the Marketer role (or staff) to use this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_marketer(request.user)


class IsStaff(BasePermission):
    message = "Only staff can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_staff(request.user)


class IsStaffOrMarketerReadOnly(BasePermission):
    """Marketers may read; only staff may write (providers)."""

    message = "Only staff can change this; marketers can only read it."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return is_marketer(request.user)
        return is_staff(request.user)


class ApiDocsReader(BasePermission):
    """The OpenAPI schema and its docs: signed-in users, or anyone when API_DOCS_PUBLIC is on."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.API_DOCS_PUBLIC or (request.user and request.user.is_authenticated))
