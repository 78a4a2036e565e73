"""Per-language scores on the evaluation page, in the API and in nerlab_evaluate (issue 11, item 7)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.core.management import call_command
from django.urls import reverse

from evaluation.models import Evaluation, TrainedModel
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span
from tests.evaluation.conftest import TINY, tiny_docs
from tests.evaluation.factories import EvaluationFactory, TrainedModelFactory

BASE = "/api/v1/projects/contracts"


def _report(*languages: str) -> dict:
    """A stored report: one test document per language, each tagged "Berlin" as CITY; the German one is missed."""
    pairs = []
    for language in languages:
        gold = LabeledDoc(text="Berlin", spans=(Span(0, 6, "CITY"),), language=language)
        pairs.append((gold, [] if language == "de" else [Span(0, 6, "CITY")]))
    return evaluate(pairs, resamples=0).to_dict()


@pytest.fixture
def multilingual_model(project):
    model = TrainedModelFactory(project=project, name="xling")
    EvaluationFactory(model=model, report=_report("en", "de", "en-GB"))
    return model


@pytest.fixture
def owner_api(user, project):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return api


def _page(client, project, model) -> str:
    response = client.get(reverse("evaluation:trained_model_detail", args=[project.name, model.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_evaluation_page_shows_scores_per_language(owner_client, project, multilingual_model):
    page = _page(owner_client, project, multilingual_model)
    assert 'id="language-scores"' in page
    table = page.split('id="language-scores"')[1].split("</table>")[0]
    rows = table.split("<tbody>")[1].split("</tr>")
    # de: 1 document, support 1, nothing found (0.0%); en (en and en-GB together): 2 documents, both found.
    assert "<code>de</code>" in rows[0] and '<td class="num">1</td><td class="num">1</td>' in rows[0]
    assert "<code>en</code>" in rows[1] and '<td class="num">2</td><td class="num">2</td>' in rows[1]
    assert "100.0%" in rows[1] and "0.0%" in rows[0]


def test_evaluation_page_has_no_language_table_for_one_language_or_an_older_report(owner_client, project):
    one = TrainedModelFactory(project=project, name="english")
    EvaluationFactory(model=one, report=_report("en", "en-US"))
    assert 'id="language-scores"' not in _page(owner_client, project, one)

    older = TrainedModelFactory(project=project, name="older")
    stored = _report("en", "de")
    del stored["languages"]  # evaluated before languages were scored
    EvaluationFactory(model=older, report=stored)
    page = _page(owner_client, project, older)
    assert 'id="language-scores"' not in page and 'id="micro-f1"' in page


def test_api_evaluation_lists_languages(owner_api, multilingual_model):
    body = owner_api.get(f"{BASE}/models/{multilingual_model.pk}/evaluation/").json()["evaluation"]
    assert [(row["language"], row["documents"], row["support"], row["f1"]) for row in body["languages"]] == [
        ("de", 1, 1, 0.0),
        ("en", 2, 2, 1.0),
    ]


def test_nerlab_evaluate_prints_languages(project, multilingual_model, capsys):
    call_command("nerlab_evaluate", project.name, "--model", "xling")
    out = capsys.readouterr().out
    assert "per language:" in out
    assert "de" in out.split("per language:")[1] and "(support 2, 2 documents)" in out


@pytest.mark.slow
def test_a_multilingual_project_stores_scores_per_test_language(
    owner_client, project, user, django_capture_on_commit_callbacks
):
    from labeling.services import documents_create

    project.multilingual = True
    project.save(update_fields=["multilingual"])
    # Trained in English only; the test set holds English and (the same sentences labelled) German documents.
    docs = [
        replace(doc, language="de" if doc.split == "test" and index % 8 == 0 else "en")
        for index, doc in enumerate(tiny_docs())
    ]
    assert {doc.language for doc in docs if doc.split == "test"} == {"en", "de"}
    assert documents_create(project=project, user=user, docs=docs).ok
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("evaluation:training_run_start", args=[project.name]), {**TINY, "model_name": "xling"}
        )
    assert response.status_code == 302
    model = TrainedModel.objects.get(name="xling")
    stored = Evaluation.objects.get(model=model).report["languages"]
    assert [(row["language"], row["documents"]) for row in stored] == [("de", 2), ("en", 2)]
    assert sum(row["tp"] for row in stored) == Evaluation.objects.get(model=model).report["micro"]["tp"]
    assert 'id="language-scores"' in _page(owner_client, project, model)
