"""Demo templates for the "Demo WhatsApp" provider: text only, image header with quick replies, URL button."""

from __future__ import annotations

from typing import Any

from providers.models import ProviderConfig
from templates_app import services
from templates_app.models import Template

DEMO_PROVIDER = "Demo WhatsApp"
DEMO_NAMESPACE = "demo_namespace_0001"

DEMO_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "welcome",
        "language": "en_US",
        "category": "utility",
        "status": "approved",
        "body": "Hi {{1}}, welcome to our WhatsApp updates! Reply STOP at any time to opt out.",
        "footer": "Demo Store",
    },
    {
        "name": "spring_sale",
        "language": "en_US",
        "category": "marketing",
        "status": "approved",
        "header_type": "image",
        "header_media_url": "https://example.com/media/spring-sale.jpg",
        "body": "Hi {{1}}, our spring sale starts today: use code {{2}} for 20% off.",
        "footer": "Reply STOP to opt out",
        "buttons": [
            {"type": "quick_reply", "text": "Show me", "payload": "SALE_YES"},
            {"type": "quick_reply", "text": "Not now", "payload": "SALE_NO"},
        ],
    },
    {
        "name": "order_shipped",
        "language": "en_US",
        "category": "utility",
        "status": "approved",
        "header_type": "text",
        "header_text": "Order {{1}} is on its way",
        "body": "Hi {{1}}, your order has shipped and should arrive by {{2}}.",
        "buttons": [{"type": "url", "text": "Track order", "url": "https://example.com/track/{{1}}"}],
    },
)


def seed() -> str:
    provider = ProviderConfig.objects.filter(nickname=DEMO_PROVIDER).first()
    if provider is None:
        return f"Templates: skipped, no provider named {DEMO_PROVIDER!r}."
    created = []
    for data in DEMO_TEMPLATES:
        if Template.objects.filter(provider=provider, name=data["name"], language=data["language"]).exists():
            continue
        services.template_create(
            provider=provider, data=data, whatsapp_namespace=provider.whatsapp_namespace or DEMO_NAMESPACE
        )
        created.append(data["name"])
    return f"Templates: {'created ' + ', '.join(created) if created else 'already there'}."
