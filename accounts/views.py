from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.models import ApiToken

# What the page offers for a new token's lifetime (days; "" never expires).
EXPIRY_CHOICES = [("", "Never expires"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Create, replace or revoke the signed-in user's API token; the key is shown once, on creation."""
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware keeps anonymous users out
    token = ApiToken.objects.filter(user=user).first()
    context = {"token": token, "key": None, "expiry_choices": EXPIRY_CHOICES}
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"create", "regenerate"}:
            days = request.POST.get("expires_in_days", "")
            if days not in {value for value, _ in EXPIRY_CHOICES}:
                messages.error(request, "Choose one of the offered lifetimes.")
                return redirect("api-token")
            expires_at = timezone.now() + timedelta(days=int(days)) if days else None
            token, key = services.api_token_create(user=user, expires_at=expires_at)
            messages.success(request, "New API token created. Copy it now: it is not shown again.")
            return render(request, "accounts/api_token.html", context | {"token": token, "key": key})
        if action == "revoke" and token is not None:
            services.api_token_revoke(user=user)
            messages.success(request, "API token revoked: requests using it are now refused.")
        elif action != "revoke":
            messages.error(request, "Unknown action.")
        return redirect("api-token")
    return render(request, "accounts/api_token.html", context)
