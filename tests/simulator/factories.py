"""Provider configs whose keys the simulator can check."""

from __future__ import annotations

import factory

from providers.models import ProviderConfig


class ProviderConfigFactory(factory.django.DjangoModelFactory[ProviderConfig]):
    class Meta:
        model = ProviderConfig

    nickname = factory.Sequence(lambda n: f"Provider {n}")
    phone_number = factory.Sequence(lambda n: f"+4477009{n:05d}")
    application_id = factory.Faker("uuid4")
    private_key = ""
    signature_secret = "db-signature-secret-of-32-bytes-or-more"
    api_version = "v0.1"
