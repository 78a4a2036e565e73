"""Trained models for the serving tests, built with the evaluation factories (no training service), and queued
Azure analyze jobs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage

from evaluation.models import TrainedModel
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span
from projects.models import ApiKey, Project
from serving.azure_wire import AnalyzeTask, DocumentInput
from serving.models import AnalyzeJob
from serving.services import analyze_job_create
from tests.evaluation.factories import EvaluationFactory, TrainedModelFactory


def model_row(project: Project, name: str, model_dir: Path | None = None, labels: tuple[str, ...] = ()) -> TrainedModel:
    """A TrainedModel of ``project`` (with its snapshot, run and an evaluation); ``model_dir``'s files are copied
    into Django's storage under the model's folder, as the training service stores them."""
    gold = LabeledDoc(text="Alice Smith flew to Paris.", spans=(Span(0, 11, "PERSON"), Span(20, 25, "CITY")))
    report = evaluate([(gold, [Span(0, 11, "PERSON")])], resamples=0)
    model = TrainedModelFactory(
        project=project, name=name, storage_path="", labels=list(labels or ("CITY", "PERSON")), micro_f1=report.micro.f1
    )
    model.storage_path = f"projects/{project.pk}/models/{model.pk}"
    model.save(update_fields=["storage_path"])
    if model_dir is not None:
        shutil.copytree(model_dir, default_storage.path(model.storage_path), dirs_exist_ok=True)
    EvaluationFactory(model=model, report=report.to_dict())
    return model


def analyze_job(user: Any, project_name: str, api_key: ApiKey | None = None, text: str = "Hello") -> AnalyzeJob:
    """A queued Azure analyze job: one document, one task on ``project_name``'s deployment "production"."""
    return analyze_job_create(
        user=user,
        api_key=api_key,
        api_version="2023-04-01",
        display_name="",
        documents=[DocumentInput(id="1", text=text, language="en")],
        tasks=[AnalyzeTask(task_name="t", project_name=project_name, deployment_name="production")],
        character_count=len(text),
    )
