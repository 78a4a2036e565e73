from __future__ import annotations

from django.urls import path

from projects import views
from projects.routes import PROJECT

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="project_list"),
    # Outside projects/<name>/, so that no project name is reserved for it.
    path("new-project/", views.project_create, name="project_create"),
    path(PROJECT, views.project_detail, name="project_detail"),
    path(f"{PROJECT}settings/", views.project_edit, name="project_edit"),
    path(f"{PROJECT}delete/", views.project_delete, name="project_delete"),
    path(f"{PROJECT}members/", views.member_list, name="member_list"),
    path(f"{PROJECT}members/<int:membership_id>/", views.member_update, name="member_update"),
    path(f"{PROJECT}members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(f"{PROJECT}invitations/", views.invitation_create, name="invitation_create"),
    path(f"{PROJECT}invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("accounts/signup/", views.signup, name="signup"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path(f"{PROJECT}entity-types/", views.entity_type_list, name="entity_type_list"),
    path(f"{PROJECT}entity-types/<int:entity_type_id>/", views.entity_type_update, name="entity_type_update"),
    path(f"{PROJECT}entity-types/<int:entity_type_id>/row/", views.entity_type_row, name="entity_type_row"),
    path("account/api-keys/", views.api_key_list, name="api_key_list"),
    path("account/api-keys/<int:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
