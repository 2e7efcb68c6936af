from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from templates_app import services
from templates_app.models import WHATSAPP_FIELDS, Template
from templates_app.rules import namespace_problem, template_errors
from templates_app.selectors import EXPORT_FIELDS


class TemplateAdminForm(forms.ModelForm):
    whatsapp_namespace = forms.CharField(
        required=False, help_text="Only asked with a provider's first template, when the provider has none."
    )

    class Meta:
        model = Template
        fields = ["provider", *EXPORT_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        candidate = copy.copy(self.instance)
        for name in self.Meta.fields:
            setattr(candidate, name, cleaned.get(name, getattr(self.instance, name, None)))
        for name, messages in template_errors(candidate).items():
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, messages)
        provider = cleaned.get("provider")
        if self.instance.pk is None and provider is not None:
            trouble = namespace_problem(provider=provider, namespace=cleaned.get("whatsapp_namespace", "").strip())
            if trouble:
                self.add_error("whatsapp_namespace", trouble)
        return cleaned


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateAdminForm
    list_display = ["name", "language", "provider", "category", "status", "header_type", "updated_at"]
    list_filter = ["provider", "status", "language", "category", "header_type"]
    search_fields = ["name", "body"]
    readonly_fields = [*WHATSAPP_FIELDS, "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Template, form: Any, change: bool) -> None:
        data = {name: getattr(obj, name) for name in EXPORT_FIELDS}
        if change:
            services.template_update(template=obj, data=data)
        else:
            created = services.template_create(
                provider=obj.provider,
                data=data,
                whatsapp_namespace=form.cleaned_data.get("whatsapp_namespace", "").strip(),
            )
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def delete_model(self, request: HttpRequest, obj: Template) -> None:
        services.template_delete(template=obj)
