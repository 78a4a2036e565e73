from __future__ import annotations

from django.urls import include, path

from labeling import views
from projects.routes import PROJECT

document = [
    path("", views.document_detail, name="document_detail"),
    path("annotate/", views.document_annotate, name="document_annotate"),
    path("edit/", views.document_update, name="document_update"),
    path("delete/", views.document_delete, name="document_delete"),
]
documents = [
    path("", views.document_list, name="document_list"),
    path("upload/", views.document_upload, name="document_upload"),
    path("delete/", views.document_bulk_delete, name="document_bulk_delete"),
    path("assign/", views.document_bulk_assign, name="document_bulk_assign"),
    path("import/", views.document_import, name="document_import"),
    path("import/<int:import_job_id>/", views.import_job_detail, name="import_job_detail"),
    path("import/<int:import_job_id>/retry/", views.import_job_retry, name="import_job_retry"),
    path("export/", views.document_export, name="document_export"),
    path("next/", views.document_next, name="document_next"),
    path("stats/", views.label_stats, name="label_stats"),
    path("<int:document_id>/", include(document)),
]

# The app's own pages keep the "labeling" namespace; each feature's pages keep the namespace they have always had
# (agreement:, consistency:, audit:), so that no URL name changes with the move.
urlpatterns = [
    path(f"{PROJECT}documents/", include((documents, "labeling"))),
    path(PROJECT, include("labeling.consistency.urls")),
    path(PROJECT, include("labeling.agreement.urls")),
    path("", include("labeling.audit.urls")),
    path("", include("labeling.entity_type_urls")),
]
