from __future__ import annotations

from django.urls import path

from evaluation.pretraining import views
from projects.routes import PROJECT

app_name = "pretraining"

urlpatterns = [
    path(f"{PROJECT}pretraining/", views.pretraining_run_list, name="run_list"),
    path(f"{PROJECT}pretraining/<int:pretraining_run_id>/", views.pretraining_run_detail, name="run_detail"),
    path(f"{PROJECT}pretraining/<int:pretraining_run_id>/delete/", views.pretraining_run_delete, name="run_delete"),
]
