from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import marketer_required


@marketer_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/campaign_list.html")
