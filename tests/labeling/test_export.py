"""Export: whole project or the document list's filters, every format, effective split and language."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.imports import ExportError, labeled_docs_export, project_export_file
from labeling.models import Document
from projects.models import Project
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory


@pytest.fixture
def filled(project):
    person = EntityTypeFactory(project=project, name="Person")
    city = EntityTypeFactory(project=project, name="City")
    alice = DocumentFactory(project=project, name="alice.txt", text="Alice Smith lives in Paris.", split="test")
    SpanFactory(document=alice, entity_type=person, start=0, end=11)
    SpanFactory(document=alice, entity_type=city, start=21, end=26)
    bob = DocumentFactory(project=project, name="bob.txt", text="Bob doesn't like Berlin.", language="en-GB")
    SpanFactory(document=bob, entity_type=city, start=17, end=23)
    DocumentFactory(project=project, name="empty.txt", text="Nothing here.", status=Document.Status.TAGGED)
    return project


def test_export_carries_effective_split_and_language(filled):
    docs = labeled_docs_export(project=filled)
    assert [doc.name for doc in docs] == ["alice.txt", "bob.txt", "empty.txt"]
    assert docs[0].split == "test"  # manual
    assert all(doc.split in ("train", "test") for doc in docs)  # the others by the project's rule
    assert [doc.language for doc in docs] == ["en", "en-GB", "en"]
    assert [(s.label, s.text_in(docs[0].text)) for s in docs[0].spans] == [("Person", "Alice Smith"), ("City", "Paris")]
    filled.split_mode = Project.SplitMode.MANUAL
    filled.save()
    assert [doc.split for doc in labeled_docs_export(project=filled)] == ["test", "train", "train"]


def test_export_filters_match_the_document_list(filled):
    city = filled.entity_types.get(name="City")
    exported = project_export_file(project=filled, format="jsonl", entity_type_id=city.pk)
    rows = [json.loads(line) for line in exported.data.decode().splitlines()]
    assert [row["name"] for row in rows] == ["alice.txt", "bob.txt"]
    exported = project_export_file(project=filled, format="jsonl", search="berlin", split="auto")
    assert [json.loads(line)["name"] for line in exported.data.decode().splitlines()] == ["bob.txt"]
    assert exported.file_name == "contracts.jsonl" and exported.content_type == "application/x-ndjson"


def test_azure_export_is_a_zip_with_project_metadata_and_texts(filled):
    filled.description = "Loan agreements"
    filled.save()
    exported = project_export_file(project=filled, format="azure")
    with zipfile.ZipFile(io.BytesIO(exported.data)) as archive:
        labels = json.loads(archive.read("labels.json"))
        assert archive.read("alice.txt") == b"Alice Smith lives in Paris."
    assert labels["metadata"]["projectName"] == "contracts"
    assert labels["metadata"]["description"] == "Loan agreements"
    assert [e["category"] for e in labels["assets"]["entities"]] == ["City", "Person"]
    assert labels["assets"]["documents"][0]["dataset"] == "Test"


def test_conll_uses_the_training_tokenizer_or_keeps_words(filled):
    spacy_tokens = project_export_file(project=filled, format="conll").data.decode()
    assert "does _ _ O\nn't _ _ O" in spacy_tokens and "Berlin _ _ B-City\n. _ _ O" in spacy_tokens
    words = project_export_file(project=filled, format="conll", tokenizer="whitespace", search="Nothing").data.decode()
    assert "Nothing _ _ O\nhere. _ _ O" in words
    with pytest.raises(ExportError, match=r"City at 21-26 \('Paris'\) does not end on a token boundary"):
        project_export_file(project=filled, format="conll", tokenizer="whitespace", search="Paris")  # "Paris."
    bioes = project_export_file(project=filled, format="conll", scheme="bioes", search="Alice").data.decode()
    assert "Alice _ _ B-Person\nSmith _ _ E-Person" in bioes


def test_export_error_lists_the_spans_a_format_cannot_hold(filled):
    filled.label_mode = Project.LabelMode.CHARACTER
    filled.save()
    alice = filled.documents.get(name="alice.txt")
    SpanFactory(document=alice, entity_type=filled.entity_types.get(name="City"), start=2, end=4)
    with pytest.raises(ExportError) as caught:
        project_export_file(project=filled, format="spacy")
    assert "does not fall on spaCy's token boundaries" in str(caught.value)


def test_export_page_and_api_download(owner_client, filled, user):
    url = reverse("labeling:document_export", args=[filled.name])
    page = owner_client.get(url)
    assert page.status_code == 200 and "3 documents: the whole project" in page.content.decode()
    download = owner_client.get(url, {"format": "doccano", "status": "tagged"})
    assert download["Content-Disposition"] == 'attachment; filename="contracts-doccano.jsonl"'
    assert [json.loads(line)["name"] for line in download.content.decode().splitlines()] == ["empty.txt"]

    api = APIClient()
    api.force_authenticate(user)
    response = api.get(reverse("api-export", args=[filled.name]), {"format": "label-studio", "split": "test"})
    assert response.status_code == 200
    tasks = json.loads(response.content)
    assert [task["data"]["name"] for task in tasks] == ["alice.txt"]
    bad = api.get(reverse("api-export", args=[filled.name]), {"format": "pdf"})
    assert bad.status_code == 400 and "format" in bad.json()
