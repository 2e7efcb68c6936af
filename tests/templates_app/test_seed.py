import pytest

from demo import seed_templates
from templates_app.models import Template
from templates_app.rendering import template_render

from .factories import provider_make

pytestmark = pytest.mark.django_db


def test_seed_does_nothing_without_the_demo_provider() -> None:
    assert seed_templates.seed() == "Templates: skipped, no provider named 'Demo WhatsApp'."
    assert not Template.objects.exists()


def test_seed_creates_approved_templates_once_and_they_render() -> None:
    provider = provider_make(nickname="Demo WhatsApp", whatsapp_namespace="")
    assert seed_templates.seed() == "Templates: created welcome, spring_sale, order_shipped."
    assert seed_templates.seed() == "Templates: already there."
    assert set(Template.objects.filter(provider=provider).values_list("status", flat=True)) == {"approved"}
    provider.refresh_from_db()
    assert provider.whatsapp_namespace == seed_templates.DEMO_NAMESPACE
    sale = Template.objects.get(name="spring_sale")
    assert (sale.header_type, len(sale.buttons)) == ("image", 2)
    template_render(sale, parameters={"1": "Ann", "2": "SPRING"})
