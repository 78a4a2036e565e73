from __future__ import annotations

from django.urls import path

from evaluation.learning_curve import views
from projects.routes import PROJECT

app_name = "curves"

urlpatterns = [
    path(f"{PROJECT}learning-curves/", views.learning_curve_list, name="learning_curve_list"),
    path(f"{PROJECT}learning-curves/start/", views.learning_curve_start, name="learning_curve_start"),
    path(f"{PROJECT}learning-curves/<int:curve_id>/", views.learning_curve_detail, name="learning_curve_detail"),
]
