from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import marketer_required


@marketer_required
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "templates_app/template_list.html")
