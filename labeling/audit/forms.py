"""The audit trail's filters: one Django form, shared by the page and the API so both accept and refuse the same
values with the same messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from labeling import selectors as labeling_selectors
from labeling.audit import selectors
from labeling.models import SpanEvent
from projects.models import ROW_ID_MAX, Project

_DATE_ONLY = len("2024-01-31")


class AuditFilterForm(forms.Form):
    """Which events to list. ``until`` excludes its moment; a bare date (``2024-01-31``) includes that whole day."""

    user = forms.CharField(required=False, max_length=150)
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *SpanEvent.Action.choices])
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *SpanEvent.Source.choices])
    document_name = forms.CharField(required=False, max_length=500, label="Document name")
    document = forms.IntegerField(required=False, min_value=1, max_value=ROW_ID_MAX, label="Document id")
    since = forms.DateTimeField(required=False, label="From")
    until = forms.DateTimeField(required=False, label="To")

    def __init__(self, *args: Any, project: Project, usernames: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.usernames = usernames if usernames is not None else selectors.span_event_users(project=project)

    def clean_user(self) -> str:
        username: str = self.cleaned_data["user"].strip()
        if username and username not in self.usernames:
            raise forms.ValidationError(f"No user named {username} has worked on {self.project.name}.")
        return username

    def clean_document(self) -> int | None:
        document_id: int | None = self.cleaned_data["document"]
        if (
            document_id is not None
            and not labeling_selectors.documents_for_ids(project=self.project, ids=[document_id]).exists()
        ):
            raise forms.ValidationError(
                f"{self.project.name} has no document with id {document_id}; "
                "a deleted document's events are found by its name."
            )
        return document_id

    def clean_until(self) -> dt.datetime | None:
        until: dt.datetime | None = self.cleaned_data["until"]
        raw = str(self.data.get("until", "")).strip()
        if until is not None and len(raw) == _DATE_ONLY:
            until += dt.timedelta(days=1)
        return until

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since is not None and until is not None and until <= since:
            self.add_error("until", "The end of the period must come after its start.")
        return cleaned

    def criteria(self) -> dict[str, Any]:
        """The valid filters as ``span_event_list`` keywords; invalid ones are left out (their errors are shown)."""
        data = getattr(self, "cleaned_data", {})
        return {
            "username": data.get("user") or "",
            "action": data.get("action") or "",
            "source": data.get("source") or "",
            "document_name": (data.get("document_name") or "").strip(),
            "document_id": data.get("document"),
            "since": data.get("since"),
            "before": data.get("until"),
        }
