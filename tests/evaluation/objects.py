"""A finished run with a model, evaluation and predictions, built without training (for pages, API and the matrix)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from evaluation.models import DatasetSnapshot, Evaluation, Prediction, TrainedModel, TrainingRun
from labeling.models import Document
from ner.formats.jsonl import write_jsonl
from ner.metrics import compare_documents, evaluate
from ner.types import LabeledDoc, Span
from projects.models import Project


def finished_model(project: Project, document: Document, name: str = "matrix-model") -> TrainedModel:
    """A succeeded run of a one-document snapshot whose test document is ``document`` (its first 5 characters
    tagged Person), the model predicting them right."""
    gold = LabeledDoc(
        text=document.text,
        spans=(Span(0, 5, "Person"),),
        name=document.name,
        split="test",
        meta={"document_id": str(document.pk)},
    )
    snapshot = DatasetSnapshot.objects.create(
        project=project,
        content_hash="0" * 64,
        file="",
        document_count=1,
        train_document_ids=[],
        test_document_ids=[document.pk],
        span_counts={"train": {"Person": 3}, "test": {"Person": 1}},
        language=project.language,
        split_mode=project.split_mode,
        test_percent=project.test_percent,
        split_seed=project.split_seed,
        training_scope=project.training_scope,
    )
    snapshot.file = default_storage.save(
        f"projects/{project.pk}/snapshots/{snapshot.pk}.jsonl", ContentFile(write_jsonl([gold]))
    )
    snapshot.save(update_fields=["file"])
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
    pairs = [(gold, [Span(0, 5, "Person")])]
    report = evaluate(pairs, resamples=50)
    model = TrainedModel.objects.create(
        project=project,
        run=run,
        name=name,
        storage_path=f"projects/{project.pk}/models/none",
        labels=["Person"],
        duration_s=1.5,
        snapshot_documents=1,
        micro_f1=report.micro.f1,
    )
    evaluation = Evaluation.objects.create(model=model, report=report.to_dict())
    comparison = compare_documents(pairs)[0]
    Prediction.objects.create(
        evaluation=evaluation,
        document=document,
        position=0,
        name=document.name,
        content_hash=document.content_hash,
        spans=[{"start": 0, "end": 5, "label": "Person", "confidence": 0.9}],
        error_count=comparison.error_count,
        outcome_counts=comparison.outcome_counts(),
    )
    return model
