from __future__ import annotations

from django.urls import path

from evaluation.preannotation import views
from projects.routes import PROJECT

app_name = "preannotation"

urlpatterns = [
    path(f"{PROJECT}preannotate/", views.preannotation_job_list, name="job_list"),
    path(f"{PROJECT}preannotate/<int:preannotation_job_id>/", views.preannotation_job_detail, name="job_detail"),
]
