from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from providers.content import CustomTemplateContent, TemplateContent
from templates_app import services
from templates_app.models import Template
from templates_app.selectors import templates_approved, templates_export

from .conftest import RecordingSend
from .factories import contact_make, provider_make, template_data, template_make

pytestmark = pytest.mark.django_db


def test_the_first_template_asks_for_the_namespace_and_stores_it_on_the_provider() -> None:
    provider = provider_make(whatsapp_namespace="")
    with pytest.raises(ValidationError) as caught:
        services.template_create(provider=provider, data=template_data())
    assert "no WhatsApp namespace" in caught.value.message_dict["whatsapp_namespace"][0]
    assert not Template.objects.exists()

    services.template_create(provider=provider, data=template_data(), whatsapp_namespace="abc_123")
    provider.refresh_from_db()
    assert provider.whatsapp_namespace == "abc_123"
    # Later templates need no namespace.
    services.template_create(provider=provider, data=template_data(name="other"))


def test_a_namespace_differing_from_the_providers_is_refused() -> None:
    provider = provider_make(whatsapp_namespace="ns_a")
    with pytest.raises(ValidationError) as caught:
        services.template_create(provider=provider, data=template_data(), whatsapp_namespace="ns_b")
    assert "already ns_a" in caught.value.message_dict["whatsapp_namespace"][0]


def test_name_and_language_are_unique_per_provider_with_the_error_on_name() -> None:
    provider = provider_make()
    services.template_create(provider=provider, data=template_data())
    with pytest.raises(ValidationError) as caught:
        services.template_create(provider=provider, data=template_data())
    assert "once per language in each provider config" in caught.value.message_dict["name"][0]
    services.template_create(provider=provider, data=template_data(language="pt_BR"))
    services.template_create(provider=provider_make(), data=template_data())
    assert Template.objects.filter(name="spring_sale").count() == 3


def test_invalid_templates_are_not_saved() -> None:
    with pytest.raises(ValidationError) as caught:
        services.template_create(provider=provider_make(), data=template_data(body="x" * 1025, footer="y" * 61))
    assert set(caught.value.message_dict) == {"body", "footer"}
    assert not Template.objects.exists()


def test_copy_to_another_language_starts_as_a_draft_to_submit() -> None:
    original = template_make(status="approved", footer="Bye")
    copy = services.template_copy(template=original, language="pt_BR")
    assert (copy.name, copy.language, copy.status, copy.footer) == (original.name, "pt_BR", "draft", "Bye")
    with pytest.raises(ValidationError) as caught:
        services.template_copy(template=original, language="pt_BR")
    assert "name" in caught.value.message_dict


def test_templates_approved_lists_only_approved_ones_per_provider() -> None:
    approved = template_make(status="approved")
    template_make(status="pending", provider=approved.provider)
    template_make(status="rejected", provider=approved.provider)
    other = template_make(status="approved")
    assert set(templates_approved()) == {approved, other}
    assert list(templates_approved(provider=approved.provider)) == [approved]


def test_export_then_import_round_trips_into_another_provider() -> None:
    source = provider_make(whatsapp_namespace="ns_src")
    template_make(provider=source, name="a", header_type="image", header_media_url="https://x.io/a.png")
    template_make(provider=source, name="b", buttons=[{"type": "quick_reply", "text": "Yes"}])
    document = templates_export(provider=source)
    target = provider_make(whatsapp_namespace="")

    result = services.templates_import(provider=target, document=document)

    assert (result.created, result.updated) == (2, 0)
    target.refresh_from_db()
    assert target.whatsapp_namespace == "ns_src"
    assert templates_export(provider=target)["templates"] == document["templates"]
    again = services.templates_import(provider=target, document=document)
    assert (again.created, again.updated) == (0, 2)


def test_import_saves_nothing_if_any_row_is_invalid() -> None:
    provider = provider_make()
    rows = [template_data(name="good"), template_data(name="bad", body="{{2}}"), template_data(name="good")]
    with pytest.raises(ValidationError) as caught:
        services.templates_import(provider=provider, document={"templates": rows})
    messages = caught.value.message_dict["templates"]
    assert any("Template 2 (bad, en_US): body:" in m for m in messages)
    assert any("Template 3 (good, en_US): appears twice" in m for m in messages)
    assert not Template.objects.exists()


def test_import_refuses_a_document_of_the_wrong_shape() -> None:
    with pytest.raises(ValidationError):
        services.templates_import(provider=provider_make(), document={"rows": []})


def test_test_send_calls_message_send_per_recipient(fake_send: RecordingSend) -> None:
    template = template_make(status="pending")
    profile = contact_make(is_test_profile=True)

    preview, outcomes = services.template_test_send(
        template=template, to=["+447700900999"], contacts=[profile], parameters={"1": "Ann", "2": "SPRING"}
    )

    assert preview == "Hi Ann, your code is SPRING."
    assert [o.to for o in outcomes] == [profile.phone, "+447700900999"]
    assert all(o.ok and o.status_code == 202 for o in outcomes)
    first = fake_send.calls[0]
    assert first["provider"] == template.provider
    assert first["origin"] == "test" and first["origin_ref"] == f"template:{template.pk}"
    assert first["contact"] == profile and fake_send.calls[1]["contact"] is None
    assert first["content"] == TemplateContent(name=template.name, language="en_US", parameters=("Ann", "SPRING"))


def test_test_send_reports_refusals_and_nexmo_errors(fake_send: RecordingSend) -> None:
    template = template_make(body="Hi", header_type="image", header_media_url="https://x.io/a.png")
    fake_send.refuse["+447700900111"] = "Outside the 24-hour window."
    fake_send.status_code = 422

    _, outcomes = services.template_test_send(template=template, to=["+447700900111", "+447700900222"])

    refused, rejected = outcomes
    assert (refused.ok, refused.error, refused.status_code) == (False, "Outside the 24-hour window.", None)
    assert (rejected.ok, rejected.status_code, rejected.body) == (False, 422, {"title": "Invalid"})
    assert isinstance(fake_send.calls[0]["content"], CustomTemplateContent)


def test_test_send_refuses_bad_numbers_and_missing_values_before_sending(fake_send: RecordingSend) -> None:
    template = template_make()
    with pytest.raises(ValidationError) as caught:
        services.template_test_send(template=template, to=["12"], parameters={"1": "a", "2": "b"})
    assert "to" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.template_test_send(template=template, to=["+447700900222"], parameters={"1": "a"})
    assert "{{2}}" in caught.value.message_dict["parameters"][0]
    with pytest.raises(ValidationError):
        services.template_test_send(template=template, parameters={"1": "a", "2": "b"})
    assert fake_send.calls == []


def test_a_typed_number_of_a_known_contact_is_sent_with_that_contact(fake_send: RecordingSend) -> None:
    contact = contact_make(phone="+447700900333")
    services.template_test_send(template=template_make(body="Hi"), to=["447700900333"])
    assert fake_send.calls[0]["contact"] == contact and fake_send.calls[0]["to"] == "+447700900333"
