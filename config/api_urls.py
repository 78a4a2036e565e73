"""The REST API under /api/v1/; each app contributes its resources."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("projects.api_urls")),
    path("", include("labeling.api_urls")),
    path("", include("evaluation.api_urls")),
    path("", include("serving.api_urls")),
    path("", include("portability.api_urls")),
]
