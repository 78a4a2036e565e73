from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient


@dataclass
class UploadOutcome:
    """What the user sees after an upload, from the page's messages or the API's JSON."""

    status: int
    errors: list[str] = field(default_factory=list)
    duplicates_reported: str = ""
    success: str = ""


def _files(files: list[tuple[str, bytes]]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, data, content_type="application/octet-stream") for name, data in files]


@pytest.fixture(params=["form", "api"])
def upload(request, user, project):
    """``upload([(name, bytes), ...])`` through the HTML form or the REST API (each test runs with both)."""
    channel = request.param

    def through_form(files, as_user=None):
        from django.test import Client

        client = Client()
        client.force_login(as_user or user)
        response = client.post(reverse("labeling:document_upload", args=[project.name]), {"files": _files(files)})
        if response.status_code != 302:
            return UploadOutcome(status=response.status_code)
        messages = [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]
        errors = [text for tag, text in messages if tag == "error"]
        if errors and errors[0].startswith("Nothing was uploaded"):
            errors = errors[1:]
        return UploadOutcome(
            status=400 if errors else 201,
            errors=errors,
            duplicates_reported=" ".join(text for tag, text in messages if tag == "warning"),
            success=" ".join(text for tag, text in messages if tag == "success"),
        )

    def through_api(files, as_user=None):
        client = APIClient()
        client.force_authenticate(as_user or user)
        url = reverse("api-document-list", args=[project.name])
        response = client.post(url, {"files": _files(files)}, format="multipart")
        body = response.json() if response.content else {}
        if response.status_code not in (201, 400):
            return UploadOutcome(status=response.status_code)
        return UploadOutcome(
            status=response.status_code,
            errors=body.get("errors", []),
            duplicates_reported=" ".join(body.get("duplicates", [])),
            success=f"Uploaded {len(body['created'])}" if "created" in body else "",
        )

    do = through_form if channel == "form" else through_api
    do.channel = channel  # type: ignore[attr-defined]
    return do
