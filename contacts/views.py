from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import marketer_required


@marketer_required
def contact_list(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/contact_list.html")


@marketer_required
def segment_list(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/segment_list.html")
