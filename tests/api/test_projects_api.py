from __future__ import annotations

from labeling.models import Document
from projects.models import Membership, Project
from projects.roles import Role
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory

PROJECTS = "/api/v1/projects/"


def test_project_list_shows_only_my_projects_with_my_role_paged(api, user, project, member_of):
    other = ProjectFactory(name="secret")
    member_of(other, Role.OWNER, username="bob")
    shared = ProjectFactory(name="shared")
    MembershipFactory(project=shared, user=user, role=Role.VIEWER)
    api.force_authenticate(user)

    response = api.get(PROJECTS)

    assert response.status_code == 200
    assert response.data["count"] == 2
    assert [(p["name"], p["role"]) for p in response.data["results"]] == [("contracts", "owner"), ("shared", "viewer")]
    page = api.get(PROJECTS, {"limit": 1, "offset": 1}).data
    assert [p["name"] for p in page["results"]] == ["shared"]
    assert page["previous"] is not None


def test_project_create_makes_the_creator_owner(owner_api, user):
    response = owner_api.post(
        PROJECTS, {"name": "invoices-2024", "language": "en-us", "description": "Q1"}, format="json"
    )

    assert response.status_code == 201, response.data
    assert response.data["name"] == "invoices-2024"
    assert response.data["language"] == "en-US"  # normalised by the model
    assert response.data["role"] == "owner"
    assert Membership.objects.get(project__name="invoices-2024").user == user


def test_project_create_reports_bad_name_and_language_per_field(owner_api):
    response = owner_api.post(PROJECTS, {"name": "my project!", "language": "xx-Klingon"}, format="json")

    assert response.status_code == 400
    assert "name" in response.data and "language" in response.data
    assert not Project.objects.filter(name="my project!").exists()


def test_project_create_rejects_a_taken_name(owner_api):
    response = owner_api.post(PROJECTS, {"name": "contracts", "language": "en"}, format="json")

    assert response.status_code == 400
    assert "already exists" in str(response.data["name"])


def test_project_create_rejects_an_unknown_language(owner_api):
    response = owner_api.post(PROJECTS, {"name": "p1", "language": "zz"}, format="json")

    assert response.status_code == 400
    assert list(response.data) == ["language"]


def test_project_detail_and_settings_update(owner_api, user, project):
    # Model validation requires created_by (null=True without blank=True); the factory leaves it empty.
    Project.objects.filter(pk=project.pk).update(created_by=user)
    url = f"{PROJECTS}{project.name}/"
    assert owner_api.get(url).data["language"] == "en"

    response = owner_api.patch(url, {"description": "NDAs", "test_percent": 30, "language": "de"}, format="json")

    assert response.status_code == 200, response.data
    project.refresh_from_db()
    assert (project.description, project.test_percent, project.language) == ("NDAs", 30, "de")


def test_project_update_refuses_rename_and_bad_values(owner_api, user, project):
    Project.objects.filter(pk=project.pk).update(created_by=user)
    url = f"{PROJECTS}{project.name}/"

    renamed = owner_api.patch(url, {"name": "other"}, format="json")
    bad_language = owner_api.patch(url, {"language": "klingon"}, format="json")
    bad_percent = owner_api.patch(url, {"test_percent": 100}, format="json")

    assert renamed.status_code == 400 and "cannot be changed" in str(renamed.data["name"])
    assert bad_language.status_code == 400 and "language" in bad_language.data
    assert bad_percent.status_code == 400 and "test_percent" in bad_percent.data
    project.refresh_from_db()
    assert (project.name, project.language, project.test_percent) == ("contracts", "en", 20)


def test_project_update_needs_edit_permission(api, project, member_of):
    viewer = member_of(project, Role.VIEWER)
    api.force_authenticate(viewer)

    response = api.patch(f"{PROJECTS}{project.name}/", {"description": "x"}, format="json")

    assert response.status_code == 403
    assert "does not allow" in response.data["detail"]


def test_project_delete_by_owner_only(api, owner_api, project, member_of):
    editor = member_of(project, Role.EDITOR)
    DocumentFactory(project=project)
    api_editor = type(api)()
    api_editor.force_authenticate(editor)

    assert api_editor.delete(f"{PROJECTS}{project.name}/").status_code == 403
    assert owner_api.delete(f"{PROJECTS}{project.name}/").status_code == 204
    assert not Project.objects.filter(name="contracts").exists()
    assert not Document.objects.filter(project_id=project.pk).exists()


def test_non_member_gets_404_not_403(api, project, member_of):
    outsider = member_of(ProjectFactory(name="elsewhere"), Role.OWNER, username="mallory")
    api.force_authenticate(outsider)

    for url in (f"{PROJECTS}{project.name}/", f"{PROJECTS}{project.name}/stats/", f"{PROJECTS}nope/"):
        assert api.get(url).status_code == 404, url
    assert api.delete(f"{PROJECTS}{project.name}/").status_code == 404


def test_project_stats_counts_documents_and_spans(owner_api, project):
    person = EntityTypeFactory(project=project, name="Person")
    EntityTypeFactory(project=project, name="Place")
    tagged = DocumentFactory(project=project, status=Document.Status.TAGGED)
    DocumentFactory(project=project)
    SpanFactory(document=tagged, entity_type=person, start=0, end=8)
    SpanFactory(document=tagged, entity_type=person, start=9, end=15)

    data = owner_api.get(f"{PROJECTS}{project.name}/stats/").data

    assert (data["documents"], data["tagged_documents"], data["spans"]) == (2, 1, 2)
    assert [(t["entity_type"]["name"], t["spans"], t["documents"]) for t in data["per_type"]] == [
        ("Person", 2, 1),
        ("Place", 0, 0),
    ]


def test_anonymous_requests_are_refused_with_401(api, project):
    assert api.get(PROJECTS).status_code == 401
    assert api.get(f"{PROJECTS}{project.name}/").status_code == 401
    assert api.post(PROJECTS, {"name": "x", "language": "en"}, format="json").status_code == 401
