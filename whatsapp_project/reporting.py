"""Error reports (the debug page and the error emails) never show a key, a secret or a password."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.regex_helper import _lazy_re_compile
from django.views.debug import SafeExceptionReporterFilter


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Django's filter, made unconditional and name-driven.

    Django cleanses POST fields and frame variables only where a view is decorated, and not at all while DEBUG is
    on. Here every POST field, frame variable and dict key whose name looks secret (`private_key`,
    `signature_secret`, `password`, `token`...) is hidden, DEBUG or not, and so are the Redis URLs that carry a
    password in REDIS_URL, CACHES and Q_CLUSTER.
    """

    hidden_settings = _lazy_re_compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|REDIS|LOCATION", re.I)

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        parameters = super().get_post_parameters(request)
        if not isinstance(parameters, QueryDict):
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
