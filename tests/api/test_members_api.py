from __future__ import annotations

from projects.models import Membership
from projects.roles import Role
from projects.services import invitation_accept
from tests.projects.factories import UserFactory


def members_url(project, username: str = "") -> str:
    return f"/api/v1/projects/{project.name}/members/" + (f"{username}/" if username else "")


def test_member_list_shows_usernames_and_roles(api, project, member_of):
    viewer = member_of(project, Role.VIEWER, username="vera")
    api.force_authenticate(viewer)

    response = api.get(members_url(project))

    assert response.status_code == 200
    assert [(m["username"], m["role"]) for m in response.data] == [("alice", "owner"), ("vera", "viewer")]


def test_owner_adds_an_existing_user(owner_api, project):
    UserFactory(username="bob")

    response = owner_api.post(members_url(project), {"username": "bob", "role": "annotator"}, format="json")

    assert response.status_code == 201, response.data
    assert Membership.objects.get(project=project, user__username="bob").role == "annotator"


def test_adding_an_unknown_user_or_an_existing_member_says_why(owner_api, project, member_of):
    member_of(project, Role.VIEWER, username="vera")

    unknown = owner_api.post(members_url(project), {"username": "ghost", "role": "viewer"}, format="json")
    existing = owner_api.post(members_url(project), {"username": "vera", "role": "owner"}, format="json")
    bad_role = owner_api.post(members_url(project), {"username": "vera", "role": "admin"}, format="json")

    assert unknown.status_code == 400 and "no active user called ghost" in str(unknown.data["username"])
    assert existing.status_code == 400 and "already a member" in str(existing.data["username"])
    assert bad_role.status_code == 400 and "role" in bad_role.data
    assert Membership.objects.get(project=project, user__username="vera").role == "viewer"


def test_change_role_and_remove_member(owner_api, project, member_of):
    member_of(project, Role.VIEWER, username="vera")

    changed = owner_api.patch(members_url(project, "vera"), {"role": "editor"}, format="json")
    removed = owner_api.delete(members_url(project, "vera"))

    assert changed.status_code == 200 and changed.data["role"] == "editor"
    assert removed.status_code == 204
    assert not Membership.objects.filter(project=project, user__username="vera").exists()
    assert owner_api.delete(members_url(project, "vera")).status_code == 404


def test_last_owner_cannot_be_demoted_or_removed(owner_api, project):
    demoted = owner_api.patch(members_url(project, "alice"), {"role": "viewer"}, format="json")
    removed = owner_api.delete(members_url(project, "alice"))

    for response in (demoted, removed):
        assert response.status_code == 400
        assert "at least one owner" in str(response.data["non_field_errors"])
    assert Membership.objects.get(project=project, user__username="alice").role == "owner"


def test_only_managers_change_members(api, project, member_of):
    editor = member_of(project, Role.EDITOR, username="eddie")
    api.force_authenticate(editor)

    assert api.patch(members_url(project, "alice"), {"role": "viewer"}, format="json").status_code == 403
    assert api.delete(members_url(project, "alice")).status_code == 403
    assert api.post(members_url(project), {"username": "eddie", "role": "owner"}, format="json").status_code == 403


def test_invitation_returns_a_token_that_joins_the_project(owner_api, project):
    response = owner_api.post(
        f"/api/v1/projects/{project.name}/invitations/",
        {"role": "annotator", "email": "new@example.org"},
        format="json",
    )

    assert response.status_code == 201, response.data
    token = response.data["token"]
    assert response.data["role"] == "annotator"
    assert response.data["link"] == f"http://testserver/invitations/{token}/"
    newcomer = UserFactory(username="newcomer")
    assert invitation_accept(token=token, user=newcomer).role == "annotator"


def test_invitation_needs_a_valid_role(owner_api, project):
    response = owner_api.post(f"/api/v1/projects/{project.name}/invitations/", {"role": "boss"}, format="json")

    assert response.status_code == 400 and "role" in response.data
