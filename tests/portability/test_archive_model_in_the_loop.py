"""The archive (and so the clone) keeps issue 7's data: the audit trail, pending suggestions, agreement copies,
active-learning scores and learning curves, all pointing at the new project's documents, types and users."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from evaluation.learning_curve.selectors import curve_projection
from evaluation.models import LearningCurve
from evaluation.selectors import snapshot_documents
from evaluation.services import snapshot_create
from labeling.agreement.services import annotator_span_create, assignment_submit, assignments_create
from labeling.audit.selectors import document_tag_history
from labeling.models import AnnotationAssignment, Document, Span, SpanEvent, Suggestion
from labeling.services import documents_create, span_create, span_delete, span_update_type
from labeling.suggestions.services import suggestions_replace
from ner.predict import ScoredSpan
from ner.types import LabeledDoc
from portability.archive import (
    ARCHIVE_VERSION,
    project_archive_bytes,
    project_archive_import,
    project_archive_inspect,
    project_clone,
)
from projects.models import EntityType, Project
from projects.roles import Role
from tests.evaluation.conftest import make_trainable

GRACE = "Grace Hopper sailed to Oslo."
POINTS = [
    {
        "percent": percent,
        "documents": documents,
        "instances": 2 * documents,
        "micro_f1": f1,
        "precision": f1 + 0.05,
        "recall": f1 - 0.05,
        "steps": 40,
        "duration_s": 2.5,
        "per_type": {
            "PERSON": {"f1": f1 + 0.1, "instances": documents},
            "CITY": {"f1": f1 - 0.1, "instances": documents},
        },
    }
    for percent, documents, f1 in ((50, 6, 0.5), (100, 12, 0.7))
]


@pytest.fixture
def busy(project, user, member_of):
    """A project with every kind of issue 7 data: trail, suggestion, copies, a score, a curve (and a running one)."""
    make_trainable(project, user)
    bob = member_of(project, Role.ANNOTATOR, "bob")
    carol = member_of(project, Role.ANNOTATOR, "carol")
    grace = documents_create(project=project, user=user, docs=[LabeledDoc(text=GRACE, name="grace.txt")]).created[0]
    person = EntityType.objects.get(project=project, name="PERSON")
    city = EntityType.objects.get(project=project, name="CITY")
    tagged = list(Document.objects.filter(project=project, status=Document.Status.TAGGED).order_by("pk"))

    span_delete(span=Span.objects.get(document=tagged[1], entity_type=city), user=bob)
    span_update_type(span=Span.objects.get(document=tagged[2], entity_type=person), entity_type=city, user=user)
    hopper = span_create(document=grace, entity_type=person, start=0, end=12, user=carol)
    span_update_type(span=hopper, entity_type=city, user=user)

    oslo = GRACE.index("Oslo")
    suggestions_replace(document=grace, model_name="model-1", spans=[ScoredSpan(oslo, oslo + 4, "CITY", 0.875)])
    Document.objects.filter(pk=grace.pk).update(uncertainty=0.6180339887, uncertainty_model="model-1")

    assignments_create(project=project, document_ids=[tagged[3].pk], annotators=[bob, carol], user=user)
    copy = AnnotationAssignment.objects.get(document=tagged[3], annotator=carol)
    gold = Span.objects.get(document=tagged[3], entity_type=person)
    annotator_span_create(assignment=copy, entity_type=person, start=gold.start, end=gold.end, user=carol)
    assignment_submit(assignment=copy, user=carol)

    snapshot = snapshot_create(project=project, user=user)
    finished = timezone.now() - timedelta(days=2)
    LearningCurve.objects.create(
        project=project,
        snapshot=snapshot,
        percents=[50, 100],
        seed=3,
        max_steps=40,
        status=LearningCurve.Status.SUCCEEDED,
        points=POINTS,
        projection=curve_projection(POINTS).to_dict(),
        requested_by=user,
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
    )
    LearningCurve.objects.create(project=project, snapshot=snapshot, percents=[50, 100], status="running")
    return project


def _events(project: Project) -> list[tuple]:
    return [
        (
            e.document.name if e.document else None,
            e.document_name,
            e.action,
            e.source,
            e.entity_type,
            e.previous_entity_type,
            e.start,
            e.end,
            e.surface,
            e.user.username if e.user else None,
            e.created_at,
        )
        for e in SpanEvent.objects.filter(project=project).select_related("document", "user").order_by("created_at")
    ]


def _suggestions(project: Project) -> list[tuple]:
    return [
        (s.document.name, s.start, s.end, s.entity_type.name, s.confidence, s.model_name, s.created_at)
        for s in Suggestion.objects.filter(document__project=project).select_related("document", "entity_type")
    ]


def _copies(project: Project) -> list[tuple]:
    return sorted(
        (
            a.document.name,
            a.annotator.username,
            a.status,
            a.assigned_by.username,
            a.created_at,
            a.submitted_at,
            sorted((s.start, s.end, s.entity_type.name) for s in a.spans.all()),
        )
        for a in AnnotationAssignment.objects.filter(document__project=project).select_related(
            "document", "annotator", "assigned_by"
        )
    )


def _scores(project: Project) -> list[tuple]:
    return sorted(
        Document.objects.filter(project=project, uncertainty__isnull=False).values_list(
            "name", "uncertainty", "uncertainty_model"
        )
    )


def _curves(project: Project) -> list[tuple]:
    return [
        (c.percents, c.seed, c.max_steps, c.status, c.points, c.projection, c.requested_by, c.created_at, c.finished_at)
        for c in LearningCurve.objects.filter(project=project).select_related("requested_by")
    ]


def _assert_kept(source: Project, copy: Project, client) -> None:
    """Everything issue 7 added is in ``copy`` as in ``source``, and points at ``copy``'s own rows."""
    assert len(_events(copy)) == 4
    assert _events(copy) == _events(source)
    assert _suggestions(copy) == _suggestions(source)
    assert len(_copies(copy)) == 2 and _copies(copy) == _copies(source)
    assert _scores(copy) == _scores(source) == [("grace.txt", 0.6180339887, "model-1")]
    # The running curve is a job, not a result: only the finished one travels.
    assert _curves(copy) == [c for c in _curves(source) if c[3] == LearningCurve.Status.SUCCEEDED]
    assert len(_curves(copy)) == 1

    for event in SpanEvent.objects.filter(project=copy, document__isnull=False):
        assert event.document.project_id == copy.pk
    for suggestion in Suggestion.objects.filter(document__project=copy):
        assert suggestion.entity_type.project_id == copy.pk
    for assignment in AnnotationAssignment.objects.filter(document__project=copy):
        assert {s.entity_type.project_id for s in assignment.spans.all()} <= {copy.pk}
    curve = LearningCurve.objects.get(project=copy)
    assert curve.snapshot.project_id == copy.pk
    copy_ids = set(Document.objects.filter(project=copy).values_list("pk", flat=True))
    original = LearningCurve.objects.get(project=source, status=LearningCurve.Status.SUCCEEDED).snapshot
    assert len(curve.snapshot.train_document_ids) == len(original.train_document_ids)
    assert set(curve.snapshot.train_document_ids + curve.snapshot.test_document_ids) <= copy_ids
    assert [d.text for d in snapshot_documents(snapshot=curve.snapshot)] == [
        d.text for d in snapshot_documents(snapshot=original)
    ]

    # The document history links the trail to the imported tag: one tag, created by carol, retyped by alice.
    grace = Document.objects.get(project=copy, name="grace.txt")
    (tag,) = document_tag_history(document=grace)
    assert tag.exists and tag.entity_type == "CITY"
    assert [(e.action, e.username) for e in tag.entries] == [("created", "carol"), ("retyped", "alice")]
    deleted = SpanEvent.objects.get(project=copy, action=SpanEvent.Action.DELETED)
    assert deleted.span_id is None  # that tag is gone: nothing to link to
    for event in SpanEvent.objects.filter(project=copy).exclude(action=SpanEvent.Action.DELETED):
        assert Span.objects.filter(pk=event.span_id, document__project=copy).exists()

    response = client.get(reverse("curves:learning_curve_detail", args=[copy.name, curve.pk]))
    assert response.status_code == 200 and 'data-percent="100"' in response.content.decode()


def test_round_trip_keeps_trail_suggestions_copies_scores_and_curves(client, busy, user):
    data = project_archive_bytes(project=busy)

    imported = project_archive_import(source=io.BytesIO(data), user=user, name="contracts-restored")

    assert imported.notes == []
    client.force_login(user)
    _assert_kept(busy, imported.project, client)


def test_clone_keeps_them_without_the_models(client, busy, user):
    clone = project_clone(source=busy, user=user, name="contracts-copy")

    client.force_login(user)
    _assert_kept(busy, clone, client)


def test_inspect_counts_the_new_entries(busy):
    summary = project_archive_inspect(source=io.BytesIO(project_archive_bytes(project=busy)))

    counted = (summary.audit_events, summary.suggestions, summary.agreement_copies, summary.learning_curves)
    assert counted == (4, 1, 2, 1)


def test_users_missing_here_lose_their_copies_and_names_with_a_note(busy, user):
    data = project_archive_bytes(project=busy)
    get_user_model().objects.filter(username="bob").delete()

    imported = project_archive_import(source=io.BytesIO(data), user=user, name="elsewhere")

    copy = imported.project
    assert [row[1] for row in _copies(copy)] == ["carol"]
    deleted = SpanEvent.objects.get(project=copy, action=SpanEvent.Action.DELETED)
    assert deleted.user is None and deleted.document_name
    assert any("bob" in note and "agreement" in note for note in imported.notes)
    assert any("bob" in note and "audit trail" in note for note in imported.notes)


def _rewrite(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The archive with each entry passed through ``change`` (None drops it)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        for info in source.infolist():
            content = change(info.filename, source.read(info))
            if content is not None:
                archive.writestr(info.filename, content)
    return output.getvalue()


NEW_ENTRIES = ("audit.jsonl", "suggestions.jsonl", "agreement.jsonl", "learning_curves.jsonl")


def _as_version_1(name: str, content: bytes) -> bytes | None:
    if name in NEW_ENTRIES:
        return None
    if name == "project.json":
        manifest = json.loads(content)
        manifest["version"] = 1
        for key in ("audit", "suggestions", "agreement", "learning_curves"):
            del manifest[key]
        return json.dumps(manifest).encode()
    if name == "documents.jsonl":
        rows = [json.loads(line) for line in content.splitlines()]
        for row in rows:
            row["meta"] = {key: row["meta"][key] for key in ("id", "status")}
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    return content


def test_a_version_1_archive_still_imports(busy, user):
    assert ARCHIVE_VERSION == 2
    old = _rewrite(project_archive_bytes(project=busy), _as_version_1)

    summary = project_archive_inspect(source=io.BytesIO(old))
    imported = project_archive_import(source=io.BytesIO(old), user=user, name="from-version-1")

    copy = imported.project
    assert summary.audit_events == summary.suggestions == summary.agreement_copies == summary.learning_curves == 0
    assert Document.objects.filter(project=copy).count() == Document.objects.filter(project=busy).count()
    assert Span.objects.filter(document__project=copy).count() == Span.objects.filter(document__project=busy).count()
    assert _events(copy) == _suggestions(copy) == _copies(copy) == _scores(copy) == _curves(copy) == []


def test_an_unknown_version_is_refused(busy, user):
    def version_3(name: str, content: bytes) -> bytes:
        return json.dumps({**json.loads(content), "version": 3}).encode() if name == "project.json" else content

    with pytest.raises(ValidationError, match="version 3; this nerlab reads versions 1 and 2"):
        project_archive_import(source=io.BytesIO(_rewrite(project_archive_bytes(project=busy), version_3)), user=user)


def _break_last_line(entry: str, mutate: Callable[[dict], object]) -> Callable[[str, bytes], bytes]:
    def change(name: str, content: bytes) -> bytes:
        if name != entry:
            return content
        lines = content.decode().splitlines()
        row = json.loads(lines[-1])
        lines[-1] = mutated if isinstance(mutated := mutate(row), str) else json.dumps(row)
        return ("\n".join(lines) + "\n").encode()

    return change


def _set(key: str, value: object) -> Callable[[dict], None]:
    return lambda row: row.__setitem__(key, value)


def _set_meta_uncertainty(row: dict) -> None:
    row["meta"]["uncertainty"] = "very"


@pytest.mark.parametrize(
    ("entry", "mutate", "message"),
    [
        ("audit.jsonl", _set("action", "renamed"), "field 'action': must be one of created, retyped, deleted"),
        ("audit.jsonl", lambda row: '{"action": "created", ', "the JSON ends too early"),
        ("audit.jsonl", _set("document", 999999), "field 'document': names document 999999, which documents.jsonl"),
        ("suggestions.jsonl", _set("confidence", 1.5), "field 'confidence': must be a number from 0 to 1"),
        (
            "suggestions.jsonl",
            _set("entity_type", "SHIP"),
            "field 'entity_type': names entity type 'SHIP', which the archive",
        ),
        ("agreement.jsonl", _set("spans", [{"start": 0, "end": 9999, "label": "PERSON"}]), "past the end of the text"),
        ("agreement.jsonl", _set("status", "lost"), "field 'status': must be one of open, submitted, adjudicated"),
        ("learning_curves.jsonl", _set("snapshot", 999999), "names snapshot 999999, which project.json does not list"),
        ("learning_curves.jsonl", _set("points", [{"percent": 50}]), "field 'points'[0]: 'documents' must be a number"),
        ("documents.jsonl", _set_meta_uncertainty, "field 'meta'.'uncertainty': must be a number from 0 to 1"),
    ],
)
def test_a_malformed_line_is_refused_naming_entry_and_line_and_nothing_is_written(busy, user, entry, mutate, message):
    data = project_archive_bytes(project=busy)
    last_line = sum(1 for line in zipfile.ZipFile(io.BytesIO(data)).read(entry).splitlines() if line.strip())
    broken = _rewrite(data, _break_last_line(entry, mutate))
    counts = [model.objects.count() for model in (Project, Document, SpanEvent, Suggestion, AnnotationAssignment)]

    with pytest.raises(ValidationError) as caught:
        project_archive_import(source=io.BytesIO(broken), user=user, name="broken-copy")

    text = "\n".join(caught.value.messages)
    assert f"{entry}: line {last_line}" in text and message in text, text
    assert not Project.objects.filter(name="broken-copy").exists()
    assert counts == [
        model.objects.count() for model in (Project, Document, SpanEvent, Suggestion, AnnotationAssignment)
    ]
    assert LearningCurve.objects.count() == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [("suggestions.jsonl", "repeats the suggestion on line 1"), ("agreement.jsonl", "'s copy of document")],
)
def test_a_repeated_suggestion_or_copy_is_refused_naming_the_first_line(busy, user, entry, message):
    def repeat_first_line(name: str, content: bytes) -> bytes:
        if name != entry:
            return content
        lines = content.decode().splitlines()
        return ("\n".join([*lines, lines[0]]) + "\n").encode()

    broken = _rewrite(project_archive_bytes(project=busy), repeat_first_line)
    with pytest.raises(ValidationError) as caught:
        project_archive_import(source=io.BytesIO(broken), user=user, name="repeated-copy")
    text = "\n".join(caught.value.messages)
    assert message in text and "on line 1" in text, text
    assert not Project.objects.filter(name="repeated-copy").exists()
