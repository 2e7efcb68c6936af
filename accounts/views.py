from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token


@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Create, replace or revoke the signed-in user's API token."""
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware keeps anonymous users out
    token = Token.objects.filter(user=user).first()
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"create", "regenerate"}:
            Token.objects.filter(user=user).delete()
            token = Token.objects.create(user=user)
            messages.success(request, "New API token created. Copy it now and keep it secret.")
            return render(request, "accounts/api_token.html", {"token": token, "fresh": True})
        if action == "revoke" and token is not None:
            token.delete()
            messages.success(request, "API token revoked: requests using it are now refused.")
        elif action not in {"revoke"}:
            messages.error(request, "Unknown action.")
        return redirect("api-token")
    return render(request, "accounts/api_token.html", {"token": token, "fresh": False})
