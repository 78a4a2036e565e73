from __future__ import annotations

import pytest
from django.urls import reverse

from ner import limits
from projects.models import Membership, Project
from projects.services import api_key_create
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(name: str, project: Project | str, *args: object) -> str:
    return reverse(f"projects:{name}", args=[getattr(project, "name", project), *args])


def test_project_list_requires_login(client):
    response = client.get(reverse("projects:project_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_project_list_shows_only_my_projects_with_role(owner_client, project, member_of):
    other = Project.objects.create(name="secret-project", language="en")
    response = owner_client.get(reverse("projects:project_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "contracts" in body and "owner" in body
    assert other.name not in body


def test_project_create_makes_creator_owner(owner_client, user):
    response = owner_client.post(
        reverse("projects:project_create"),
        {"name": "invoices.v2", "description": "Invoices", "language": "pt-br", "multilingual": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == _url("project_detail", "invoices.v2")
    project = Project.objects.get(name="invoices.v2")
    assert project.language == "pt-BR"  # normalised by the model
    assert project.multilingual is True
    assert Membership.objects.get(project=project, user=user).role == "owner"
    assert owner_client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "has space", "language": "en"}, "may contain only letters, digits"),
        ({"name": "x" * 51, "language": "en"}, "at most 50 characters"),
        ({"name": "contracts", "language": "en"}, "already exists"),
        ({"name": "ok", "language": "english"}, "is not a BCP-47 language code"),
    ],
)
def test_project_create_refuses_invalid_input(owner_client, project, data, message):
    response = owner_client.post(reverse("projects:project_create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Project.objects.count() == 1


def test_project_create_says_a_bad_language_code_once(owner_client):
    response = owner_client.post(reverse("projects:project_create"), {"name": "fresh", "language": "zz-!!"})
    assert response.content.decode().count("is not a BCP-47 language code") == 1
    assert response.context["form"].errors["language"] == [
        "'zz-!!' is not a BCP-47 language code (e.g. en, en-US, pt-BR, zh-Hans)"
    ]
    assert not Project.objects.filter(name="fresh").exists()


def test_project_create_page_shows_name_hint_and_language_list(owner_client):
    body = owner_client.get(reverse("projects:project_create")).content.decode()
    assert "Letters, digits and _ . - only" in body
    assert '<datalist id="language-codes">' in body and 'value="zh-Hans"' in body


def test_dashboard_shows_counts_role_and_guidance(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    EntityTypeFactory(project=project, name="Org")
    tagged = DocumentFactory(project=project, status="tagged")
    DocumentFactory(project=project, status="in_progress")
    for start in range(20):
        SpanFactory(document=tagged, entity_type=person, start=start, end=start + 1)
    response = owner_client.get(_url("project_detail", project))
    stats = response.context["stats"]
    assert (stats.documents, stats.tagged_documents, stats.in_progress_documents, stats.spans) == (2, 1, 1, 20)
    body = response.content.decode()
    assert "owner" in body
    assert f"about {limits.RECOMMENDED_INSTANCES_PER_TYPE} tagged instances" in body
    rows = {row["stats"].entity_type.name: row for row in response.context["per_type"]}
    assert rows["Person"]["percent"] == 40 and not rows["Person"]["few"]
    assert rows["Org"]["few"]  # 0 spans: flagged
    assert body.count(f"Under {limits.FEW_INSTANCES_WARNING} instances") == 1
    assert reverse("labeling:document_list", args=[project.name]) in body


def test_dashboard_is_404_for_non_members(client, project):
    client.force_login(UserFactory(username="mallory"))
    assert client.get(_url("project_detail", project)).status_code == 404


@pytest.mark.parametrize(
    ("role", "page", "status"),
    [
        ("viewer", "project_detail", 200),
        ("viewer", "project_edit", 403),
        ("viewer", "project_delete", 403),
        ("annotator", "project_edit", 403),
        ("editor", "project_edit", 200),
        ("editor", "project_delete", 403),
        ("owner", "project_delete", 200),
    ],
)
def test_project_pages_check_the_role(client, project, member_of, role, page, status):
    client.force_login(member_of(project, role))
    assert client.get(_url(page, project)).status_code == status


def test_project_edit_saves_settings(owner_client, project, user):
    # ProjectFactory leaves created_by empty, which Project.full_clean() refuses (created_by lacks blank=True).
    project.created_by = user
    project.save()
    data = {
        "description": "Legal contracts",
        "language": "de",
        "label_mode": "character",
        "overlap_policy": "none",
        "split_mode": "manual",
        "test_percent": "30",
        "split_seed": "7",
        "training_scope": "with_spans",
    }
    response = owner_client.post(_url("project_edit", project), data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.description, project.language, project.label_mode, project.split_mode) == (
        "Legal contracts",
        "de",
        "character",
        "manual",
    )
    assert (project.test_percent, project.split_seed, project.training_scope) == (30, 7, "with_spans")
    assert project.name == "contracts"  # not editable


def test_project_edit_refuses_bad_test_percent(owner_client, project):
    data = {"language": "en", "label_mode": "token", "overlap_policy": "none", "split_mode": "random"}
    data |= {"test_percent": "0", "split_seed": "0", "training_scope": "tagged"}
    response = owner_client.post(_url("project_edit", project), data)
    assert response.status_code == 200
    assert "between 1 and 99" in response.content.decode()
    project.refresh_from_db()
    assert project.test_percent == 20


def test_project_edit_requires_post_for_writes(client, project, member_of):
    client.force_login(member_of(project, "viewer"))
    response = client.post(_url("project_edit", project), {"description": "hacked", "language": "en"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.description == ""


def test_project_delete_confirmation_lists_counts_then_deletes(owner_client, project, member_of):
    member_of(project, "annotator")
    entity_type = EntityTypeFactory(project=project, name="Person")
    EntityTypeFactory(project=project, name="Org")
    document = DocumentFactory(project=project)
    DocumentFactory(project=project)
    SpanFactory(document=document, entity_type=entity_type, start=0, end=3)
    SpanFactory(document=document, entity_type=entity_type, start=4, end=8)
    SpanFactory(document=document, entity_type=entity_type, start=9, end=12)

    response = owner_client.get(_url("project_delete", project))
    summary = dict((label, count) for label, count in response.context["summary"])
    assert summary["documents"] == 2
    assert summary["spans"] == 3
    assert summary["entity types"] == 2
    assert summary["members"] == 2
    body = response.content.decode()
    assert "<strong>3</strong> spans" in body and "<strong>2</strong> documents" in body

    # A POST without the typed name deletes nothing.
    response = owner_client.post(_url("project_delete", project), {"confirm_name": "wrong"})
    assert Project.objects.filter(pk=project.pk).exists()
    assert "Type the project" in response.content.decode()

    response = owner_client.post(_url("project_delete", project), {"confirm_name": "contracts"}, follow=True)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert "were deleted" in response.content.decode()


def test_project_delete_confirmation_says_1_member_not_1_members(owner_client, project, user):
    api_key_create(user=user, name="ci", project=project)
    body = owner_client.get(_url("project_delete", project)).content.decode()
    assert "<strong>1</strong> member<" in body
    assert "<strong>1</strong> api key<" in body


def test_project_delete_by_get_deletes_nothing(owner_client, project):
    owner_client.get(_url("project_delete", project))
    assert Project.objects.filter(pk=project.pk).exists()


def test_there_is_no_open_sign_up_page(client, settings):
    assert settings.NERLAB_SELF_REGISTRATION is False
    for path in ("/accounts/signup/", "/accounts/register/", "/signup/", "/register/"):
        assert client.get(path).status_code == 404


def test_project_edit_works_after_the_creator_account_is_deleted(owner_client, project):
    data = {"language": "en", "label_mode": "token", "overlap_policy": "none", "split_mode": "random"}
    data |= {"test_percent": "25", "split_seed": "0", "training_scope": "tagged"}
    assert project.created_by is None
    assert owner_client.post(_url("project_edit", project), data).status_code == 302
