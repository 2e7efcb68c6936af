"""An upload size limit that acts while the body arrives, not after Django has written all of it to a temporary file.

Django's own handlers write an upload to memory or /tmp in full before any view can look at its size, so a 5 GB
upload filled the disk before the import refused it. `UploadLimitHandler` runs first (settings.FILE_UPLOAD_HANDLERS)
and counts each file's bytes as the chunks arrive: past the limit it passes nothing more to the handlers after it,
deletes what they wrote, and hands the view an empty `OversizedUpload` carrying the size seen so far, so the form or
service refuses it with its usual message ("the limit is … bytes"). The limit is the largest upload any screen takes
(the contact import's); smaller per-screen limits are checked by their services on `upload.size` as before.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


def upload_max_bytes() -> int:
    """The largest file any upload screen accepts."""
    return max(int(settings.CONTACT_IMPORT_MAX_BYTES), int(settings.AUDIENCE_LIST_MAX_BYTES))


class OversizedUpload(UploadedFile):
    """What is left of a file that went past the limit: its name and the size seen, no content."""

    def __init__(self, *, name: str, content_type: str, size: int) -> None:
        super().__init__(file=io.BytesIO(b""), name=name, content_type=content_type, size=size)


class UploadLimitHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = upload_max_bytes()
        self.received = 0
        self.over = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received <= self.limit:
            return raw_data
        if not self.over:
            self.over = True
            self._discard_partial_files()
        return None  # the handlers after this one never see another byte of this file

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.over:
            return None  # the next handler (memory or temporary file) hands over the file
        return OversizedUpload(
            name=str(self.file_name or "upload"), content_type=str(self.content_type or ""), size=self.received
        )

    def _discard_partial_files(self) -> None:
        """Close (and so delete) what the later handlers have written of this file."""
        for handler in getattr(self.request, "upload_handlers", []):
            partial = getattr(handler, "file", None) if handler is not self else None
            if partial is not None and hasattr(partial, "close"):
                partial.close()
