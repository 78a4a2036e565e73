from __future__ import annotations

from django.urls import path

from evaluation.pretraining import views

app_name = "pretraining"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/pretraining/", views.pretraining_run_list, name="run_list"),
    path(f"{project}/pretraining/<int:pretraining_run_id>/", views.pretraining_run_detail, name="run_detail"),
    path(f"{project}/pretraining/<int:pretraining_run_id>/delete/", views.pretraining_run_delete, name="run_delete"),
]
