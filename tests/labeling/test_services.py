"""The span-write and document services: the rules every caller (pages, API, import, demo) goes through."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from labeling.models import Document, Span, SpanEvent
from labeling.selectors import document_get, document_list, document_segments, document_span_list
from labeling.services import (
    document_set_status,
    document_update,
    documents_create,
    documents_delete,
    span_create,
    span_delete,
    span_update_type,
)
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.exceptions import Conflict
from projects.models import EntityType
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TEXT = "Alice Smith works at Contoso in Paris."


@pytest.fixture
def doc(project):
    return DocumentFactory(project=project, text=TEXT)


@pytest.fixture
def person(project):
    return EntityTypeFactory(project=project, name="Person")


@pytest.fixture
def org(project):
    return EntityTypeFactory(project=project, name="Organization")


def test_span_create_stores_span_and_starts_progress(doc, person, user):
    span = span_create(document=doc, entity_type=person, start=0, end=11, user=user)
    assert (span.start, span.end, span.entity_type, span.created_by) == (0, 11, person, user)
    assert doc.text[span.start : span.end] == "Alice Smith"
    doc.refresh_from_db()
    assert doc.status == Document.Status.IN_PROGRESS


def test_span_create_rejects_overlap_under_policy_none(doc, person, org, user):
    span_create(document=doc, entity_type=person, start=0, end=11, user=user)
    with pytest.raises(ValidationError) as error:
        span_create(document=doc, entity_type=org, start=6, end=17, user=user)
    assert error.value.messages == [
        "Organization at 6-17 overlaps Person at 0-11; this project does not allow overlapping spans"
    ]
    assert Span.objects.filter(document=doc).count() == 1


def test_span_create_allows_overlap_under_policy_allow(doc, person, org, user, project):
    project.overlap_policy = "allow"
    project.save()
    span_create(document=doc, entity_type=person, start=0, end=11, user=user)
    span_create(document=doc, entity_type=org, start=6, end=17, user=user)
    span_create(document=doc, entity_type=org, start=0, end=11, user=user)  # same region, another type
    assert Span.objects.filter(document=doc).count() == 3


@pytest.mark.parametrize("policy", ["none", "allow"])
def test_span_create_rejects_exact_duplicate_under_any_policy(doc, person, user, project, policy):
    project.overlap_policy = policy
    project.save()
    span_create(document=doc, entity_type=person, start=0, end=5, user=user)
    with pytest.raises(ValidationError, match="Person at 0-5 is already tagged"):
        span_create(document=doc, entity_type=person, start=0, end=5, user=user)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (30, 99, r"outside the document \(0-38 characters\)"),
        (5, 5, "is empty"),
        (9, 5, "is empty"),
        (5, 6, "covers only whitespace"),
    ],
)
def test_span_create_rejects_bad_bounds(doc, person, user, start, end, message):
    with pytest.raises(ValidationError, match=message):
        span_create(document=doc, entity_type=person, start=start, end=end, user=user)
    assert not Span.objects.exists()


def test_span_create_rejects_entity_type_of_another_project(doc, user):
    foreign = EntityTypeFactory(project=ProjectFactory(name="elsewhere"), name="Person")
    with pytest.raises(ValidationError, match="does not belong to project contracts"):
        span_create(document=doc, entity_type=foreign, start=0, end=5, user=user)


def test_span_offsets_are_code_points(project, person, user):
    document = DocumentFactory(project=project, text="😀 Zoë Ångström")
    span = span_create(document=document, entity_type=person, start=2, end=5, user=user)
    assert document.text[span.start : span.end] == "Zoë"


def test_span_delete_returns_untouched_document_to_untagged_but_keeps_tagged(doc, person, user):
    span = span_create(document=doc, entity_type=person, start=0, end=5, user=user)
    span_delete(span=span, user=None)
    doc.refresh_from_db()
    assert doc.status == Document.Status.UNTAGGED
    span = span_create(document=doc, entity_type=person, start=0, end=5, user=user)
    document_set_status(document=doc, status="tagged", user=user)
    span_delete(span=span, user=None)
    doc.refresh_from_db()
    assert doc.status == Document.Status.TAGGED


def test_span_update_type_checks_duplicates_and_project(doc, person, org, user):
    span = span_create(document=doc, entity_type=person, start=0, end=5, user=user)
    assert span_update_type(span=span, entity_type=org, user=None).entity_type == org
    with pytest.raises(ValidationError, match="does not belong"):
        span_update_type(span=span, entity_type=EntityTypeFactory(project=ProjectFactory(name="other")), user=None)


def test_document_set_status_records_who_tagged(doc, user):
    document_set_status(document=doc, status="tagged", user=user)
    doc.refresh_from_db()
    assert doc.status == "tagged" and doc.tagged_by == user and doc.tagged_at is not None
    document_set_status(document=doc, status="in_progress", user=user)
    doc.refresh_from_db()
    assert doc.tagged_by is None and doc.tagged_at is None
    with pytest.raises(ValidationError, match="Status must be one of"):
        document_set_status(document=doc, status="done", user=user)


def test_document_update_language_split_and_assignee(doc, project, member_of):
    annotator = member_of(project, "annotator")
    document_update(document=doc, language="pt-br", split="train", assigned_to=annotator)
    doc.refresh_from_db()
    assert (doc.language, doc.split, doc.assigned_to) == ("pt-BR", "train", annotator)
    with pytest.raises(ValidationError, match="not a member"):
        document_update(document=doc, assigned_to=UserFactory(username="outsider"))
    with pytest.raises(ValidationError, match="Split must be train, test or blank"):
        document_update(document=doc, split="validation")
    with pytest.raises(ValidationError, match="not a BCP-47 language code"):
        document_update(document=doc, language="english!")


def test_document_update_multilingual_project_needs_a_language(user):
    project = ProjectFactory(language="en", multilingual=True)
    document = DocumentFactory(project=project, language="en")
    with pytest.raises(ValidationError, match="multilingual"):
        document_update(document=document, language="  ")


def test_documents_delete_is_scoped_to_the_project(project):
    mine = DocumentFactory(project=project)
    theirs = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    assert documents_delete(project=project, ids=[mine.pk, theirs.pk, 999_999]) == 1
    assert Document.objects.filter(pk=theirs.pk).exists()


def test_document_get_is_scoped_to_the_project(project):
    from django.http import Http404

    theirs = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    with pytest.raises(Http404):
        document_get(project=project, document_id=theirs.pk)


def test_documents_create_stores_spans_and_creates_missing_types(project, person, user):
    docs = [
        LabeledDoc(
            text=TEXT, spans=(NerSpan(21, 28, "Organization"), NerSpan(0, 11, "Person")), name="a", split="test"
        ),
        LabeledDoc(text="Nothing to tag here.", name="b"),
    ]
    result = documents_create(project=project, user=user, docs=docs)
    assert result.errors == [] and [d.name for d in result.created] == ["a", "b"]
    a, b = Document.objects.filter(project=project).order_by("name")
    assert (a.status, a.split, a.tagged_by) == ("tagged", "test", user)
    assert (b.status, b.split) == ("untagged", "")
    assert [(s.entity_type.name, s.start, s.end) for s in document_span_list(document=a)] == [
        ("Person", 0, 11),
        ("Organization", 21, 28),
    ]
    assert set(EntityType.objects.filter(project=project).values_list("name", flat=True)) == {"Person", "Organization"}


def test_documents_create_is_all_or_nothing_with_every_problem_listed(project, user):
    docs = [
        LabeledDoc(text=TEXT, spans=(NerSpan(0, 11, "Person"),), name="good"),
        LabeledDoc(text=TEXT + "!", spans=(NerSpan(0, 11, "Person"), NerSpan(6, 17, "Person")), name="overlap"),
        LabeledDoc(text="Short.", spans=(NerSpan(0, 99, "Person"),), name="bounds"),
        LabeledDoc(text="Bad label.", spans=(NerSpan(0, 3, "a/b"),), name="label"),
        LabeledDoc(text="", name="empty"),
    ]
    result = documents_create(project=project, user=user, docs=docs)
    assert result.created == []
    assert [error.split(":")[0] for error in result.errors] == [
        "overlap",
        "bounds",
        "empty",
        "label",
    ]
    assert not Document.objects.exists() and not EntityType.objects.exists()


def test_documents_create_skips_duplicates(project, user):
    DocumentFactory(project=project, text=TEXT)
    result = documents_create(project=project, user=user, docs=[LabeledDoc(text=TEXT, name="again")])
    assert result.errors == [] and result.created == [] and result.duplicates == ["again"]


def test_documents_create_language_rules(user):
    mono = ProjectFactory(language="en")
    result = documents_create(project=mono, user=user, docs=[LabeledDoc(text="Hallo.", language="de", name="de")])
    assert result.errors == [
        "de: language de differs from the project's (en); make the project multilingual to import documents "
        "in several languages"
    ]
    multi = ProjectFactory(language="en", multilingual=True)
    result = documents_create(
        project=multi, user=user, docs=[LabeledDoc(text="Hallo.", language="de-at"), LabeledDoc(text="Hi.")]
    )
    assert [d.language for d in result.created] == ["de-AT", "en"]


def test_document_segments_cut_at_every_boundary(project, person, org, user):
    project.overlap_policy = "allow"
    project.save()
    document = DocumentFactory(project=project, text=TEXT)
    SpanFactory(document=document, entity_type=person, start=0, end=11)
    SpanFactory(document=document, entity_type=org, start=6, end=11)
    spans = list(document_span_list(document=document))
    segments = document_segments(text=document.text, spans=spans)
    assert "".join(s.text for s in segments) == TEXT
    assert [(s.text, s.labels) for s in segments] == [
        ("Alice ", "Person"),
        ("Smith", "Person, Organization"),
        (TEXT[11:], ""),
    ]
    assert segments[1].color == org.color  # the innermost span colours the overlap


def test_document_list_does_not_load_text(project):
    DocumentFactory(project=project)
    assert "text" in document_list(project=project).first().get_deferred_fields()


def test_span_update_type_refuses_when_the_span_changed_since_the_caller_read_it(doc, person, org, user):
    location = EntityTypeFactory(project=doc.project, name="Location")
    span = span_create(document=doc, entity_type=person, start=0, end=11, user=user)
    seen_by_second = Span.objects.get(pk=span.pk)  # a second annotator's page, still showing Person
    span_update_type(span=span, entity_type=org, user=user, expected_entity_type_id=person.pk)
    with pytest.raises(Conflict, match="changed to Organization meanwhile"):
        span_update_type(span=seen_by_second, entity_type=location, user=None, expected_entity_type_id=person.pk)
    assert Span.objects.get(pk=span.pk).entity_type == org  # the first annotator's change stands


def test_span_update_type_and_delete_of_a_span_deleted_meanwhile_are_refused(doc, person, org, user):
    span = span_create(document=doc, entity_type=person, start=0, end=11, user=user)
    stale = Span.objects.get(pk=span.pk)  # read before someone else deleted it
    span_delete(span=span, user=user)
    with pytest.raises(Conflict, match="removed meanwhile"):
        span_update_type(span=stale, entity_type=org, user=None)
    with pytest.raises(Conflict, match="removed meanwhile"):
        span_delete(span=stale, user=None)
    assert SpanEvent.objects.filter(action=SpanEvent.Action.DELETED).count() == 1  # one removal, recorded once
