from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from providers.models import ProviderConfig

# WhatsApp's template languages (locale codes as WhatsApp spells them):
# https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/supported-languages
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("af", "Afrikaans"),
    ("sq", "Albanian"),
    ("ar", "Arabic"),
    ("az", "Azerbaijani"),
    ("bn", "Bengali"),
    ("bg", "Bulgarian"),
    ("ca", "Catalan"),
    ("zh_CN", "Chinese (CHN)"),
    ("zh_HK", "Chinese (HKG)"),
    ("zh_TW", "Chinese (TAI)"),
    ("hr", "Croatian"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("nl", "Dutch"),
    ("en", "English"),
    ("en_GB", "English (UK)"),
    ("en_US", "English (US)"),
    ("et", "Estonian"),
    ("fil", "Filipino"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("ka", "Georgian"),
    ("de", "German"),
    ("el", "Greek"),
    ("gu", "Gujarati"),
    ("ha", "Hausa"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("ga", "Irish"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("kn", "Kannada"),
    ("kk", "Kazakh"),
    ("rw_RW", "Kinyarwanda"),
    ("ko", "Korean"),
    ("ky_KG", "Kyrgyz (Kyrgyzstan)"),
    ("lo", "Lao"),
    ("lv", "Latvian"),
    ("lt", "Lithuanian"),
    ("mk", "Macedonian"),
    ("ms", "Malay"),
    ("ml", "Malayalam"),
    ("mr", "Marathi"),
    ("nb", "Norwegian"),
    ("fa", "Persian"),
    ("pl", "Polish"),
    ("pt_BR", "Portuguese (BR)"),
    ("pt_PT", "Portuguese (POR)"),
    ("pa", "Punjabi"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sr", "Serbian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("es", "Spanish"),
    ("es_AR", "Spanish (ARG)"),
    ("es_ES", "Spanish (SPA)"),
    ("es_MX", "Spanish (MEX)"),
    ("sw", "Swahili"),
    ("sv", "Swedish"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("zu", "Zulu"),
)


class Category(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    UTILITY = "utility", "Utility"
    AUTHENTICATION = "authentication", "Authentication"


class Status(models.TextChoices):
    """WhatsApp's review lifecycle, plus `draft` (ours: written here, not submitted yet).

    draft → pending (submitted) → approved | rejected (with WhatsApp's reason); an approved template may later be
    paused (low quality, for hours) or disabled (for good) by WhatsApp. Only `approved` is sendable.
    """

    DRAFT = "draft", "Draft"
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PAUSED = "paused", "Paused by WhatsApp"
    DISABLED = "disabled", "Disabled by WhatsApp"


# Statuses WhatsApp moves a template into that stop it from being sent: campaigns using it pause, journeys skip it.
UNUSABLE_STATUSES = (Status.REJECTED, Status.PAUSED, Status.DISABLED)


class QualityRating(models.TextChoices):
    """WhatsApp's quality score of a template (Vonage's `quality_score`), where it gives one."""

    GREEN = "green", "High"
    YELLOW = "yellow", "Medium"
    RED = "red", "Low"
    UNKNOWN = "unknown", "Not rated yet"


class HeaderType(models.TextChoices):
    NONE = "none", "None"
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    DOCUMENT = "document", "Document"
    LOCATION = "location", "Location"


MEDIA_HEADERS = (HeaderType.IMAGE, HeaderType.VIDEO, HeaderType.DOCUMENT)
# What WhatsApp says about a template: written by submit and sync (templates_app.sync), read-only in the API and admin.
WHATSAPP_FIELDS = ("rejected_reason", "quality_rating", "external_id", "synced_at", "removed_at")

UNIQUE_NAME_MESSAGE = (
    "This provider already has a template with this name in this language; "
    "a name may be used once per language in each provider config."
)


class Template(models.Model):
    """A WhatsApp message template registered on one provider config (a WhatsApp Business number).

    Lengths are checked by `templates_app.rules` (WhatsApp's limits, with WhatsApp's wording), not by the columns.
    """

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512, help_text="As registered with WhatsApp: lowercase, digits, underscores.")
    language = models.CharField(max_length=16, choices=LANGUAGES, default="en_US")
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.MARKETING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    header_type = models.CharField(max_length=16, choices=HeaderType.choices, default=HeaderType.NONE)
    header_text = models.CharField(max_length=255, blank=True, help_text="At most one variable, {{1}}.")
    header_media_url = models.URLField(
        max_length=1000, blank=True, help_text="Example media for image, video or document headers."
    )
    header_location = models.JSONField(
        default=dict, blank=True, help_text='Location header: {"latitude", "longitude", "name", "address"}.'
    )
    body = models.TextField(help_text="Variables are numbered {{1}}, {{2}} … without gaps.")
    footer = models.CharField(max_length=255, blank=True)
    buttons = models.JSONField(default=list, blank=True)
    # What WhatsApp says about it, written by submit and sync (templates_app.sync), read-only elsewhere.
    rejected_reason = models.TextField(blank=True)
    quality_rating = models.CharField(max_length=16, choices=QualityRating.choices, blank=True)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="WhatsApp's id of the template, once submitted or synced."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a sync found it deleted in WhatsApp; kept (and unsendable) here."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "language"],
                name="template_unique_name_language_per_provider",
                violation_error_message=UNIQUE_NAME_MESSAGE,
            )
        ]
        indexes = [
            # Campaign and journey pickers list a provider's approved templates.
            models.Index(fields=["provider", "status"], name="template_provider_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def validate_constraints(self, exclude: Any = None) -> None:
        """Report a clash of name + language on the `name` field, where the user can fix it."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            messages = error.message_dict
            clash = [m for m in messages.get(NON_FIELD_ERRORS, []) if m == UNIQUE_NAME_MESSAGE]
            if not clash:
                raise
            rest = [m for m in messages.pop(NON_FIELD_ERRORS) if m != UNIQUE_NAME_MESSAGE]
            if rest:
                messages[NON_FIELD_ERRORS] = rest
            messages.setdefault("name", []).extend(clash)
            raise ValidationError(messages) from None
