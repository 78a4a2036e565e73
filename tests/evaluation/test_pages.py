from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluation.models import TrainedModel, TrainingRun
from projects.roles import Role
from tests.evaluation.conftest import TINY
from tests.evaluation.factories import DatasetSnapshotFactory, TrainingRunFactory


def _train(client, project, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("evaluation:training_run_start", args=[project.name]), {**TINY, "model_name": "", **extra}
        )
    return response


@pytest.fixture
def trained(owner_client, trainable, django_capture_on_commit_callbacks):
    response = _train(owner_client, trainable, django_capture_on_commit_callbacks, model_name="baseline")
    assert response.status_code == 302
    return TrainedModel.objects.get(name="baseline")


def test_training_page_shows_form_to_trainers_only(owner_client, trainable, member_of, client):
    page = owner_client.get(reverse("evaluation:training_run_list", args=[trainable.name]))
    assert page.status_code == 200
    assert b'id="training-form"' in page.content and b"model-1" in page.content
    client.force_login(member_of(trainable, Role.VIEWER))
    page = client.get(reverse("evaluation:training_run_list", args=[trainable.name]))
    assert page.status_code == 200 and b'id="training-form"' not in page.content


def test_start_with_too_few_documents_shows_the_reason(owner_client, project):
    response = owner_client.post(reverse("evaluation:training_run_start", args=[project.name]), TINY)
    assert response.status_code == 400
    assert "Training needs at least 10 documents marked tagged" in response.content.decode()


@pytest.mark.slow
def test_train_then_evaluation_review_and_list(owner_client, trained, trainable):
    run = trained.run
    assert run.status == "succeeded"
    # The finished row no longer polls; it links to the evaluation.
    row = owner_client.get(
        reverse("evaluation:training_run_detail", args=[trainable.name, run.pk]), headers={"HX-Request": "true"}
    )
    html = row.content.decode()
    assert 'hx-trigger="every 1s"' not in html and "Evaluation" in html and "<html" not in html

    models = owner_client.get(reverse("evaluation:trained_model_list", args=[trainable.name])).content.decode()
    assert "baseline" in models and "16 documents" in models

    page = owner_client.get(reverse("evaluation:trained_model_detail", args=[trainable.name, trained.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("Micro-F1", "95% CI", "PERSON", "CITY", "Macro (mean over types)", "Partial-match F1", "$none"):
        assert text in html
    # Both types have 12 training examples: the guidance says so.
    assert "Fewer than 15 training examples for CITY (12), PERSON (12)" in html

    matrix = owner_client.get(
        reverse("evaluation:trained_model_detail", args=[trainable.name, trained.pk]),
        {"matrix": "count", "values": "normalized", "cells": "errors"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert matrix.startswith('\n<div id="matrix">') or '<div id="matrix">' in matrix[:50]
    assert 'data-kind="count"' in matrix and 'data-values="normalized"' in matrix and 'data-cells="errors"' in matrix

    review = owner_client.get(reverse("evaluation:trained_model_review", args=[trainable.name, trained.pk]))
    html = review.content.decode()
    assert html.count('class="card review-doc"') == 4
    assert "Open to fix tags" in html and "/documents/" in html
    only_errors = owner_client.get(
        reverse("evaluation:trained_model_review", args=[trainable.name, trained.pk]),
        {"mismatches": "1"},
        headers={"HX-Request": "true"},
    ).content.decode()
    errors = [int(n) for n in __import__("re").findall(r'data-errors="(\d+)"', only_errors)]
    assert all(n > 0 for n in errors) and errors == sorted(errors, reverse=True)


def test_active_run_row_polls(owner_client, trainable, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    _train(owner_client, trainable, django_capture_on_commit_callbacks)
    run = TrainingRun.objects.get()
    page = owner_client.get(reverse("evaluation:training_run_list", args=[trainable.name])).content.decode()
    assert 'hx-trigger="every 1s"' in page and f'href="/projects/{trainable.name}/training/{run.pk}/"' in page
    response = owner_client.post(reverse("evaluation:training_run_cancel", args=[trainable.name, run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_failed_run_shows_error(owner_client, trainable, monkeypatch, django_capture_on_commit_callbacks):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("evaluation.services.train", broken)
    _train(owner_client, trainable, django_capture_on_commit_callbacks)
    run = TrainingRun.objects.get()
    page = owner_client.get(reverse("evaluation:training_run_detail", args=[trainable.name, run.pk])).content.decode()
    assert "Training failed" in page and "out of memory" in page


@pytest.mark.slow
def test_delete_and_compare(owner_client, trained, trainable, django_capture_on_commit_callbacks):
    _train(owner_client, trainable, django_capture_on_commit_callbacks, model_name="second", seed=11)
    second = TrainedModel.objects.get(name="second")
    compare = owner_client.get(
        reverse("evaluation:trained_model_compare", args=[trainable.name]), {"a": trained.pk, "b": second.pk}
    ).content.decode()
    assert "F1 per entity type" in compare and "Better with second" in compare and "PERSON" in compare
    same = owner_client.get(
        reverse("evaluation:trained_model_compare", args=[trainable.name]), {"a": trained.pk, "b": trained.pk}
    )
    assert same.status_code == 400 and "Choose two different models" in same.content.decode()

    url = reverse("evaluation:trained_model_delete", args=[trainable.name, trained.pk])
    assert "cannot be undone" in owner_client.get(url).content.decode()
    assert owner_client.post(url).status_code == 302
    assert not TrainedModel.objects.filter(pk=trained.pk).exists()


def _run(project, **fields):
    snapshot = DatasetSnapshotFactory(project=project, document_count=10, language="en")
    started = timezone.now() - timedelta(seconds=100)
    return TrainingRunFactory(
        project=project, snapshot=snapshot, max_steps=2000, patience=400, started_at=started, **fields
    )


def test_a_running_run_gives_its_eta_as_a_range_when_patience_may_end_it_first(owner_client, project):
    _run(project, model_name="early", status="running", phase="training", step=100, percent=5.0, eta_s=1900.0,
         stop_step=500, eta_early_s=400.0)  # fmt: skip

    html = owner_client.get(reverse("evaluation:training_run_list", args=[project.name])).content.decode()

    assert "stops at step 500 unless dev F1 improves" in html
    # Both ends as the worker wrote them (ner.train.Progress).
    assert "6 min 40 s \u2013 31 min 40 s" in html
    run = owner_client.get(f"/api/v1/projects/{project.name}/training-runs/").json()["results"][0]
    assert (run["stop_step"], run["eta_early_s"], run["eta_s"]) == (500, 400.0, 1900.0)


def test_a_run_that_stopped_early_says_so_instead_of_just_jumping_to_100(owner_client, project):
    run = _run(project, model_name="early", status="succeeded", phase="done", step=780, percent=100.0,
               stopped_early=True)  # fmt: skip
    from django.utils import timezone

    TrainingRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())

    listing = owner_client.get(reverse("evaluation:training_run_list", args=[project.name])).content.decode()
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[project.name, run.pk])).content.decode()

    assert "stopped early at step 780 of 2000: dev F1 no better for 400 steps" in listing
    assert "early, at step 780 of at most 2000" in detail


@pytest.mark.slow
def test_confusion_cells_and_type_rows_link_to_the_review_of_those_errors(owner_client, trained, trainable):
    detail = owner_client.get(reverse("evaluation:trained_model_detail", args=[trainable.name, trained.pk]))
    html = detail.content.decode()
    review = reverse("evaluation:trained_model_review", args=[trainable.name, trained.pk])
    assert f'href="{review}?mismatches=1&amp;type=PERSON"' in html
    cells = re.findall(rf'href="{re.escape(review)}\?gold=([^&]+)&amp;predicted=([^"]+)"', html)
    assert ("PERSON", "PERSON") in cells and ("%24none", "%24none") not in cells  # untagged, unpredicted text

    everything = owner_client.get(review).content.decode().count('class="card review-doc"')
    for gold, predicted in cells:
        page = owner_client.get(review, {"gold": gold.replace("%24", "$"), "predicted": predicted.replace("%24", "$")})
        body = page.content.decode()
        shown = body.count('class="card review-doc"')
        assert 1 <= shown <= everything, (gold, predicted)
        assert 'id="cell-filter"' in body and "Show every document" in body


def test_retrain_uses_the_models_settings_and_at_the_limit_asks_which_to_replace(owner_client, trainable, monkeypatch):
    from evaluation import services as training_services
    from tests.serving.factories import model_row

    monkeypatch.setattr(training_services, "training_run_dispatch", lambda **kwargs: None)  # queued, never run here
    model = model_row(trainable, "first")
    TrainingRun.objects.filter(pk=model.run_id).update(seed=5, max_steps=300, max_epochs=0, patience=50)
    url = reverse("evaluation:trained_model_retrain", args=[trainable.name, model.pk])
    detail = owner_client.get(reverse("evaluation:trained_model_detail", args=[trainable.name, model.pk]))
    assert f'href="{url}"' in detail.content.decode()

    response = owner_client.post(url)
    run = TrainingRun.objects.exclude(pk=model.run_id).get()
    assert response.status_code == 302 and response["Location"].endswith(f"/training/{run.pk}/?compare={model.pk}")
    assert (run.seed, run.max_steps, run.max_epochs, run.patience) == (5, 300, 0, 50)
    assert run.model_name != "first"

    for index in range(8):  # with the queued run, the project now holds 10
        model_row(trainable, f"old-{index}")
    page = owner_client.get(url).content.decode()
    assert "which one does the new model replace?" in page and 'value="' in page
    refused = owner_client.post(url)
    assert refused.status_code == 400 and "Choose the model the new one replaces." in refused.content.decode()
    oldest = TrainedModel.objects.get(name="old-0")
    assert owner_client.post(url, {"replace": oldest.pk}).status_code == 302
    assert not TrainedModel.objects.filter(name="old-0").exists()
    assert TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE).count() == 2


def test_a_retrains_page_opens_the_comparison_with_the_old_model_when_the_run_succeeds(owner_client, trainable):
    from tests.serving.factories import model_row

    old = model_row(trainable, "first")
    new = model_row(trainable, "second")
    run = new.run
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, phase=TrainingRun.Phase.TRAINING)
    page = reverse("evaluation:training_run_detail", args=[trainable.name, run.pk])
    compare = reverse("evaluation:trained_model_compare", args=[trainable.name]) + f"?a={old.pk}&b={new.pk}"

    running = owner_client.get(page, {"compare": old.pk}).content.decode()
    assert 'id="compare-when-done"' in running and "first" in running
    assert f'hx-get="{page}?compare={old.pk}"' in running  # the poll keeps asking for the comparison
    poll = owner_client.get(page, {"compare": old.pk}, headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "HX-Redirect" not in poll

    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED, phase=TrainingRun.Phase.DONE)
    poll = owner_client.get(page, {"compare": old.pk}, headers={"HX-Request": "true"})
    assert poll["HX-Redirect"] == compare
    reload = owner_client.get(page, {"compare": old.pk})  # without JavaScript a reload gets there too
    assert reload.status_code == 302 and reload["Location"] == compare
    assert owner_client.get(reload["Location"]).status_code == 200
    plain = owner_client.get(page, {"compare": "x"})  # a run's page without a valid model to compare stays itself
    assert plain.status_code == 200 and 'id="compare-when-done"' not in plain.content.decode()


def test_fix_from_the_review_shows_the_models_predictions_as_suggestions_and_leads_back(owner_client, project):
    from evaluation.models import Prediction
    from labeling.models import Suggestion
    from tests.evaluation.factories import finished_model
    from tests.labeling.factories import DocumentFactory
    from tests.projects.factories import EntityTypeFactory

    EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project, text="Alice went to see Bob Jones in town.")
    model = finished_model(project, document)
    prediction = Prediction.objects.get(evaluation__model=model)
    Prediction.objects.filter(pk=prediction.pk).update(
        spans=[{"start": 18, "end": 27, "label": "Person", "confidence": 0.7}]  # misses Alice, finds Bob Jones
    )
    review = reverse("evaluation:trained_model_review", args=[project.name, model.pk])
    page = owner_client.get(review, {"mismatches": "1"}).content.decode()
    fix = reverse("evaluation:trained_model_review_fix", args=[project.name, model.pk, prediction.pk])
    assert f'action="{fix}"' in page and 'name="at" value="0"' in page

    response = owner_client.post(fix, {"back": f"{review}?mismatches=1", "at": "0"})

    annotate = reverse("labeling:document_annotate", args=[project.name, document.pk])
    assert response.status_code == 302 and response["Location"].startswith(f"{annotate}?")
    assert [(s.start, s.end, s.model_name) for s in Suggestion.objects.filter(document=document)] == [
        (18, 27, model.name)
    ]
    opened = owner_client.get(response["Location"])
    assert opened.context["config"]["focusAt"] == 0
    assert f'href="{review}?mismatches=1#review-{prediction.pk}"' in opened.content.decode()
    # Somewhere else than this site is never a way "back".
    elsewhere = owner_client.get(annotate, {"back": "https://example.org/", "at": "0"}).content.decode()
    assert "Back to the review" not in elsewhere


def test_a_type_rows_review_link_lists_only_the_documents_where_that_type_goes_wrong(owner_client, project):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from evaluation.models import Prediction
    from ner.formats.jsonl import write_jsonl
    from ner.metrics import compare_documents, evaluate
    from ner.types import LabeledDoc, Span
    from tests.evaluation.factories import DatasetSnapshotFactory, EvaluationFactory, TrainedModelFactory

    # Both documents hold a mistake, but only the second one's is about PERSON: the first finds its PERSON and
    # misses a CITY.
    gold = [
        LabeledDoc(text="Alice flew to Paris.", spans=(Span(0, 5, "PERSON"), Span(14, 19, "CITY")), name="city-miss"),
        LabeledDoc(text="Bob Jones stayed home.", spans=(Span(0, 9, "PERSON"),), name="person-miss"),
    ]
    gold = [replace(doc, split="test", meta={"document_id": "0"}) for doc in gold]
    predicted = [[Span(0, 5, "PERSON")], []]
    snapshot = DatasetSnapshotFactory(project=project, span_counts={"train": {}, "test": {"PERSON": 2, "CITY": 1}})
    snapshot.file = default_storage.save(
        f"projects/{project.pk}/snapshots/{snapshot.pk}.jsonl", ContentFile(write_jsonl(gold))
    )
    snapshot.save(update_fields=["file"])
    pairs = list(zip(gold, predicted, strict=True))
    model = TrainedModelFactory(project=project, run__snapshot=snapshot, labels=["CITY", "PERSON"])
    evaluation = EvaluationFactory(model=model, report=evaluate(pairs, resamples=0).to_dict())
    for position, ((doc, spans), comparison) in enumerate(zip(pairs, compare_documents(pairs), strict=True)):
        Prediction.objects.create(
            evaluation=evaluation,
            position=position,
            name=doc.name,
            content_hash="",
            spans=[{"start": s.start, "end": s.end, "label": s.label, "confidence": 0.9} for s in spans],
            error_count=comparison.error_count,
            outcome_counts=comparison.outcome_counts(),
        )
    review = reverse("evaluation:trained_model_review", args=[project.name, model.pk])

    def listed(**query: str) -> list[str]:
        return re.findall(
            r"(city-miss|person-miss)", owner_client.get(review, query).content.decode().split("review-documents")[-1]
        )

    assert sorted(set(listed(mismatches="1", type="PERSON"))) == ["person-miss"]
    assert sorted(set(listed(mismatches="1", type="CITY"))) == ["city-miss"]
    assert sorted(set(listed(type="PERSON"))) == ["city-miss", "person-miss"]  # without "mismatches": every PERSON
