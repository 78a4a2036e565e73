from __future__ import annotations

from django.urls import path

from labeling.audit import api, views

app_name = "audit"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/audit/", views.audit_log, name="audit_log"),
    path(f"{project}/documents/<int:document_id>/history/", views.document_history, name="document_history"),
    # The REST endpoint sits with its pages (this module is included at the site root), under the API's prefix.
    path(f"api/v1/{project}/audit/", api.AuditEventListApi.as_view(), name="api-event-list"),
]
