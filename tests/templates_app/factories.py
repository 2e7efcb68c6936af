from __future__ import annotations

from typing import Any

import factory

from contacts.models import Contact
from providers.models import ProviderConfig
from templates_app.models import Template


class ProviderConfigFactory(factory.django.DjangoModelFactory[ProviderConfig]):
    class Meta:
        model = ProviderConfig

    nickname = factory.Sequence(lambda n: f"Number {n}")
    phone_number = factory.Sequence(lambda n: f"+4477009{n:05d}")
    application_id = factory.Sequence(lambda n: f"app-{n}")
    private_key = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n"
    signature_secret = ""
    whatsapp_namespace = "ns_0001"


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+4477009{n + 50000:05d}")
    name = factory.Sequence(lambda n: f"Contact {n}")


class TemplateFactory(factory.django.DjangoModelFactory[Template]):
    class Meta:
        model = Template

    provider = factory.SubFactory(ProviderConfigFactory)
    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en_US"
    category = "marketing"
    status = "approved"
    body = "Hi {{1}}, your code is {{2}}."


def template_data(**overrides: Any) -> dict[str, Any]:
    """Valid template fields as the API and services take them."""
    data: dict[str, Any] = {
        "name": "spring_sale",
        "language": "en_US",
        "category": "marketing",
        "status": "approved",
        "header_type": "none",
        "header_text": "",
        "header_media_url": "",
        "header_location": {},
        "body": "Hi {{1}}, use code {{2}}.",
        "footer": "",
        "buttons": [],
    }
    data.update(overrides)
    return data


def provider_make(**fields: Any) -> ProviderConfig:
    provider: ProviderConfig = ProviderConfigFactory.create(**fields)
    return provider


def contact_make(**fields: Any) -> Contact:
    contact: Contact = ContactFactory.create(**fields)
    return contact


def template_make(**fields: Any) -> Template:
    template: Template = TemplateFactory.create(**fields)
    return template
