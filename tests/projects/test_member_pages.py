from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from projects import services
from projects.models import Invitation, Membership, Project
from tests.projects.factories import UserFactory

pytestmark = pytest.mark.django_db


def _url(name: str, project: Project, *args: object) -> str:
    return reverse(f"projects:{name}", args=[project.name, *args])


def _membership(project: Project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def _invite(project: Project, role: str = "annotator") -> str:
    owner = project.memberships.get(role="owner").user
    _, token = services.invitation_create(project=project, role=role, created_by=owner)
    return token


def test_member_list_shows_members_to_every_role(client, project, member_of, user):
    viewer = member_of(project, "viewer")
    client.force_login(viewer)
    response = client.get(_url("member_list", project))
    body = response.content.decode()
    assert response.status_code == 200
    assert "alice" in body and viewer.username in body
    # A viewer sees no role selects, remove buttons or invitations.
    assert "Change role" not in body and "Create invitation link" not in body


def test_owner_changes_a_role(owner_client, project, member_of):
    annotator = member_of(project, "annotator")
    response = owner_client.post(
        _url("member_update", project, _membership(project, annotator).pk), {"role": "editor"}, follow=True
    )
    assert _membership(project, annotator).role == "editor"
    assert f"{annotator.username} is now editor" in response.content.decode()


def test_editor_cannot_change_roles(client, project, member_of, user):
    editor = member_of(project, "editor")
    client.force_login(editor)
    response = client.post(_url("member_update", project, _membership(project, user).pk), {"role": "viewer"})
    assert response.status_code == 403
    assert _membership(project, user).role == "owner"


def test_last_owner_cannot_be_demoted_or_removed(owner_client, project, user):
    membership = _membership(project, user)
    response = owner_client.post(_url("member_update", project, membership.pk), {"role": "viewer"}, follow=True)
    assert "at least one owner" in response.content.decode()
    assert _membership(project, user).role == "owner"

    response = owner_client.post(_url("member_remove", project, membership.pk), follow=True)
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_owner_removes_a_member(owner_client, project, member_of):
    viewer = member_of(project, "viewer")
    owner_client.post(_url("member_remove", project, _membership(project, viewer).pk))
    assert not Membership.objects.filter(project=project, user=viewer).exists()


def test_member_writes_need_post(owner_client, project, member_of):
    viewer = member_of(project, "viewer")
    response = owner_client.get(_url("member_remove", project, _membership(project, viewer).pk))
    assert response.status_code == 405
    assert Membership.objects.filter(project=project, user=viewer).exists()


def test_membership_of_another_project_is_404(owner_client, project):
    other = Project.objects.create(name="other", language="en")
    stranger = Membership.objects.create(project=other, user=UserFactory(), role="owner")
    response = owner_client.post(_url("member_update", project, stranger.pk), {"role": "viewer"})
    assert response.status_code == 404


def test_invitation_link_is_shown_once(owner_client, project):
    response = owner_client.post(_url("invitation_create", project), {"role": "editor"})
    body = response.content.decode()
    match = re.search(r'<code class="secret">(http://testserver/invitations/[^<]+/)</code>', body)
    assert match, body
    link = match.group(1)
    invitation = Invitation.objects.get(project=project)
    assert invitation.role == "editor"
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_hash  # only a hash is stored

    # Listed as pending on later visits, but the link itself is never shown again.
    body = owner_client.get(_url("member_list", project)).content.decode()
    assert "Pending invitations" in body and "editor" in body
    assert link not in body


def test_invitation_create_with_htmx_returns_the_invitations_region(owner_client, project):
    response = owner_client.post(_url("invitation_create", project), {"role": "viewer"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="invitations">')
    assert 'class="secret"' in body


def test_new_user_accepts_invitation_and_joins_with_its_role(client, project):
    token = _invite(project, "annotator")
    url = reverse("projects:invitation_accept", args=[token])
    page = client.get(url).content.decode()
    assert "contracts" in page and "annotator" in page
    assert f"{reverse('login')}?next={url}" in page  # sign in first, then come back

    response = client.post(url, {"username": "bob", "password1": "x7!unusual-Pass", "password2": "x7!unusual-Pass"})
    assert response.status_code == 302
    assert response["Location"] == _url("project_detail", project)
    bob = get_user_model().objects.get(username="bob")
    assert _membership(project, bob).role == "annotator"
    assert Invitation.objects.get(project=project).accepted_by == bob
    assert client.get(response["Location"]).status_code == 200  # signed in


def test_sign_up_applies_password_rules(client, project):
    token = _invite(project)
    url = reverse("projects:invitation_accept", args=[token])
    response = client.post(url, {"username": "bob", "password1": "123", "password2": "123"})
    body = response.content.decode()
    assert "too short" in body or "too common" in body
    assert not get_user_model().objects.filter(username="bob").exists()
    response = client.post(url, {"username": "bob", "password1": "x7!unusual-Pass", "password2": "other-Pass-99"})
    assert "match" in response.context["form"].errors["password2"][0]


def test_sign_up_refuses_a_taken_username(client, project, user):
    token = _invite(project)
    response = client.post(
        reverse("projects:invitation_accept", args=[token]),
        {"username": "ALICE", "password1": "x7!unusual-Pass", "password2": "x7!unusual-Pass"},
    )
    assert "That username is taken" in response.content.decode()
    assert Invitation.objects.get(project=project).accepted_at is None


def test_signed_in_user_joins_with_one_click(client, project):
    carol = UserFactory(username="carol")
    client.force_login(carol)
    token = _invite(project, "viewer")
    url = reverse("projects:invitation_accept", args=[token])
    assert "Join as viewer" in client.get(url).content.decode()
    client.post(url)
    assert _membership(project, carol).role == "viewer"


@pytest.mark.parametrize("state", ["expired", "used", "revoked", "unknown"])
def test_invalid_invitation_links_are_refused(client, project, state):
    token = _invite(project)
    invitation = Invitation.objects.get(project=project)
    if state == "expired":
        invitation.expires_at = timezone.now() - timedelta(minutes=1)
        invitation.save()
    elif state == "used":
        services.invitation_accept(token=token, user=UserFactory(username="first"))
    elif state == "revoked":
        services.invitation_revoke(invitation=invitation)
    else:
        token = "not-a-real-token"
    url = reverse("projects:invitation_accept", args=[token])
    assert client.get(url).status_code == 410
    response = client.post(url, {"username": "late", "password1": "x7!unusual-Pass", "password2": "x7!unusual-Pass"})
    assert response.status_code == 410
    assert {"expired": "expired", "used": "already been used", "revoked": "not valid", "unknown": "not valid"}[
        state
    ] in response.content.decode()
    assert not get_user_model().objects.filter(username="late").exists()
    assert Membership.objects.filter(project=project).count() == 1 + (state == "used")


def test_owner_revokes_an_invitation(owner_client, project):
    token = _invite(project)
    invitation = Invitation.objects.get(project=project)
    owner_client.post(_url("invitation_revoke", project, invitation.pk))
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert "No pending invitations" in owner_client.get(_url("member_list", project)).content.decode()
    assert owner_client.get(reverse("projects:invitation_accept", args=[token])).status_code == 410


def test_only_managers_create_invitations(client, project, member_of):
    client.force_login(member_of(project, "editor"))
    assert client.post(_url("invitation_create", project), {"role": "owner"}).status_code == 403
    assert not Invitation.objects.exists()
