"""Lineage as users see it: a snapshot's page, the model's "Trained on" box, and the models a document fed."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluation import services
from evaluation.lineage import selectors as lineage
from evaluation.models import DatasetSnapshot, Evaluation, TrainedModel, TrainingRun
from evaluation.selectors import snapshot_test_documents
from labeling.models import Document, Span
from labeling.services import (
    document_delete,
    document_set_status,
    document_update,
    span_create,
    span_delete,
    span_update_type,
)
from ner.metrics import evaluate
from projects.models import EntityType
from projects.roles import Role
from tests.evaluation.conftest import make_trainable
from tests.evaluation.factories import finished_model
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory


class _Rows(HTMLParser):
    """The rows of the table with a given id: (the first link's href or "", each cell's text, whitespace collapsed)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth = table_id, 0
        self.rows: list[tuple[str, list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append(("", []))
        elif self.depth and tag in ("td", "th"):
            self.cell = []
        elif self.depth and tag == "a" and self.rows and not self.rows[-1][0]:
            self.rows[-1] = (dict(attrs).get("href") or "", self.rows[-1][1])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def rows(html: bytes, table_id: str) -> list[tuple[str, list[str]]]:
    parser = _Rows(table_id)
    parser.feed(html.decode())
    return parser.rows[1:]


def model_for(snapshot: DatasetSnapshot, name: str, user=None) -> TrainedModel:
    """A succeeded run of ``snapshot`` and its model, evaluated as if it predicted the test side perfectly."""
    now = timezone.now()
    run = TrainingRun.objects.create(
        project=snapshot.project,
        snapshot=snapshot,
        model_name=name,
        status=TrainingRun.Status.SUCCEEDED,
        phase=TrainingRun.Phase.DONE,
        max_steps=30,
        percent=100,
        requested_by=user,
        started_at=now,
        finished_at=now,
    )
    tests = snapshot_test_documents(snapshot=snapshot)
    report = evaluate([(doc, list(doc.spans)) for doc in tests], resamples=20)
    model = TrainedModel.objects.create(
        project=snapshot.project,
        run=run,
        name=name,
        storage_path=f"projects/{snapshot.project_id}/models/none",
        labels=["CITY", "PERSON"],
        duration_s=2.0,
        snapshot_documents=snapshot.document_count,
        micro_f1=report.micro.f1,
    )
    Evaluation.objects.create(model=model, report=report.to_dict())
    return model


@pytest.fixture
def documents(project, user):
    return make_trainable(project, user)


@pytest.fixture
def snapshot(project, user, documents):
    return services.snapshot_create(project=project, user=user)


def snapshot_url(project, snapshot) -> str:
    return reverse("lineage:snapshot_detail", args=[project.name, snapshot.pk])


def test_snapshot_page_lists_exactly_its_documents_per_side(owner_client, project, user, documents, snapshot):
    model = model_for(snapshot, "first", user)
    DocumentFactory(project=project, name="later.txt")  # uploaded after the snapshot: not part of it

    page = owner_client.get(snapshot_url(project, snapshot))
    assert page.status_code == 200
    by_id = {document.pk: document for document in documents}
    for side, ids in (("train", snapshot.train_document_ids), ("test", snapshot.test_document_ids)):
        listed = rows(page.content, f"documents-{side}")
        assert [cells[0] for _, cells in listed] == [by_id[pk].name for pk in ids]
        assert [href for href, _ in listed] == [
            reverse("labeling:document_detail", args=[project.name, pk]) for pk in ids
        ]
        assert all(cells[3] == "unchanged" for _, cells in listed)
    assert len(snapshot.train_document_ids) == 12 and len(snapshot.test_document_ids) == 4

    html = page.content.decode()
    assert snapshot.content_hash in html and "later.txt" not in html
    assert "random, 20% test, seed 0" in html and "by alice" in html
    (model_row,) = rows(page.content, "snapshot-models")
    assert model_row[0] == reverse("evaluation:trained_model_detail", args=[project.name, model.pk])
    assert model_row[1][0] == "first"


def test_snapshot_page_marks_documents_changed_or_deleted_since(owner_client, project, user, documents, snapshot):
    by_id = {document.pk: document for document in documents}
    train_ids, test_ids = snapshot.train_document_ids, snapshot.test_document_ids
    deleted, retagged, retyped, moved = (
        by_id[train_ids[0]],
        by_id[train_ids[1]],
        by_id[train_ids[2]],
        by_id[test_ids[0]],
    )
    deleted_id = deleted.pk
    document_delete(document=deleted)
    city = EntityType.objects.get(project=project, name="CITY")
    for gone in Span.objects.filter(document=retagged):
        span_delete(span=gone, user=user)
    span = Span.objects.filter(document=retyped, entity_type__name="PERSON").get()
    span_update_type(span=span, entity_type=city, user=user)
    document_update(document=moved, split="train")
    # Re-tagging a document exactly as it was is no change.
    same = by_id[train_ids[3]]
    kept = Span.objects.filter(document=same, entity_type__name="CITY").get()
    start, end = kept.start, kept.end
    kept.delete()
    span_create(document=Document.objects.get(pk=same.pk), entity_type=city, start=start, end=end, user=user)

    page = owner_client.get(snapshot_url(project, snapshot))
    train = {cells[0]: cells for _, cells in rows(page.content, "documents-train")}
    test = {cells[0]: cells for _, cells in rows(page.content, "documents-test")}
    assert train[deleted.name][3] == "deleted since" and train[deleted.name][2] == "—"
    assert train[retagged.name][1:] == ["2", "0", "changed since tags"]
    assert train[retyped.name][1:] == ["2", "2", "changed since tags"]
    assert test[moved.name][3] == "changed since now on the train side"
    assert train[same.name][3] == "unchanged"
    html = page.content.decode()
    assert 'id="changed-count">3<' in html and 'id="deleted-count">1<' in html
    # A deleted document is listed by its frozen name, without a link.
    assert reverse("labeling:document_detail", args=[project.name, deleted_id]) not in html


def test_model_page_says_what_it_was_trained_on(owner_client, project, user, snapshot):
    model = model_for(snapshot, "first", user)
    page = owner_client.get(reverse("evaluation:trained_model_detail", args=[project.name, model.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="trained-on"' in html
    assert f'href="{snapshot_url(project, snapshot)}"' in html and snapshot.content_hash[:12] in html
    assert "12 training · 4 test" in html
    assert f"{snapshot.created_at:%Y-%m-%d %H:%M}</time> by alice" in html


def test_document_lists_the_models_that_used_it(owner_client, project, user, documents, snapshot):
    first = model_for(snapshot, "first", user)
    train_doc = Document.objects.get(pk=snapshot.train_document_ids[0])
    test_doc = Document.objects.get(pk=snapshot.test_document_ids[0])
    # A second snapshot without the first training document (untagged now), and a model of it.
    for span in Span.objects.filter(document=train_doc):
        span_delete(span=span, user=user)
    document_set_status(document=train_doc, status=Document.Status.UNTAGGED, user=user)
    second = model_for(services.snapshot_create(project=project, user=user), "second", user)
    outsider = DocumentFactory(project=project, name="never-trained.txt")

    def models_of(document):
        url = reverse("lineage:document_models", args=[project.name, document.pk])
        response = owner_client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200 and b"<html" not in response.content
        return [(cells[0], cells[1], href) for href, cells in rows(response.content, "document-models-table")]

    detail = reverse("evaluation:trained_model_detail", args=[project.name, first.pk])
    assert models_of(train_doc) == [("first", "Training", detail)]
    assert models_of(test_doc) == [
        ("second", "Test (scored on it)", reverse("evaluation:trained_model_detail", args=[project.name, second.pk])),
        ("first", "Test (scored on it)", detail),
    ]
    assert models_of(outsider) == []
    page = owner_client.get(reverse("lineage:document_models", args=[project.name, outsider.pk]))
    assert b"<html" in page.content and b"No trained model has used this document yet." in page.content
    # The selector agrees, including for a model deleted since (it is gone from the list, not an error).
    first.delete()
    assert [use.model.name for use in lineage.document_models(document=test_doc)] == ["second"]


def test_unreadable_snapshot_file_is_said_not_hidden(owner_client, project, user, snapshot):
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(file=f"projects/{project.pk}/snapshots/missing.jsonl")
    page = owner_client.get(snapshot_url(project, snapshot))
    assert page.status_code == 200
    assert b"could not be read" in page.content
    assert len(rows(page.content, "documents-train")) == 12


def test_lineage_pages_are_scoped_to_members(client, project, user, member_of, documents, snapshot):
    client.force_login(member_of(project, Role.VIEWER))
    assert client.get(snapshot_url(project, snapshot)).status_code == 200
    document_page = reverse("lineage:document_models", args=[project.name, documents[0].pk])
    assert client.get(document_page).status_code == 200

    client.force_login(UserFactory(username="stranger"))
    assert client.get(snapshot_url(project, snapshot)).status_code == 404
    assert client.get(document_page).status_code == 404

    # The owner of both projects gets 404 for the other project's snapshot or document in this project's URLs.
    elsewhere = ProjectFactory(name="elsewhere")
    MembershipFactory(project=elsewhere, user=user, role=Role.OWNER)
    foreign_doc = DocumentFactory(project=elsewhere)
    foreign_snapshot = finished_model(elsewhere, foreign_doc).run.snapshot
    client.force_login(user)
    assert client.get(snapshot_url(elsewhere, foreign_snapshot)).status_code == 200
    assert client.get(reverse("lineage:snapshot_detail", args=[project.name, foreign_snapshot.pk])).status_code == 404
    assert client.get(reverse("lineage:document_models", args=[project.name, foreign_doc.pk])).status_code == 404
