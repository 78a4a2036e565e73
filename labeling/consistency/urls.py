from __future__ import annotations

from django.urls import path

from labeling.consistency import views

app_name = "consistency"

urlpatterns = [
    path("projects/<str:project_name>/consistency/", views.consistency_check, name="check"),
    path("projects/<str:project_name>/consistency/fix/", views.consistency_fix, name="fix"),
]
