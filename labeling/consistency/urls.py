from __future__ import annotations

from django.urls import path

from labeling.consistency import views as consistency_views

app_name = "consistency"

urlpatterns = [
    path("projects/<str:project_name>/consistency/", consistency_views.consistency_check, name="check"),
    path("projects/<str:project_name>/consistency/fix/", consistency_views.consistency_fix, name="fix"),
]
