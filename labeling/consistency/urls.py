"""Pages of the consistency check, under a project's URL (``labeling.urls`` mounts them)."""

from __future__ import annotations

from django.urls import path

from labeling.consistency import views

app_name = "consistency"

urlpatterns = [
    path("consistency/", views.consistency_check, name="check"),
    path("consistency/fix/", views.consistency_fix, name="fix"),
]
