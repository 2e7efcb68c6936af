"""Request checks that apply to every page and API endpoint before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from whatsapp_project.safe_input import text_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseUnstorableInputMiddleware:
    """A NUL in a query string or form field answers 400 with the reason.

    PostgreSQL text cannot hold NUL, so such a value failed wherever it reached a query (a search, a filter, a
    saved field) with a 500; one check here covers every search box, filter and form. JSON bodies are checked by
    the API's parser (whatsapp_project/parsers.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem is not None:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": problem}, status=400)
            return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str | None:
        sources = [("query string", request.GET)]
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                sources.append(("form", request.POST))
            except MultiPartParserError as exc:
                return f"The form data cannot be read: {exc}"
        for where, data in sources:
            for key, values in data.lists():
                for text in (key, *values):
                    problem = text_problem(text)
                    if problem:
                        return f"The {where} field {key[:50]!r} cannot be taken. {problem}"
        return None
