"""Nexmo's RFC 7807 answers, shaped like the Messages API's documented errors.

Error object: https://developer.vonage.com/en/api/messages (v1) and https://developer.vonage.com/en/api/messages-olympus
(v0.1); codes: https://developer.vonage.com/en/api-errors/messages
"""

from __future__ import annotations

import uuid

from providers.simulator.http import Response, json_response

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, type_: str, title: str, detail: str, *, invalid: list[tuple[str, str]] | None = None
) -> Response:
    body: dict[str, object] = {"type": type_, "title": title, "detail": detail, "instance": uuid.uuid4().hex}
    if invalid:
        body["invalid_parameters"] = [{"name": name, "reason": reason} for name, reason in invalid]
    return json_response(status, body, content_type=PROBLEM_JSON)


def unauthorized() -> Response:
    return problem(
        401,
        "https://developer.nexmo.com/api-errors/#unathorized",  # sic: Vonage's own spelling
        "You did not provide correct credentials.",
        "Check that you're using the correct credentials, and that your account has this feature enabled",
    )


def invalid_params(version: str, invalid: list[tuple[str, str]]) -> Response:
    if version == "v0.1":
        # The v0.1 spec's Error example, answered with 400.
        return problem(
            400,
            "https://www.nexmo.com/messages/Errors#InvalidParams",
            "Invalid Parameters",
            "Your request parameters did not validate.",
            invalid=invalid,
        )
    return problem(
        422,
        "https://developer.vonage.com/api-errors/messages#1150",
        "Invalid params",
        "The value of one or more parameters is invalid.",
        invalid=invalid,
    )


def invalid_json(version: str, error: str) -> Response:
    if version == "v0.1":
        return invalid_params(version, [("body", f"is not valid JSON: {error}")])
    return problem(
        400, "https://developer.nexmo.com/api-errors#invalid-json", "The request body did not contain valid JSON", error
    )


def invalid_sender() -> Response:
    return problem(
        422,
        "https://developer.vonage.com/api-errors/messages#1120",
        "Invalid sender",
        "The `from` parameter is invalid for the given channel.",
    )


def throttled() -> Response:
    return problem(
        429,
        "https://developer.nexmo.com/api-errors/messages-olympus#1010",
        "Rate Limit Hit",
        "Please wait, then retry your request",
    )


def internal(status: int) -> Response:
    return problem(
        status,
        "https://developer.nexmo.com/api-errors/messages#1000",
        "Internal error",
        "There was an error processing your request in the Platform.",
    )


def not_found(detail: str) -> Response:
    return problem(404, "https://developer.vonage.com/api-errors#not-found", "Not Found", detail)


def method_not_allowed(allowed: str) -> Response:
    response = problem(405, "https://developer.vonage.com/api-errors#method-not-allowed", "Method Not Allowed", allowed)
    response.headers["Allow"] = allowed
    return response
