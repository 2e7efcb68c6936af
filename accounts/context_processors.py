from django.http import HttpRequest

from accounts.roles import is_marketer, is_staff


def roles(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {"user_is_marketer": is_marketer(user), "user_is_staff": is_staff(user)}
