from django.http import HttpRequest

from accounts.roles import is_marketer
from conversations.selectors import conversations_unread_count


def inbox(request: HttpRequest) -> dict[str, object]:
    """The navigation's unread badge: open conversations with unread messages (for those who use the inbox)."""
    user = getattr(request, "user", None)
    if not is_marketer(user):
        return {}
    return {"inbox_unread": lambda: conversations_unread_count()}
