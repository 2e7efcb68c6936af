"""The simulated Template Management API: list with filters and pagination, create, delete, review, control."""

from __future__ import annotations

import time
from typing import Any

import httpx

from providers.simulator import SimulatorHandle
from tests.simulator.conftest import HTTP, Keys, keys_new

WABA = "345688589250625"


def api(simulator: SimulatorHandle, keys: Keys, method: str, path: str = "", **kwargs: Any) -> httpx.Response:
    url = f"{simulator.base_url}/v2/whatsapp-manager/wabas/{WABA}/templates{path}"
    return HTTP.request(method, url, headers={"Authorization": keys.bearer()}, **kwargs)


def control(simulator: SimulatorHandle, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    if body is None:
        return HTTP.get(f"{simulator.base_url}/_sim/templates{path}")
    return HTTP.post(f"{simulator.base_url}/_sim/templates{path}", json=body)


def template(name: str, body: str = "Hi {{1}}", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "language": extra.pop("language", "en_US"),
        "category": extra.pop("category", "MARKETING"),
        "components": [{"type": "BODY", "text": body, "example": {"body_text": [["Ann"]]}}],
        **extra,
    }


def test_a_created_template_is_pending_then_approved_after_the_review_delay(simulator: Any, keys: Keys) -> None:
    control(simulator, "/config", {"review_delay_s": 0.2})
    created = api(simulator, keys, "POST", json=template("spring_sale"))
    assert created.status_code == 200
    assert created.json()["status"] == "PENDING" and created.json()["id"]

    assert api(simulator, keys, "GET").json()["templates"][0]["status"] == "PENDING"
    time.sleep(0.25)
    listed = api(simulator, keys, "GET").json()["templates"][0]
    assert (listed["name"], listed["status"], listed["category"]) == ("spring_sale", "APPROVED", "MARKETING")
    assert api(simulator, keys, "GET", f"/{created.json()['id']}").json()["status"] == "APPROVED"


def test_names_or_bodies_matching_the_pattern_are_rejected_with_the_reason(simulator: Any, keys: Keys) -> None:
    control(simulator, "/config", {"review_delay_s": 0, "reject_pattern": "(?i)free money", "reject_reason": "SCAM"})
    assert api(simulator, keys, "POST", json=template("ok_one")).json()["status"] == "APPROVED"
    refused = api(simulator, keys, "POST", json=template("bad_one", body="FREE MONEY for {{1}}"))
    assert refused.json()["status"] == "REJECTED"
    bad = next(t for t in api(simulator, keys, "GET").json()["templates"] if t["name"] == "bad_one")
    assert bad["rejected_reason"] == "SCAM"


def test_the_list_pages_with_after_cursors_until_there_is_no_next(simulator: Any, keys: Keys) -> None:
    assert control(simulator, "/seed", {"waba_id": WABA, "count": 5, "prefix": "bulk"}).json()["created"] == 5
    names: list[str] = []
    after = None
    pages = 0
    while True:
        page = api(simulator, keys, "GET", params={"limit": 2, **({"after": after} if after else {})}).json()
        pages += 1
        names += [t["name"] for t in page["templates"]]
        if "next" not in page["paging"]:
            break
        after = page["paging"]["cursors"]["after"]
    assert pages == 3
    assert names == [f"bulk_{n:06d}" for n in range(5)]


def test_the_list_filters_by_status_language_category_and_name(simulator: Any, keys: Keys) -> None:
    control(simulator, "/config", {"review_delay_s": 100})
    api(simulator, keys, "POST", json=template("alpha_offer"))
    api(simulator, keys, "POST", json=template("beta_offer", language="fr", category="UTILITY"))
    control(simulator, "/status", {"name": "alpha_offer", "language": "en_US", "status": "APPROVED"})

    def names(**params: str) -> list[str]:
        return [t["name"] for t in api(simulator, keys, "GET", params=params).json()["templates"]]

    assert names(status="APPROVED") == ["alpha_offer"]
    assert names(language="fr") == ["beta_offer"]
    assert names(category="UTILITY") == ["beta_offer"]
    assert names(name="ALPHA") == ["alpha_offer"]
    assert names(content="hi") == ["alpha_offer", "beta_offer"]


def test_create_refuses_bad_templates_and_duplicates_with_invalid_parameters(simulator: Any, keys: Keys) -> None:
    bad = api(simulator, keys, "POST", json={"name": "Bad Name", "language": "en_US", "category": "PROMO"})
    assert bad.status_code == 400
    assert {p["name"] for p in bad.json()["invalid_parameters"]} == {"name", "category", "components"}
    assert api(simulator, keys, "POST", json=template("twice")).status_code == 200
    again = api(simulator, keys, "POST", json=template("twice"))
    assert again.status_code == 400 and again.json()["invalid_parameters"][0]["name"] == "name"


def test_delete_by_name_removes_every_language(simulator: Any, keys: Keys) -> None:
    api(simulator, keys, "POST", json=template("promo"))
    api(simulator, keys, "POST", json=template("promo", language="fr"))
    assert api(simulator, keys, "DELETE", params={"name": "promo"}).status_code == 200
    assert api(simulator, keys, "GET").json()["templates"] == []
    assert api(simulator, keys, "DELETE", params={"name": "promo"}).status_code == 404


def test_the_management_api_needs_a_valid_jwt(simulator: Any) -> None:
    stranger = keys_new()
    url = f"{simulator.base_url}/v2/whatsapp-manager/wabas/{WABA}/templates"
    assert HTTP.get(url).status_code == 401
    assert HTTP.get(url, headers={"Authorization": stranger.bearer()}).status_code == 401


def test_over_the_rate_limit_answers_429(simulator: Any, keys: Keys) -> None:
    control(simulator, "/config", {"rate_limit": 3})
    codes = [api(simulator, keys, "GET").status_code for _ in range(6)]
    assert codes[:3] == [200, 200, 200] and 429 in codes
    assert control(simulator, "").json()["counters"]["throttled"] >= 1


def test_the_status_control_pauses_a_template_with_a_reason(simulator: Any, keys: Keys) -> None:
    control(simulator, "/config", {"review_delay_s": 0})
    api(simulator, keys, "POST", json=template("promo"))
    answer = control(simulator, "/status", {"name": "promo", "language": "en_US", "status": "PAUSED", "reason": "Low"})
    assert answer.status_code == 200
    listed = api(simulator, keys, "GET").json()["templates"][0]
    assert (listed["status"], listed["rejected_reason"], listed["quality_score"]["score"]) == ("PAUSED", "Low", "RED")


def test_the_status_control_refuses_bad_input(simulator: Any) -> None:
    assert control(simulator, "/status", {"name": "x", "language": "en_US", "status": "GONE"}).status_code == 400
    assert control(simulator, "/status", {"name": "", "language": "", "status": "PAUSED"}).status_code == 400
    assert control(simulator, "/status", {"name": "nope", "language": "en_US", "status": "PAUSED"}).status_code == 404
    assert control(simulator, "/config", {"review_delay": 1}).status_code == 400
    assert control(simulator, "/config", {"reject_pattern": "("}).status_code == 400


def test_the_status_control_refuses_cross_origin_browser_requests(simulator: Any) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/_sim/templates/status",
        json={"name": "promo", "language": "en_US", "status": "PAUSED"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_media_upload_gives_a_handle_for_images_and_videos_only(simulator: Any, keys: Keys) -> None:
    url = f"{simulator.base_url}/v2/whatsapp-manager/media/uploads"
    headers = {"Authorization": keys.bearer()}
    files = {"mediafile": ("hero.png", b"png-bytes", "image/png")}
    answer = HTTP.post(url, params={"file_type": "image/png"}, files=files, headers=headers)
    assert answer.status_code == 200 and answer.json()["h"].startswith("4::")
    refused = HTTP.post(url, params={"file_type": "application/pdf"}, files=files, headers=headers)
    assert refused.status_code == 400
    assert HTTP.post(url, params={"file_type": "image/png"}, files=files).status_code == 401
