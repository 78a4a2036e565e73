"""factory_boy factories for the evaluation app: snapshots, runs, models and evaluations built without training."""

from __future__ import annotations

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from evaluation.models import DatasetSnapshot, Evaluation, Prediction, TrainedModel, TrainingRun
from labeling.models import Document
from ner.formats.jsonl import write_jsonl
from ner.metrics import compare_documents, evaluate
from ner.types import LabeledDoc, Span
from projects.models import Project
from tests.projects.factories import ProjectFactory


class DatasetSnapshotFactory(factory.django.DjangoModelFactory):
    """A snapshot row with the project's split settings and no stored file (``file`` empty)."""

    class Meta:
        model = DatasetSnapshot

    project = factory.SubFactory(ProjectFactory)
    content_hash = "0" * 64
    file = ""
    document_count = 1
    language = factory.SelfAttribute("project.language")
    split_mode = factory.SelfAttribute("project.split_mode")
    test_percent = factory.SelfAttribute("project.test_percent")
    split_seed = factory.SelfAttribute("project.split_seed")
    training_scope = factory.SelfAttribute("project.training_scope")


class TrainingRunFactory(factory.django.DjangoModelFactory):
    """A queued run of a new snapshot; ``finished=True`` makes it a succeeded 30-step run that ended now."""

    class Meta:
        model = TrainingRun

    class Params:
        finished = factory.Trait(
            status=TrainingRun.Status.SUCCEEDED,
            phase=TrainingRun.Phase.DONE,
            max_steps=30,
            percent=100,
            started_at=factory.LazyFunction(timezone.now),
            finished_at=factory.SelfAttribute("started_at"),
        )

    project = factory.SubFactory(ProjectFactory)
    snapshot = factory.SubFactory(DatasetSnapshotFactory, project=factory.SelfAttribute("..project"))
    model_name = factory.Sequence(lambda n: f"model-{n}")


class TrainedModelFactory(factory.django.DjangoModelFactory):
    """A model row of a finished run, with no files in storage (``storage_path`` names a folder that is not there)."""

    class Meta:
        model = TrainedModel

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"model-{n}")
    run = factory.SubFactory(
        TrainingRunFactory,
        project=factory.SelfAttribute("..project"),
        model_name=factory.SelfAttribute("..name"),
        finished=True,
    )
    storage_path = factory.LazyAttribute(lambda model: f"projects/{model.project.pk}/models/none")
    labels = factory.LazyFunction(lambda: ["CITY", "PERSON"])
    duration_s = 1.0
    snapshot_documents = factory.SelfAttribute("run.snapshot.document_count")
    micro_f1 = 0.0


class EvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evaluation

    model = factory.SubFactory(TrainedModelFactory)
    report = factory.LazyFunction(
        lambda: evaluate([(LabeledDoc(text="Alice", spans=(Span(0, 5, "PERSON"),)), [])], resamples=0).to_dict()
    )


def finished_model(project: Project, document: Document, name: str = "matrix-model") -> TrainedModel:
    """A succeeded run of a one-document snapshot whose test document is ``document`` (its first 5 characters
    tagged Person), the model predicting them right, with its evaluation and the document's prediction."""
    gold = LabeledDoc(
        text=document.text,
        spans=(Span(0, 5, "Person"),),
        name=document.name,
        split="test",
        meta={"document_id": str(document.pk)},
    )
    snapshot = DatasetSnapshotFactory(
        project=project,
        test_document_ids=[document.pk],
        span_counts={"train": {"Person": 3}, "test": {"Person": 1}},
    )
    snapshot.file = default_storage.save(
        f"projects/{project.pk}/snapshots/{snapshot.pk}.jsonl", ContentFile(write_jsonl([gold]))
    )
    snapshot.save(update_fields=["file"])
    pairs = [(gold, [Span(0, 5, "Person")])]
    report = evaluate(pairs, resamples=50)
    model = TrainedModelFactory(
        project=project, name=name, run__snapshot=snapshot, labels=["Person"], duration_s=1.5, micro_f1=report.micro.f1
    )
    evaluation = EvaluationFactory(model=model, report=report.to_dict())
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
