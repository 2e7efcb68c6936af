"""Submit and sync through Vonage's Template Management API, with the gateway faked at the transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign, CampaignStatus
from providers.models import ProviderConfig
from providers.nexmo import templates as vonage
from providers.nexmo.errors import NexmoError
from templates_app import sync
from templates_app.models import Status, Template
from templates_app.rules import template_send_refusal
from tests.providers.factories import provider_make
from tests.templates_app.vonage_fake import WABA, FakeVonage, problem, remote

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> ProviderConfig:
    return provider_make(waba_id=WABA)


# --- the gateway --------------------------------------------------------------------------------------------------


def test_list_reads_page_one_then_page_two_by_the_after_cursor(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    vonage_fake.templates = [remote("a"), remote("b"), remote("c")]
    credentials = sync.provider_credentials(provider)

    first = vonage.templates_list_page(credentials=credentials, waba_id=WABA, limit=2)
    second = vonage.templates_list_page(credentials=credentials, waba_id=WABA, after=first.after, limit=2)

    assert [t["name"] for t in first.templates] == ["a", "b"] and first.after == "1"
    assert [t["name"] for t in second.templates] == ["c"] and second.after is None
    request = vonage_fake.requests[1]
    assert request.url.path == f"/v2/whatsapp-manager/wabas/{WABA}/templates"
    assert request.url.params["after"] == "1" and request.url.params["limit"] == "2"
    assert request.headers["authorization"].startswith("Bearer ey")  # the application's JWT


def test_list_passes_filters(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    vonage.templates_list_page(
        credentials=sync.provider_credentials(provider),
        waba_id=WABA,
        filters={"status": "APPROVED", "language": "en_US", "name": "sale"},
    )
    params = vonage_fake.requests[0].url.params
    assert (params["status"], params["language"], params["name"]) == ("APPROVED", "en_US", "sale")


def test_create_posts_the_template_and_returns_vonages_answer(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    body = {"name": "spring", "language": "en_US", "category": "MARKETING", "components": []}
    answer = vonage.template_create(credentials=sync.provider_credentials(provider), waba_id=WABA, template=body)
    assert answer == {"id": "9001", "status": "PENDING", "category": "MARKETING"}
    assert json.loads(vonage_fake.requests[0].content) == body


def test_delete_names_the_template_and_its_id(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    vonage.template_delete(credentials=sync.provider_credentials(provider), waba_id=WABA, name="spring", hsm_id="77")
    request = vonage_fake.requests[0]
    assert request.method == "DELETE" and dict(request.url.params) == {"name": "spring", "hsm_id": "77"}


def test_media_upload_sends_the_file_as_multipart_and_returns_the_handle(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    handle = vonage.media_upload(
        credentials=sync.provider_credentials(provider),
        filename="hero.png",
        content=b"\x89PNG...",
        file_type="image/png",
    )
    assert handle == "4::aGFuZGxl"
    request = vonage_fake.requests[0]
    assert request.url.path == "/v2/whatsapp-manager/media/uploads" and request.url.params["file_type"] == "image/png"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="mediafile"; filename="hero.png"' in request.content and b"\x89PNG..." in request.content


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
def test_error_answers_become_nexmo_errors(vonage_fake: FakeVonage, provider: ProviderConfig, status: int) -> None:
    vonage_fake.fail = lambda request: problem(status)
    with pytest.raises(NexmoError) as caught:
        vonage.templates_list_page(credentials=sync.provider_credentials(provider), waba_id=WABA)
    assert caught.value.status == status and caught.value.retryable is (status in (429, 500, 503))


def test_a_timeout_is_an_error_without_status(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    vonage_fake.fail = slow
    with pytest.raises(NexmoError) as caught:
        vonage.templates_list_page(credentials=sync.provider_credentials(provider), waba_id=WABA)
    assert caught.value.status is None


# --- sync ---------------------------------------------------------------------------------------------------------


def test_sync_creates_updates_and_counts_every_page(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    Template.objects.create(provider=provider, name="known", language="en_US", status="pending", body="Hi {{1}}")
    Template.objects.create(
        provider=provider, name="same", language="en_US", status="approved", body="Same", external_id="id-same"
    )
    vonage_fake.templates = [
        remote("known", status="REJECTED", rejected_reason="INVALID_FORMAT", quality_score={"score": "UNKNOWN"}),
        remote("same", body="Same"),
        remote("fresh", status="APPROVED", language="fr", quality_score={"score": "GREEN"}),
    ]

    report = sync.templates_sync(provider=provider)

    assert report.as_dict() == {"created": 1, "updated": 1, "unchanged": 1, "removed": 0}
    assert report.requests == 2  # two pages of two
    known = Template.objects.get(name="known")
    assert (known.status, known.rejected_reason, known.external_id) == ("rejected", "INVALID_FORMAT", "id-known")
    fresh = Template.objects.get(name="fresh")
    assert (fresh.language, fresh.status, fresh.quality_rating, fresh.body) == ("fr", "approved", "green", "Hi {{1}}")
    assert sync.templates_sync(provider=provider).as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "removed": 0,
    }


def test_sync_reads_components_into_our_fields(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    vonage_fake.templates = [
        remote(
            "rich",
            components=[
                {"type": "HEADER", "format": "TEXT", "text": "Hello {{1}}"},
                {"type": "BODY", "text": "Your order {{1}} ships {{2}}."},
                {"type": "FOOTER", "text": "Acme"},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {"type": "QUICK_REPLY", "text": "Yes"},
                        {"type": "URL", "text": "Track", "url": "https://acme.test/t/{{1}}"},
                        {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+447700900123"},
                        {"type": "COPY_CODE", "example": "SAVE"},
                    ],
                },
            ],
        )
    ]
    sync.templates_sync(provider=provider)
    rich = Template.objects.get(name="rich")
    assert (rich.header_type, rich.header_text, rich.footer) == ("text", "Hello {{1}}", "Acme")
    assert rich.buttons == [
        {"type": "quick_reply", "text": "Yes"},
        {"type": "url", "text": "Track", "url": "https://acme.test/t/{{1}}"},
        {"type": "phone_number", "text": "Call", "phone_number": "+447700900123"},
    ]


def test_templates_deleted_at_whatsapp_are_marked_never_deleted(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    gone = Template.objects.create(provider=provider, name="gone", language="en_US", status="approved", body="Hi")
    draft = Template.objects.create(provider=provider, name="mine", language="en_US", status="draft", body="Hi")
    vonage_fake.templates = []

    report = sync.templates_sync(provider=provider)

    assert report.as_dict()["removed"] == 1
    gone.refresh_from_db()
    draft.refresh_from_db()
    assert gone.removed_at is not None and template_send_refusal(gone) is not None
    assert draft.removed_at is None  # a draft is ours alone
    assert sync.templates_sync(provider=provider).as_dict()["removed"] == 0  # counted once


def test_a_failure_half_way_changes_nothing(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    Template.objects.create(provider=provider, name="a", language="en_US", status="pending", body="Hi")
    vonage_fake.templates = [remote("a"), remote("b"), remote("c")]
    vonage_fake.fail = lambda request: problem(503) if request.url.params.get("after") else None

    with pytest.raises(sync.TemplateSyncError, match="HTTP 503"):
        sync.templates_sync(provider=provider)

    assert list(Template.objects.values_list("name", "status")) == [("a", "pending")]


def test_sync_without_waba_id_says_what_is_missing(vonage_fake: FakeVonage) -> None:
    provider = provider_make(waba_id="")
    with pytest.raises(ValidationError) as caught:
        sync.templates_sync(provider=provider)
    assert "WhatsApp Business Account id" in caught.value.message_dict["waba_id"][0]
    assert vonage_fake.requests == []


def test_saving_a_number_with_an_account_id_makes_the_schedule_once(provider: ProviderConfig, settings: Any) -> None:
    from django_q.models import Schedule

    settings.TEMPLATES_SYNC_MINUTES = 7
    provider.save()
    provider.save()
    schedule = Schedule.objects.get(name=sync.SCHEDULE_NAME)
    assert (schedule.func, schedule.minutes) == ("templates_app.tasks.templates_sync_all", 7)


# --- reactions ----------------------------------------------------------------------------------------------------


def running_campaign(template: Template) -> Campaign:
    return Campaign.objects.create(
        name="Spring",
        provider=template.provider,
        template=template,
        audience="all_subscribed",
        status=CampaignStatus.RUNNING,
    )


def test_a_paused_template_pauses_its_running_campaign_with_the_reason(
    vonage_fake: FakeVonage, provider: ProviderConfig, django_capture_on_commit_callbacks: Any
) -> None:
    template = Template.objects.create(provider=provider, name="promo", language="en_US", status="approved", body="Hi")
    campaign = running_campaign(template)
    vonage_fake.templates = [remote("promo", status="PAUSED", body="Hi", rejected_reason="Low quality")]

    with django_capture_on_commit_callbacks(execute=True):
        report = sync.templates_sync(provider=provider)

    assert report.unusable == [template.pk]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "WhatsApp paused it: Low quality" in campaign.pause_reason and "promo" in campaign.pause_reason


def test_launching_with_a_paused_template_is_refused_with_the_reason(provider: ProviderConfig) -> None:
    from campaigns.services import campaign_schedule

    template = Template.objects.create(
        provider=provider, name="promo", language="en_US", status="paused", body="Hi", rejected_reason="Low quality"
    )
    campaign = Campaign.objects.create(name="Spring", provider=provider, template=template)
    with pytest.raises(ValidationError) as caught:
        campaign_schedule(campaign=campaign)
    assert caught.value.message_dict["template"] == [
        "Template 'promo' is paused by WhatsApp for low quality (Low quality); only approved templates can be sent."
    ]


# --- submit -------------------------------------------------------------------------------------------------------


def draft(provider: ProviderConfig, **fields: Any) -> Template:
    values: dict[str, Any] = {"name": "spring_sale", "language": "en_US", "status": "draft", "body": "Hi {{1}}"}
    return Template.objects.create(provider=provider, **{**values, **fields})


def test_submit_sends_the_components_with_examples(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    template = draft(
        provider,
        header_type="text",
        header_text="Hello {{1}}",
        body="Hi {{1}}, {{2}} off today.",
        footer="Acme",
        buttons=[
            {"type": "quick_reply", "text": "Yes"},
            {"type": "url", "text": "Shop", "url": "https://acme.test/s/{{1}}"},
        ],
    )

    sync.template_submit(template=template, examples={"header": "Ann", "1": "Ann", "2": "20%", "button.1": "spring"})

    sent = json.loads(vonage_fake.requests[0].content)
    assert sent == {
        "name": "spring_sale",
        "language": "en_US",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello {{1}}", "example": {"header_text": ["Ann"]}},
            {"type": "BODY", "text": "Hi {{1}}, {{2}} off today.", "example": {"body_text": [["Ann", "20%"]]}},
            {"type": "FOOTER", "text": "Acme"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Yes"},
                    {
                        "type": "URL",
                        "text": "Shop",
                        "url": "https://acme.test/s/{{1}}",
                        "example": ["https://acme.test/s/spring"],
                    },
                ],
            },
        ],
    }
    template.refresh_from_db()
    assert (template.status, template.external_id) == (Status.PENDING, "9001")


def test_submit_needs_an_example_of_every_variable(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    template = draft(provider, body="Hi {{1}}, {{2}} off.")
    with pytest.raises(ValidationError) as caught:
        sync.template_submit(template=template, examples={"1": "Ann"})
    assert caught.value.message_dict["examples"] == ["WhatsApp's reviewers need an example of {{2}}."]
    assert vonage_fake.requests == []


def test_submit_checks_our_rules_and_the_provider_first(vonage_fake: FakeVonage) -> None:
    template = draft(provider_make(waba_id=""), body="x" * 1025)
    with pytest.raises(ValidationError) as caught:
        sync.template_submit(template=template, examples={})
    assert set(caught.value.message_dict) >= {"waba_id", "body"}
    assert vonage_fake.requests == []


def test_only_a_draft_is_submitted(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    with pytest.raises(ValidationError, match="Only a draft"):
        sync.template_submit(template=draft(provider, status="approved"), examples={"1": "Ann"})


def test_vonages_refusal_comes_back_as_field_errors(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    vonage_fake.fail = lambda request: problem(
        400, invalid_parameters=[{"name": "name", "reason": "already exists in language"}]
    )
    template = draft(provider)
    with pytest.raises(ValidationError) as caught:
        sync.template_submit(template=template, examples={"1": "Ann"})
    errors = caught.value.message_dict
    assert errors["name"] == ["WhatsApp refused it: already exists in language"]
    assert "HTTP 400" in errors["__all__"][0]
    template.refresh_from_db()
    assert template.status == Status.DRAFT


def test_deleting_a_submitted_template_deletes_it_in_whatsapp(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    from templates_app.services import template_delete

    template = draft(provider, status="approved", external_id="77")
    template_delete(template=template)
    assert not Template.objects.filter(pk=template.pk).exists()
    assert dict(vonage_fake.requests[0].url.params) == {"name": "spring_sale", "hsm_id": "77"}


def test_a_refused_remote_delete_keeps_the_template(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    from templates_app.services import template_delete

    vonage_fake.fail = lambda request: problem(500)
    template = draft(provider, status="approved", external_id="77")
    with pytest.raises(ValidationError, match="Not deleted"):
        template_delete(template=template)
    assert Template.objects.filter(pk=template.pk).exists()


def test_a_campaign_cannot_resume_while_its_template_is_paused(provider: ProviderConfig) -> None:
    from campaigns.services import CampaignActionRefused, campaign_resume

    template = Template.objects.create(provider=provider, name="promo", language="en_US", status="paused", body="Hi")
    campaign = running_campaign(template)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.PAUSED)
    campaign.refresh_from_db()
    with pytest.raises(CampaignActionRefused, match="paused by WhatsApp"):
        campaign_resume(campaign=campaign)


def test_a_due_run_with_a_stopped_template_pauses_instead_of_sending(provider: ProviderConfig) -> None:
    from campaigns.services import campaign_run

    template = Template.objects.create(
        provider=provider, name="promo", language="en_US", status="disabled", body="Hi", rejected_reason="Policy"
    )
    campaign = running_campaign(template)
    campaign_run(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert (
        campaign.pause_reason
        == "Template 'promo' is disabled by WhatsApp (Policy); only approved templates can be sent."
    )


def test_an_image_header_is_submitted_with_the_uploaded_examples_handle(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    template = draft(provider, header_type="image", header_media_url="https://acme.test/hero.jpg")
    image = sync.ExampleFile(name="hero.jpg", content=b"jpeg-bytes", content_type="image/jpeg")
    sync.template_submit(template=template, examples={"1": "Ann"}, header_file=image)
    upload, create = vonage_fake.requests
    assert upload.url.path.endswith("/media/uploads")
    header = json.loads(create.content)["components"][0]
    assert header == {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aGFuZGxl"]}}


@pytest.mark.parametrize(
    ("header_type", "upload", "message"),
    [
        ("image", None, "Upload an example image"),
        ("video", sync.ExampleFile("a.gif", b"gif", "image/gif"), "JPEG or PNG image or an MP4 video"),
        ("document", sync.ExampleFile("a.pdf", b"pdf", "application/pdf"), "images and videos only"),
        ("none", sync.ExampleFile("a.png", b"png", "image/png"), "Only a template with an image or video header"),
    ],
)
def test_media_examples_are_checked_before_anything_is_sent(
    vonage_fake: FakeVonage, provider: ProviderConfig, header_type: str, upload: Any, message: str
) -> None:
    template = draft(provider, header_type=header_type)
    with pytest.raises(ValidationError) as caught:
        sync.template_submit(template=template, examples={"1": "Ann"}, header_file=upload)
    assert message in caught.value.message_dict["header_file"][0]
    assert vonage_fake.requests == []


def test_a_submit_without_answer_says_it_may_have_gone(vonage_fake: FakeVonage, provider: ProviderConfig) -> None:
    def slow(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow", request=request)
        return None

    vonage_fake.fail = slow
    template = draft(provider)
    with pytest.raises(ValidationError, match="may have been submitted"):
        sync.template_submit(template=template, examples={"1": "Ann"})
    template.refresh_from_db()
    assert template.status == Status.DRAFT


def test_an_inbox_reply_with_a_paused_template_is_refused_with_the_reason(provider: ProviderConfig) -> None:
    from conversations.models import Conversation
    from conversations.services import conversation_reply
    from tests.conversations.factories import customer_writes

    customer_writes(provider, "+447700900101")
    conversation = Conversation.objects.get()
    template = Template.objects.create(
        provider=provider, name="promo", language="en_US", status="paused", body="Hi", rejected_reason="Low quality"
    )
    with pytest.raises(ValidationError) as caught:
        conversation_reply(conversation=conversation, author=None, template=template)
    assert "paused by WhatsApp for low quality (Low quality)" in caught.value.message_dict["template"][0]


def test_rows_that_do_not_fit_are_skipped_or_cut_never_a_crash(
    vonage_fake: FakeVonage, provider: ProviderConfig
) -> None:
    vonage_fake.templates = [
        remote("odd", language="x" * 40),
        remote(
            "long",
            components=[{"type": "HEADER", "format": "TEXT", "text": "h" * 300}, {"type": "BODY", "text": "Hi"}],
        ),
        {"name": "", "language": "en_US"},
        "not an object",  # type: ignore[list-item]
    ]
    vonage_fake.page_size = 10
    assert sync.templates_sync(provider=provider).as_dict()["created"] == 1
    assert len(Template.objects.get(name="long").header_text) == 255
