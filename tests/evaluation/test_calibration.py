"""Confidence calibration on the evaluation page: ECE and a reliability table, measured on the test set."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from evaluation import selectors, services
from evaluation.models import Evaluation, Prediction, TrainedModel, TrainingRun
from ner.calibration import calibration_from_pairs
from tests.evaluation.conftest import TINY
from tests.evaluation.factories import finished_model
from tests.labeling.factories import DocumentFactory


def _detail(client, model: TrainedModel) -> str:
    response = client.get(reverse("evaluation:trained_model_detail", args=[model.project.name, model.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.slow
def test_a_training_run_stores_the_calibration_of_its_test_predictions(
    owner_client, trainable, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("evaluation:training_run_start", args=[trainable.name]), {**TINY, "model_name": "calibrated"}
        )
    model = TrainedModel.objects.get(name="calibrated")
    stored = Evaluation.objects.get(model=model).report["calibration"]
    predicted = sum(len(prediction.spans) for prediction in Prediction.objects.filter(evaluation__model=model))
    assert stored["entity_count"] == predicted > 0
    assert sum(row["count"] for row in stored["bins"]) == predicted and len(stored["bins"]) == 10
    assert 0.0 <= stored["ece"] <= 1.0
    html = _detail(owner_client, model)
    assert 'id="reliability"' in html and "Expected calibration error" in html
    assert f'<strong id="ece">{stored["ece"]:.3f}</strong>' in html


def test_the_reliability_table_shows_every_non_empty_bin(owner_client, project):
    model = finished_model(project, DocumentFactory(project=project, text="Alice went home."))
    # 10 entities scored 0.9 of which 6 right; 4 scored 0.25 of which 1 right.
    report = calibration_from_pairs([(0.9, i < 6) for i in range(10)] + [(0.25, i < 1) for i in range(4)])
    evaluation = Evaluation.objects.get(model=model)
    evaluation.report = {**evaluation.report, "calibration": report.to_dict()}
    evaluation.save()
    view = selectors.evaluation_view(model=model)
    assert view.calibration == report
    html = _detail(owner_client, model)
    table = html[html.index('id="reliability"') : html.index("</table>", html.index('id="reliability"'))]
    assert table.count("<tr>") == 3  # the header and the two non-empty bins
    assert "90%\u2013100%" in table and "60.0%" in table and "-30.0%" in table  # over-confident by 30 points
    assert "20%\u201330%" in table and "25.0%" in table
    assert f"{report.ece:.3f}" in html and "14 predicted entities" in html


def test_an_evaluation_made_before_calibration_says_it_was_not_measured(owner_client, project):
    model = finished_model(project, DocumentFactory(project=project, text="Alice went home."))
    assert selectors.evaluation_view(model=model).calibration is None
    html = _detail(owner_client, model)
    assert 'id="calibration-missing"' in html and 'id="reliability"' not in html


@pytest.mark.slow
def test_a_small_projects_training_fits_its_calibration_with_fold_models(
    owner_client, trainable, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """NERLAB_CALIBRATION_FOLDS reaches the training: a dev set of one or two documents is too small for a map
    alone, so the map the model is served with also holds the fold models' out-of-fold entities."""
    settings.NERLAB_CALIBRATION_FOLDS = 2
    phases: list[str] = []
    report = services._RunReporter.progress

    def recording(reporter, progress):
        report(reporter, progress)
        phases.append(TrainingRun.objects.get(pk=reporter.run_id).phase)

    monkeypatch.setattr(services._RunReporter, "progress", recording)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("evaluation:training_run_start", args=[trainable.name]), {**TINY, "model_name": "cross-fitted"}
        )
    model = TrainedModel.objects.get(name="cross-fitted")
    with default_storage.open(f"{model.storage_path}/calibration.json") as stored:
        calibration = json.load(stored)
    # 12 training documents less the dev set's: each holds 2 entities, and the folds predicted them all.
    assert calibration["folds"] == 2 and calibration["entity_count"] >= 16
    # The page says what the run is doing meanwhile: its own loop, then the fold models.
    switch = phases.index("calibrating")
    assert switch > 0 and phases == ["training"] * switch + ["calibrating"] * (len(phases) - switch)
    assert TrainingRun.Phase.CALIBRATING.label == "Calibrating confidence scores with fold models"
