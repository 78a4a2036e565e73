"""Trained-model rows for the serving tests, built without the training service (which another app owns)."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils import timezone

from evaluation.models import DatasetSnapshot, Evaluation, TrainedModel, TrainingRun
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span
from projects.models import Project


def model_row(project: Project, name: str, model_dir: Path | None = None, labels: tuple[str, ...] = ()) -> TrainedModel:
    """A TrainedModel of ``project`` (with its snapshot, run and an evaluation); ``model_dir``'s files are copied
    into Django's storage under the model's folder, as the training service stores them."""
    snapshot = DatasetSnapshot.objects.create(
        project=project,
        content_hash="0" * 64,
        file="",
        document_count=1,
        language=project.language,
        split_mode=project.split_mode,
        test_percent=project.test_percent,
        split_seed=project.split_seed,
        training_scope=project.training_scope,
    )
    now = timezone.now()
    run = TrainingRun.objects.create(
        project=project,
        snapshot=snapshot,
        model_name=name,
        status=TrainingRun.Status.SUCCEEDED,
        phase=TrainingRun.Phase.DONE,
        max_steps=30,
        percent=100,
        started_at=now,
        finished_at=now,
    )
    gold = LabeledDoc(text="Alice Smith flew to Paris.", spans=(Span(0, 11, "PERSON"), Span(20, 25, "CITY")))
    report = evaluate([(gold, [Span(0, 11, "PERSON")])], resamples=0)
    model = TrainedModel.objects.create(
        project=project,
        run=run,
        name=name,
        storage_path="",
        labels=list(labels or ("CITY", "PERSON")),
        duration_s=1.0,
        snapshot_documents=1,
        micro_f1=report.micro.f1,
    )
    model.storage_path = f"projects/{project.pk}/models/{model.pk}"
    model.save(update_fields=["storage_path"])
    if model_dir is not None:
        shutil.copytree(model_dir, default_storage.path(model.storage_path), dirs_exist_ok=True)
    Evaluation.objects.create(model=model, report=report.to_dict())
    return model
