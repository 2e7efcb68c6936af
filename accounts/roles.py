"""The two roles: Marketer (a group) works with audiences and messaging; staff also manage providers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

MARKETER_GROUP = "Marketer"
# App labels whose models a Marketer may add, change, delete and view.
MARKETER_APPS = ("contacts", "templates_app", "campaigns", "journeys")
# Models a Marketer may only view (providers are configured by staff; secrets never leave the server).
MARKETER_VIEW_ONLY = (
    ("providers", "providerconfig"),
    ("providers", "message"),
    ("providers", "inboundmessage"),
)

View = TypeVar("View", bound=Callable[..., HttpResponse])


def is_marketer(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_staff", False):
        return True
    return user.groups.filter(name=MARKETER_GROUP).exists()  # type: ignore[attr-defined]


def is_staff(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


class RoleRequired(PermissionDenied):
    """Refused for a role the user lacks: `role` is "marketer" or "staff" (the 403 page says which)."""

    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(f"This page needs the {role} role.")


def _require(check: Callable[[Any], bool], role: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # LoginRequiredMiddleware has already sent anonymous users to the login page.
            if not check(request.user):
                raise RoleRequired(role)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


marketer_required = _require(is_marketer, "marketer")
staff_required = _require(is_staff, "staff")


def access_refusal(user: AbstractBaseUser | AnonymousUser | None, exception: Exception | None) -> dict[str, str]:
    """What the 403 page tells this user: the role the page needs, the roles they hold, and whom to ask."""
    if isinstance(exception, RoleRequired):
        needed = exception.role
    else:
        needed = "marketer" if not is_marketer(user) else "staff"
    if is_staff(user):
        held = "You are staff, so roles are not what stops you here"
        advice = "This action is not allowed on this item; go back and check its state."
    elif is_marketer(user):
        held = "You have the Marketer role: templates, contacts, segments, campaigns, journeys and messages are yours"
        advice = (
            "Staff manage the WhatsApp numbers and their secrets (you can still see the numbers under Settings). "
            "Ask an administrator for staff access if you need it."
        )
    else:
        held = "Your account has no role yet"
        advice = (
            "Ask an administrator for staff access to manage WhatsApp numbers."
            if needed == "staff"
            else "Ask an administrator for the Marketer role to work with templates, contacts, segments, campaigns "
            "and journeys."
        )
    needs = "staff access" if needed == "staff" else "the Marketer role"
    if is_staff(user):
        needs = "a permission that is not about roles"
    return {"needs": needs, "held": held, "advice": advice}


def marketer_group_sync(**kwargs: Any) -> None:
    """Grant the Marketer group its permissions; idempotent, runs after every migrate."""
    group, _ = Group.objects.get_or_create(name=MARKETER_GROUP)
    full = Permission.objects.filter(content_type__app_label__in=MARKETER_APPS)
    view_only = Permission.objects.none()
    for app_label, model in MARKETER_VIEW_ONLY:
        view_only |= Permission.objects.filter(
            content_type__app_label=app_label, content_type__model=model, codename__startswith="view_"
        )
    group.permissions.add(*full, *view_only)
