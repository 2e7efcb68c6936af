from django.http import HttpRequest

from accounts.roles import is_marketer
from conversations.selectors import conversations_unread_count


def inbox(request: HttpRequest) -> dict[str, object]:
    """The navigation's unread badge: open conversations with unread messages (for those who use the inbox)."""
    user = getattr(request, "user", None)
    if not is_marketer(user):
        return {}
    # The count is a function: the template calls it once, where the badge is drawn (never for a page without one).
    return {"inbox_shown": True, "inbox_unread": conversations_unread_count}
