"""`make run`'s demo number has a WhatsApp Business Account on the simulator, which starts with the demo's
templates: a sync keeps them approved and sendable instead of finding them deleted."""

from __future__ import annotations

import pytest

from demo import seed_provider, seed_templates
from providers.models import ProviderConfig
from providers.nexmo import client
from providers.simulator import SimulatorConfig, run_in_thread
from templates_app.models import Template
from templates_app.rules import template_send_refusal
from templates_app.sync import SCHEDULE_NAME, templates_sync


@pytest.mark.django_db(transaction=True)
def test_the_demo_number_syncs_its_templates_from_the_simulator() -> None:
    from django_q.models import Schedule

    seed_provider.seed()
    seed_templates.seed()
    provider = ProviderConfig.objects.get(nickname=seed_provider.NICKNAME)
    assert provider.waba_id == seed_provider.WABA_ID
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1

    with run_in_thread(SimulatorConfig(load_channels_from_db=True, callbacks=False)) as simulator:
        provider.api_base_url = simulator.base_url
        provider.save()
        client.jwt_cache_clear()
        report = templates_sync(provider=provider)

    assert report.created == 0 and report.removed == 0
    templates = Template.objects.filter(provider=provider)
    assert templates.count() == 3
    assert all(template_send_refusal(t) is None and t.external_id for t in templates)
    spring = templates.get(name="spring_sale")
    assert spring.header_type == "image" and spring.header_media_url == "https://example.com/media/spring-sale.jpg"
    # WhatsApp holds no quick-reply payloads: the sync keeps ours, which journeys branch on.
    assert [b.get("payload") for b in spring.buttons] == ["SALE_YES", "SALE_NO"]
