from __future__ import annotations

import pytest
from django.urls import reverse

from labeling.models import Span
from projects.models import EntityType, Project
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory

pytestmark = pytest.mark.django_db


def _url(name: str, project: Project, *args: object) -> str:
    return reverse(f"projects:{name}", args=[project.name, *args])


def _types_url(name: str, project: Project, *args: object) -> str:
    """Merge and delete, which change spans, are labeling's pages (at the same paths)."""
    return reverse(f"entity_types:{name}", args=[project.name, *args])


def _add(client, project: Project, **data: str):
    return client.post(_url("entity_type_list", project), {"color": "", "hotkey": "", "description": "", **data})


def _update_data(entity_type: EntityType, **changes: str) -> dict[str, str]:
    data = {"name": entity_type.name, "color": entity_type.color, "hotkey": entity_type.hotkey}
    return {**data, "description": entity_type.description, **changes}


def test_list_shows_types_with_counts(client, project, member_of):
    person = EntityTypeFactory(project=project, name="Person", color="#ff0000", hotkey="p", description="People")
    first, second = DocumentFactory(project=project), DocumentFactory(project=project)
    SpanFactory(document=first, entity_type=person, start=0, end=3)
    SpanFactory(document=first, entity_type=person, start=4, end=8)
    SpanFactory(document=second, entity_type=person, start=0, end=3)
    client.force_login(member_of(project, "viewer"))
    response = client.get(_url("entity_type_list", project))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Person" in body and "#ff0000" in body and "<kbd>p</kbd>" in body and "People" in body
    row = response.context["entity_types"].get(name="Person")
    assert (row.span_count, row.document_count) == (3, 2)
    assert "Add an entity type" not in body  # a viewer cannot change the schema


def test_viewer_cannot_add(client, project, member_of):
    client.force_login(member_of(project, "viewer"))
    assert _add(client, project, name="Person").status_code == 403
    assert not EntityType.objects.exists()


def test_add_entity_type(owner_client, project):
    response = _add(owner_client, project, name="Person", hotkey="p", description="People's names")
    assert response.status_code == 302
    person = EntityType.objects.get(project=project, name="Person")
    assert person.hotkey == "p" and person.color.startswith("#")  # colour chosen from the palette


@pytest.mark.parametrize("char", list(":$&%*()+~#/?"))
def test_add_refuses_forbidden_characters(owner_client, project, char):
    response = _add(owner_client, project, name=f"Bad{char}Name")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Entity type name may not contain" in body
    assert not EntityType.objects.exists()


def test_add_refuses_duplicate_name(owner_client, project):
    EntityTypeFactory(project=project, name="Person")
    response = _add(owner_client, project, name="Person")
    assert "already has an entity type with this name" in response.content.decode()
    assert EntityType.objects.filter(project=project).count() == 1


def test_hotkey_is_unique_per_project_ignoring_case(owner_client, project):
    EntityTypeFactory(project=project, name="Person", hotkey="p")
    response = _add(owner_client, project, name="Place", hotkey="P")
    assert "already uses this hotkey" in response.content.decode()
    assert not EntityType.objects.filter(name="Place").exists()
    # Another project may use the same key.
    other = Project.objects.create(name="other", language="en")
    EntityTypeFactory(project=other, name="Person", hotkey="P")


def test_rename_recolour_and_rekey(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person", hotkey="p")
    SpanFactory(document=DocumentFactory(project=project), entity_type=person)
    data = _update_data(person, name="Human", color="#123abc", hotkey="h", description="Any human")
    response = owner_client.post(_url("entity_type_update", project, person.pk), data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.name, person.color, person.hotkey, person.description) == ("Human", "#123abc", "h", "Any human")
    assert person.spans.count() == 1  # spans keep their type


def test_inline_edit_with_htmx(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    headers = {"HX-Request": "true"}
    editor = owner_client.get(_url("entity_type_update", project, person.pk), headers=headers).content.decode()
    assert editor.lstrip().startswith(f'<tr id="entity-type-{person.pk}" class="editing">')
    assert 'type="color"' in editor

    response = owner_client.post(
        _url("entity_type_update", project, person.pk), _update_data(person, name="Human"), headers=headers
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="entity-type-{person.pk}">') and "Human" in body

    # An invalid edit returns the editor row with the error, and changes nothing.
    response = owner_client.post(
        _url("entity_type_update", project, person.pk), _update_data(person, name="Hu/man"), headers=headers
    )
    assert 'class="editing"' in response.content.decode() and "may not contain /" in response.content.decode()
    person.refresh_from_db()
    assert person.name == "Human"


def test_update_page_without_htmx(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    response = owner_client.get(_url("entity_type_update", project, person.pk))
    assert "Edit entity type Person" in response.content.decode()


def test_rename_to_an_existing_name_is_refused(owner_client, project):
    EntityTypeFactory(project=project, name="Person")
    org = EntityTypeFactory(project=project, name="Org")
    response = owner_client.post(_url("entity_type_update", project, org.pk), _update_data(org, name="Person"))
    assert "already has an entity type with this name" in response.content.decode()
    org.refresh_from_db()
    assert org.name == "Org"


def test_delete_confirmation_shows_span_count_then_removes_spans(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project)
    SpanFactory(document=document, entity_type=person, start=0, end=3)
    SpanFactory(document=document, entity_type=person, start=4, end=8)
    body = owner_client.get(_types_url("delete", project, person.pk)).content.decode()
    assert "<strong>2 spans</strong>" in body
    assert EntityType.objects.filter(pk=person.pk).exists()  # GET deletes nothing

    response = owner_client.post(_types_url("delete", project, person.pk), follow=True)
    assert "deleted with its 2 span(s)" in response.content.decode()
    assert not EntityType.objects.filter(pk=person.pk).exists()
    assert not Span.objects.filter(document=document).exists()


def test_entity_type_of_another_project_is_404(owner_client, project):
    other = Project.objects.create(name="other", language="en")
    foreign = EntityTypeFactory(project=other, name="Person")
    assert owner_client.post(_types_url("delete", project, foreign.pk)).status_code == 404
    assert EntityType.objects.filter(pk=foreign.pk).exists()


def test_merge_confirmation_then_merge_moves_spans_and_removes_duplicates(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    human = EntityTypeFactory(project=project, name="Human")
    document = DocumentFactory(project=project)
    SpanFactory(document=document, entity_type=person, start=0, end=3)  # duplicate of the Human span below
    SpanFactory(document=document, entity_type=person, start=4, end=8)
    SpanFactory(document=document, entity_type=person, start=9, end=12)
    SpanFactory(document=document, entity_type=human, start=0, end=3)

    url = _types_url("merge", project)
    response = owner_client.get(url, {"source": person.pk, "target": human.pk})
    assert (response.context["moving"], response.context["duplicates"]) == (2, 1)
    body = response.content.decode()
    assert "<strong>2</strong> spans will move to Human" in body
    assert "duplicates are removed" in body
    assert EntityType.objects.filter(pk=person.pk).exists()  # GET merges nothing

    response = owner_client.post(url, {"source": person.pk, "target": human.pk, "confirm": "1"}, follow=True)
    assert "2 span(s) moved, 1 duplicate(s) removed" in response.content.decode()
    assert not EntityType.objects.filter(pk=person.pk).exists()
    assert sorted(human.spans.values_list("start", "end")) == [(0, 3), (4, 8), (9, 12)]


def test_merge_refuses_the_same_type(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    response = owner_client.get(_types_url("merge", project), {"source": person.pk, "target": person.pk})
    assert "Choose two different entity types" in response.content.decode()
    assert EntityType.objects.filter(pk=person.pk).exists()


def test_annotator_cannot_merge_or_delete(client, project, member_of):
    person = EntityTypeFactory(project=project, name="Person")
    human = EntityTypeFactory(project=project, name="Human")
    client.force_login(member_of(project, "annotator"))
    data = {"source": person.pk, "target": human.pk, "confirm": "1"}
    assert client.post(_types_url("merge", project), data).status_code == 403
    assert client.post(_types_url("delete", project, person.pk)).status_code == 403
    assert EntityType.objects.filter(project=project).count() == 2
