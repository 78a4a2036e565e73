from __future__ import annotations

from django.urls import path

from labeling.audit import api, views
from projects.routes import PROJECT

app_name = "audit"

urlpatterns = [
    path(f"{PROJECT}audit/", views.audit_log, name="audit_log"),
    path(f"{PROJECT}documents/<int:document_id>/history/", views.document_history, name="document_history"),
    # The REST endpoint sits with its pages (this module is included at the site root), under the API's prefix.
    path(f"api/v1/{PROJECT}audit/", api.AuditEventListApi.as_view(), name="api-event-list"),
]
