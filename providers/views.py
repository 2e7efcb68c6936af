from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import marketer_required


@marketer_required
def provider_list(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/provider_list.html")


@marketer_required
def message_list(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/message_list.html")
