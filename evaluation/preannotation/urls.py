from __future__ import annotations

from django.urls import path

from evaluation.preannotation import views

app_name = "preannotation"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/preannotate/", views.preannotation_job_list, name="job_list"),
    path(f"{project}/preannotate/<int:preannotation_job_id>/", views.preannotation_job_detail, name="job_detail"),
]
