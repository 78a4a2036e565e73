from __future__ import annotations

from django.urls import include, path

from labeling import views

pages = [
    path("projects/<str:project_name>/documents/", views.document_list, name="document_list"),
    path("projects/<str:project_name>/documents/upload/", views.document_upload, name="document_upload"),
    path("projects/<str:project_name>/documents/delete/", views.document_bulk_delete, name="document_bulk_delete"),
    path("projects/<str:project_name>/documents/assign/", views.document_bulk_assign, name="document_bulk_assign"),
    path("projects/<str:project_name>/documents/import/", views.document_import, name="document_import"),
    path(
        "projects/<str:project_name>/documents/import/<int:import_job_id>/",
        views.import_job_detail,
        name="import_job_detail",
    ),
    path(
        "projects/<str:project_name>/documents/import/<int:import_job_id>/retry/",
        views.import_job_retry,
        name="import_job_retry",
    ),
    path("projects/<str:project_name>/documents/export/", views.document_export, name="document_export"),
    path("projects/<str:project_name>/documents/next/", views.document_next, name="document_next"),
    path("projects/<str:project_name>/documents/stats/", views.label_stats, name="label_stats"),
    path("projects/<str:project_name>/documents/<int:document_id>/", views.document_detail, name="document_detail"),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/annotate/",
        views.document_annotate,
        name="document_annotate",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/edit/",
        views.document_update,
        name="document_update",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/delete/",
        views.document_delete,
        name="document_delete",
    ),
]

# The app's own pages keep the "labeling" namespace; each feature's pages keep the namespace they have always had
# (agreement:, consistency:, audit:), so that no URL name changes with the move.
urlpatterns = [
    path("", include((pages, "labeling"))),
    path("", include("labeling.consistency.urls")),
    path("", include("labeling.agreement.urls")),
    path("", include("labeling.audit.urls")),
    path("", include("labeling.entity_type_urls")),
]
