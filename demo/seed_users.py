"""Demo users: `admin` (staff) and `marketer` (Marketer role), both with the local demo password."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import MARKETER_GROUP

DEMO_PASSWORD = "whatsapp-demo"


def seed() -> str:
    User = get_user_model()
    created = []
    admin, was_created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
    )
    if was_created:
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        created.append("admin")
    marketer, was_created = User.objects.get_or_create(username="marketer", defaults={"email": "m@example.com"})
    if was_created:
        marketer.set_password(DEMO_PASSWORD)
        marketer.save()
        created.append("marketer")
    marketer.groups.add(Group.objects.get(name=MARKETER_GROUP))
    return f"Users: {'created ' + ', '.join(created) if created else 'already there'}."
