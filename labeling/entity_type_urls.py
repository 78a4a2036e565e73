"""Deleting and merging entity types: the pages and, under the API's prefix, their REST endpoints (this module is
included at the site root). The paths sit among the entity type pages of projects; these views change spans."""

from __future__ import annotations

from django.urls import path

from labeling import entity_type_views
from projects.routes import PROJECT

app_name = "entity_types"

urlpatterns = [
    path(f"{PROJECT}entity-types/merge/", entity_type_views.entity_type_merge, name="merge"),
    path(f"{PROJECT}entity-types/<int:entity_type_id>/delete/", entity_type_views.entity_type_delete, name="delete"),
    path(
        f"api/v1/{PROJECT}entity-types/<int:entity_type_id>/",
        entity_type_views.EntityTypeDetailApi.as_view(),
        name="api-detail",
    ),
    path(
        f"api/v1/{PROJECT}entity-types/<int:entity_type_id>/merge/",
        entity_type_views.EntityTypeMergeApi.as_view(),
        name="api-merge",
    ),
]
