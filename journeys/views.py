from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import marketer_required


@marketer_required
def journey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "journeys/journey_list.html")
