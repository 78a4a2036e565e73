from __future__ import annotations

from labeling.models import Span
from ner import limits
from projects.models import EntityType
from projects.roles import Role
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory


def types_url(project, entity_type_id: int | None = None, suffix: str = "") -> str:
    url = f"/api/v1/projects/{project.name}/entity-types/"
    return url + (f"{entity_type_id}/" if entity_type_id is not None else "") + suffix


def test_entity_type_create_list_update(owner_api, project):
    created = owner_api.post(types_url(project), {"name": "Person", "hotkey": "p"}, format="json")

    assert created.status_code == 201, created.data
    assert created.data["color"].startswith("#")  # a free colour is picked
    type_id = created.data["id"]
    assert [t["name"] for t in owner_api.get(types_url(project)).data] == ["Person"]
    updated = owner_api.patch(types_url(project, type_id), {"name": "Human", "color": "#123abc"}, format="json")
    assert updated.status_code == 200, updated.data
    assert owner_api.get(types_url(project, type_id)).data["name"] == "Human"


def test_entity_type_names_with_forbidden_characters_are_refused(owner_api, project):
    response = owner_api.post(types_url(project), {"name": "Org/Company"}, format="json")

    assert response.status_code == 400
    assert "/" in str(response.data["name"])
    assert not EntityType.objects.filter(project=project).exists()


def test_entity_type_duplicate_name_bad_colour_and_hotkey(owner_api, project):
    EntityTypeFactory(project=project, name="Person", hotkey="p")

    duplicate = owner_api.post(types_url(project), {"name": "Person"}, format="json")
    colour = owner_api.post(types_url(project), {"name": "Place", "color": "red"}, format="json")
    hotkey = owner_api.post(types_url(project), {"name": "Place", "hotkey": "?"}, format="json")

    assert duplicate.status_code == 400
    assert colour.status_code == 400
    assert hotkey.status_code == 400 and "hotkey" in hotkey.data


def test_at_most_200_entity_types(owner_api, project):
    EntityType.objects.bulk_create(
        EntityType(project=project, name=f"T{i}", color="#8ecae6") for i in range(limits.ENTITY_TYPES_MAX)
    )

    response = owner_api.post(types_url(project), {"name": "OneTooMany"}, format="json")

    assert response.status_code == 400
    assert f"at most {limits.ENTITY_TYPES_MAX} entity types" in str(response.data["non_field_errors"])


def test_entity_type_delete_reports_deleted_spans(owner_api, project):
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project)
    SpanFactory(document=document, entity_type=person, start=0, end=8)
    SpanFactory(document=document, entity_type=person, start=9, end=15)

    response = owner_api.delete(types_url(project, person.pk))

    assert response.status_code == 200
    assert response.data == {"deleted_spans": 2}
    assert not Span.objects.filter(document=document).exists()


def test_entity_type_merge_moves_spans_and_drops_duplicates(owner_api, project):
    person = EntityTypeFactory(project=project, name="Person")
    human = EntityTypeFactory(project=project, name="Human")
    document = DocumentFactory(project=project)
    SpanFactory(document=document, entity_type=human, start=0, end=8)
    SpanFactory(document=document, entity_type=person, start=0, end=8)  # same region: a duplicate after merging
    SpanFactory(document=document, entity_type=person, start=9, end=15)

    response = owner_api.post(types_url(project, person.pk, "merge/"), {"into": human.pk}, format="json")

    assert response.status_code == 200, response.data
    assert (response.data["moved"], response.data["duplicates_removed"]) == (1, 1)
    assert response.data["into"]["name"] == "Human"
    assert list(Span.objects.filter(document=document).values_list("entity_type__name", "start")) == [
        ("Human", 0),
        ("Human", 9),
    ]
    assert not EntityType.objects.filter(pk=person.pk).exists()


def test_entity_type_merge_refuses_self_and_other_projects(owner_api, user, project):
    person = EntityTypeFactory(project=project, name="Person")
    other = ProjectFactory(name="other")
    MembershipFactory(project=other, user=user, role=Role.OWNER)
    foreign = EntityTypeFactory(project=other, name="Person")

    into_self = owner_api.post(types_url(project, person.pk, "merge/"), {"into": person.pk}, format="json")
    into_foreign = owner_api.post(types_url(project, person.pk, "merge/"), {"into": foreign.pk}, format="json")
    foreign_in_url = owner_api.get(types_url(project, foreign.pk))

    assert into_self.status_code == 400 and "two different" in str(into_self.data)
    assert into_foreign.status_code == 400 and "No such entity type" in str(into_foreign.data["into"])
    assert foreign_in_url.status_code == 404
    assert EntityType.objects.filter(pk__in=[person.pk, foreign.pk]).count() == 2


def test_annotators_see_but_do_not_change_entity_types(api, project, member_of):
    person = EntityTypeFactory(project=project, name="Person")
    api.force_authenticate(member_of(project, Role.ANNOTATOR))

    assert api.get(types_url(project)).status_code == 200
    assert api.post(types_url(project), {"name": "Place"}, format="json").status_code == 403
    assert api.patch(types_url(project, person.pk), {"name": "P"}, format="json").status_code == 403
    assert api.delete(types_url(project, person.pk)).status_code == 403
    assert api.post(types_url(project, person.pk, "merge/"), {"into": person.pk}, format="json").status_code == 403
