from __future__ import annotations

from django.urls import path

from evaluation.learning_curve import views

app_name = "curves"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/learning-curves/", views.learning_curve_list, name="learning_curve_list"),
    path(f"{project}/learning-curves/start/", views.learning_curve_start, name="learning_curve_start"),
    path(f"{project}/learning-curves/<int:curve_id>/", views.learning_curve_detail, name="learning_curve_detail"),
]
