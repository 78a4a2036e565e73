"""/api/v1/ routes of the projects app (names under the ``projects_api`` namespace)."""

from __future__ import annotations

from django.urls import path

from projects import api
from projects.routes import PROJECT

app_name = "projects_api"
urlpatterns = [
    path("projects/", api.ProjectListApi.as_view(), name="project_list"),
    path(PROJECT, api.ProjectDetailApi.as_view(), name="project_detail"),
    path(f"{PROJECT}stats/", api.ProjectStatsApi.as_view(), name="project_stats"),
    path(f"{PROJECT}members/", api.MemberListApi.as_view(), name="member_list"),
    path(f"{PROJECT}members/<str:username>/", api.MemberDetailApi.as_view(), name="member_detail"),
    path(f"{PROJECT}invitations/", api.InvitationCreateApi.as_view(), name="invitation_create"),
    path(f"{PROJECT}entity-types/", api.EntityTypeListApi.as_view(), name="entity_type_list"),
    path("api-keys/", api.ApiKeyListApi.as_view(), name="api_key_list"),
    path("api-keys/<int:api_key_id>/", api.ApiKeyDetailApi.as_view(), name="api_key_detail"),
]
