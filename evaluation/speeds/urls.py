from __future__ import annotations

from django.urls import path

from evaluation.speeds import views
from projects.routes import PROJECT

app_name = "speeds"

urlpatterns = [
    path(f"{PROJECT}training/speeds/", views.speed_table, name="table"),
    path(f"{PROJECT}training/speeds/measure/", views.speed_measure, name="measure"),
]
