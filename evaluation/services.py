"""Writes for snapshots, training runs and trained models.

The flow: ``training_run_start`` freezes a ``DatasetSnapshot`` and creates a queued ``TrainingRun``; after commit,
``training_run_dispatch`` sends the project's oldest queued run to Celery when none of the project's runs is
running (one training at a time per project). The task calls ``training_run_execute``, which claims the run under
``select_for_update`` (so a redelivered or duplicate message does nothing), trains with ``ner.train`` into a
temporary folder, evaluates on the snapshot's test set with ``ner.predict`` + ``ner.metrics``, stores the model
through Django's storage and writes the Evaluation and the Predictions in one transaction; then it dispatches the
next queued run.

A run whose worker died is found by its stale heartbeat (``training_runs_recover``, the projects.jobs rule) and
queued again from scratch. Each claim counts an attempt, and a worker writes only while the run is still running
its attempt, so a worker that was given up on stops instead of mixing its results into the next attempt's.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Model, ProtectedError, Q, QuerySet, RestrictedError, Sum
from django.db.models.functions import Length
from django.utils import timezone

from evaluation.encoders import AUTO_REPRESENTATION, encoder_for, encoder_offers, pipeline_for, pipeline_offers
from evaluation.model_files import model_files_store, model_files_strays_delete
from evaluation.models import DatasetSnapshot, Evaluation, Prediction, PretrainingRun, TrainedModel, TrainingRun
from evaluation.selectors import snapshot_documents, trained_model_local_path
from labeling.models import Document
from labeling.selectors import documents_labeled
from labeling.suggestions.services import suggestions_replace
from ner import limits
from ner.calibration import CalibrationReport, calibration_report
from ner.distill import DEFAULT_THRESHOLD, DistillError, SilverSet, silver_set_build
from ner.formats.jsonl import write_jsonl
from ner.metrics import DocumentComparison, EvaluationReport, compare_documents, evaluate
from ner.names import InvalidName, check_model_name
from ner.predict import ModelLoadError, ScoredSpan
from ner.predict import load as load_model
from ner.representation import RepresentationChoice, choose_representation
from ner.sizing import CorpusSettings, settings_for_corpus
from ner.snapshot import snapshot_hash
from ner.splits import SplitError, split_documents
from ner.text import content_hash as text_content_hash
from ner.tokens import MULTILINGUAL
from ner.train import CNN_REPRESENTATION, Progress, TrainCancelled, TrainError, TrainResult, TrainSettings, train
from ner.types import LabeledDoc
from projects.chunks import chunks
from projects.exceptions import Conflict
from projects.jobs import (
    AttemptWatch,
    job_heartbeat,
    job_is_stale,
    job_lost_reason,
    job_recovery_verdict,
    job_stale_before,
    job_workdir,
    jobs_recover_on_commit,
)
from projects.models import Project
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# How often the worker reads cancel_requested from the database while training.
CANCEL_CHECK_INTERVAL_S = 1.0
# Predictions over the test set are made in batches of this many documents, touching the heartbeat in between.
PREDICT_BATCH_DOCUMENTS = 64
# Resamples of the bootstrap confidence interval for micro-F1.
BOOTSTRAP_RESAMPLES = 1000

# The step limit and patience are not here: they follow the corpus size (ner.sizing) unless given. The learning
# curve's short trainings keep this patience.
DEFAULT_SETTINGS = {"seed": 0, "max_epochs": 0, "patience": 400}
# Which rule chose a run's settings when they are another model's (training_run_start's same_settings_as).
SAME_SETTINGS_RULE = "same-as-model"


# --------------------------------------------------------------------------------------------- snapshots


def _training_documents_queryset(project: Project) -> QuerySet[Document]:
    documents = Document.objects.filter(project=project)
    if project.training_scope == Project.TrainingScope.TAGGED:
        return documents.filter(status=Document.Status.TAGGED)
    return documents.filter(Q(spans__isnull=False)).distinct()


def _training_docs(project: Project) -> list[LabeledDoc]:
    """The training documents as LabeledDocs in id order, each with its effective split and, as its only
    metadata, its document id (the snapshot file keeps that, not what the document's own metadata says)."""
    try:
        labeled = documents_labeled(project=project, documents=_training_documents_queryset(project))
    except SplitError as error:
        raise ValidationError(str(error)) from None
    return [replace(doc, meta={"document_id": str(pk)}) for pk, doc in labeled.items()]


def _scope_words(project: Project) -> str:
    if project.training_scope == Project.TrainingScope.TAGGED:
        return "documents marked tagged"
    return "documents with at least one tag"


def _check_trainable(project: Project, docs: list[LabeledDoc]) -> None:
    train_docs = [doc for doc in docs if doc.split == "train"]
    test_docs = [doc for doc in docs if doc.split == "test"]
    problems: list[str] = []
    if len(docs) < limits.TRAINING_DOCUMENTS_MIN:
        problems.append(
            f"Training needs at least {limits.TRAINING_DOCUMENTS_MIN} {_scope_words(project)}; "
            f"{project.name} has {len(docs)}."
        )
    if docs and not test_docs:
        problems.append(
            "The test set is empty, so the model could not be evaluated: assign some documents to the test set "
            "(or raise the test percentage in the project settings)."
        )
    if docs and not train_docs:
        problems.append("Every document is in the test set: assign some documents to the training set.")
    if train_docs and not any(doc.spans for doc in train_docs):
        problems.append("The training documents hold no tags: tag some entities before training.")
    if problems:
        raise ValidationError(problems)


def snapshot_create(*, project: Project, user: AbstractBaseUser | None = None) -> DatasetSnapshot:
    """Freeze the project's training documents as they are now (reusing an identical earlier snapshot).

    Raises ValidationError when they cannot train a model that can be evaluated: fewer than
    ``TRAINING_DOCUMENTS_MIN`` documents, an empty test set, an empty training set or no tags.
    """
    docs = _training_docs(project)
    _check_trainable(project, docs)
    digest = snapshot_hash(docs)
    train_ids = [int(doc.meta["document_id"]) for doc in docs if doc.split == "train"]
    test_ids = [int(doc.meta["document_id"]) for doc in docs if doc.split == "test"]
    existing = DatasetSnapshot.objects.filter(
        project=project, content_hash=digest, train_document_ids=train_ids, test_document_ids=test_ids
    ).first()
    if existing is not None:
        return existing
    counts: dict[str, Counter[str]] = {"train": Counter(), "test": Counter()}
    for doc in docs:
        counts[doc.split or "train"].update(span.label for span in doc.spans)
    snapshot = DatasetSnapshot(
        project=project,
        content_hash=digest,
        file="",
        document_count=len(docs),
        train_document_ids=train_ids,
        test_document_ids=test_ids,
        span_counts={side: dict(sorted(counter.items())) for side, counter in counts.items()},
        language=MULTILINGUAL if project.multilingual else project.language,
        split_mode=project.split_mode,
        test_percent=project.test_percent,
        split_seed=project.split_seed,
        training_scope=project.training_scope,
        created_by=user,
    )
    snapshot.full_clean(exclude=["file"])
    snapshot.save()
    path = f"{project_storage_prefix(project.pk)}/snapshots/{snapshot.pk}.jsonl"
    stored = default_storage.save(path, ContentFile(write_jsonl(docs)))
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(file=stored)
    snapshot.file = stored
    return snapshot


# --------------------------------------------------------------------------------------------- training runs


def _next_model_name(project: Project) -> str:
    taken = set(TrainedModel.objects.filter(project=project).values_list("name", flat=True))
    taken |= set(
        TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE).values_list("model_name", flat=True)
    )
    number = 1
    while f"model-{number}" in taken:
        number += 1
    return f"model-{number}"


def training_model_name_suggestion(*, project: Project) -> str:
    return _next_model_name(project)


def _training_side_characters(project: Project) -> int | None:
    """The characters a training started now would train on, counted in the database without loading texts; None
    when the project cannot be split yet."""
    rows = list(
        _training_documents_queryset(project)
        .order_by("id")
        .annotate(characters=Length("text"))
        .values_list("content_hash", "split", "characters")
    )
    try:
        sides = split_documents(
            [(content_hash, split or None) for content_hash, split, _ in rows],
            mode=project.split_mode,  # type: ignore[arg-type]
            seed=project.split_seed,
            test_percent=project.test_percent,
        )
    except SplitError:
        return None
    return sum(row[2] for row, side in zip(rows, sides, strict=True) if side == "train")


def _representation_auto(language: str, characters: int) -> RepresentationChoice:
    return choose_representation(
        language=language, characters=characters, encoders=encoder_offers(), pipelines=pipeline_offers()
    )


def training_suggestions(*, project: Project) -> tuple[CorpusSettings, RepresentationChoice] | None:
    """What a training started now would get for the settings left empty (``ner.sizing``) and for an automatic
    representation (``ner.representation``), or None when the project cannot be split yet."""
    characters = _training_side_characters(project)
    if characters is None:
        return None
    language = MULTILINGUAL if project.multilingual else project.language
    return settings_for_corpus(characters=characters), _representation_auto(language, characters)


def _snapshot_train_characters(snapshot: DatasetSnapshot) -> int:
    total = Document.objects.filter(pk__in=snapshot.train_document_ids).aggregate(n=Sum(Length("text")))["n"]
    return int(total or 0)


def _check_model_slot(project: Project, name: str, exclude_run: TrainingRun | None = None) -> None:
    """The name is free and the project has room for one more model (active runs hold a slot each)."""
    try:
        check_model_name(name)
    except InvalidName as error:
        raise ValidationError({"model_name": str(error)}) from None
    runs = TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE)
    if exclude_run is not None:
        runs = runs.exclude(pk=exclude_run.pk)
    if TrainedModel.objects.filter(project=project, name=name).exists():
        raise ValidationError(
            {"model_name": f"{project.name} already has a model named {name}: delete it first or choose another name."}
        )
    if runs.filter(model_name=name).exists():
        raise ValidationError({"model_name": f"A training run for a model named {name} is already queued or running."})
    held = TrainedModel.objects.filter(project=project).count() + runs.count()
    if held >= limits.TRAINED_MODELS_MAX:
        raise ValidationError(
            f"A project may keep at most {limits.TRAINED_MODELS_MAX} trained models, and {project.name} has "
            f"{held} (counting queued and running trainings): delete a model before training another."
        )


def training_run_start(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    model_name: str = "",
    seed: int = DEFAULT_SETTINGS["seed"],
    max_epochs: int = DEFAULT_SETTINGS["max_epochs"],
    max_steps: int | None = None,
    patience: int | None = None,
    time_budget_minutes: int | None = None,
    representation: str = AUTO_REPRESENTATION,
    same_settings_as: TrainedModel | None = None,
    teacher: TrainedModel | None = None,
    silver_threshold: float | None = None,
    pretraining: PretrainingRun | None = None,
) -> TrainingRun:
    """Freeze a snapshot and queue a run; the task is sent after commit (or waits for the project's current run).

    ``max_steps`` and ``patience`` left as None follow the training side's size (``ner.sizing``; the rule and its
    reason are recorded on the run and in the model's meta); dropout and batch sizes always do. With
    ``time_budget_minutes`` the worker measures the machine and chooses the step limit, at most ``max_steps``.
    ``same_settings_as`` trains with another model's settings instead of all these: its seed, epochs, patience,
    dropout, batch sizes and the step limit it trained with (the one its time budget chose, not the minutes), so the
    same data gives the same model.

    ``representation`` is "cnn", a configured encoder's name (``evaluation.encoders``), a spaCy pipeline's name
    for a French project (``ner.pipelines``), or "auto": chosen from the
    snapshot's language and training side's size (``ner.representation``), the reason recorded on the run and in
    the model's meta. ``same_settings_as`` takes that model's representation.

    ``teacher`` (a model of the project trained on an encoder) makes the run a student (``ner.distill``): the
    worker has the teacher label the project's untagged documents first, and the CNN trains on gold + those labels
    (entities below ``silver_threshold``, default ``ner.distill.DEFAULT_THRESHOLD``, count as unknown). The step
    limit and patience then follow the size of gold + untagged text. ``same_settings_as`` takes that model's teacher
    too, when it still exists.
    ``pretraining``: a finished pretraining of the project (``evaluation.pretraining``) whose weights the CNN starts
    from; the CNN only, so with "auto" the CNN is chosen. ``same_settings_as`` takes that model's pretraining too.
    """
    rule, reason = "", ""
    dropout_and_batches: tuple[float, int, int] | None = None
    eval_frequency: int | None = None
    representation_reason = ""
    if same_settings_as is not None:
        source = same_settings_as.run
        seed, max_epochs, patience = source.seed, source.max_epochs, source.patience
        dropout_and_batches = (source.dropout, *source.trained_batch_sizes)
        representation = source.representation
        representation_reason = f"The representation of model {same_settings_as.name}."
        pretraining = source.pretraining
        max_steps, time_budget_minutes = source.trained_steps, None
        eval_frequency = source.trained_eval_frequency
        if source.teacher is not None:
            teacher, silver_threshold = source.teacher, source.silver_threshold
        rule = SAME_SETTINGS_RULE
        reason = f"the settings of model {same_settings_as.name} ({max_steps:,} steps, patience {patience:,})"
    if max_steps == 0 and max_epochs <= 0:
        raise ValidationError("Set a step limit or an epoch limit: with neither, training would never end.")
    if teacher is not None:
        _check_teacher(project, teacher, representation, silver_threshold)
        silver_threshold = DEFAULT_THRESHOLD if silver_threshold is None else silver_threshold
        if representation == AUTO_REPRESENTATION:
            representation = CNN_REPRESENTATION
            representation_reason = representation_reason or (
                f"The CNN: a student of model {teacher.name}, which labels the untagged documents so that the CNN "
                "learns from them and predicts at its own speed."
            )
    elif silver_threshold is not None:
        raise ValidationError({"silver_threshold": "A confidence threshold needs a teacher model to apply to."})
    if representation != AUTO_REPRESENTATION:
        # An unknown name, or a pipeline that cannot start this project's training, is refused here, not in the worker.
        encoder_for(representation)
        pipeline_for(representation, language=MULTILINGUAL if project.multilingual else project.language)
    if pretraining is not None:
        representation, representation_reason = _pretraining_checked(
            project, pretraining, representation, representation_reason
        )
    if time_budget_minutes is not None and not 1 <= time_budget_minutes <= limits.TIME_BUDGET_MINUTES_MAX:
        raise ValidationError(
            {
                "time_budget_minutes": f"The time budget must be from 1 to {limits.TIME_BUDGET_MINUTES_MAX:,} minutes "
                f"(got {time_budget_minutes})."
            }
        )
    if time_budget_minutes is not None and max_steps == 0:
        raise ValidationError(
            {"max_steps": "A time budget chooses the step limit up to this one: leave it empty or set a limit."}
        )
    with transaction.atomic():
        # One writer per project at a time: the model-limit count and the name check cannot be raced.
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        name = model_name.strip() or _next_model_name(project)
        _check_model_slot(project, name)
        run = TrainingRun(
            project=project,
            model_name=name,
            seed=seed,
            max_epochs=max_epochs,
            # Placeholders until the snapshot says how large the training side is.
            max_steps=1 if max_steps is None else max_steps,
            patience=0 if patience is None else patience,
            time_budget_minutes=time_budget_minutes,
            eval_frequency=eval_frequency,
            # A placeholder for "auto" until the snapshot says how large the training side is.
            representation=CNN_REPRESENTATION if representation == AUTO_REPRESENTATION else representation,
            representation_reason=representation_reason,
            teacher=teacher,
            teacher_name=teacher.name if teacher is not None else "",
            silver_threshold=silver_threshold,
            pretraining=pretraining,
            settings_rule=rule,
            settings_reason=reason,
            requested_by=user,
        )
        run.full_clean(exclude=["snapshot"])
        run.snapshot = snapshot_create(project=project, user=user)
        characters = _snapshot_train_characters(run.snapshot)
        if teacher is not None:
            # A student trains on the untagged text too: its settings follow the size of both.
            characters += sum(
                length for _, side, length in _silver_candidates(project, run.snapshot) if side == "train"
            )
        sized = settings_for_corpus(characters=characters)
        if representation == AUTO_REPRESENTATION:
            automatic = _representation_auto(run.snapshot.language, characters)
            run.representation, run.representation_reason = automatic.representation, automatic.reason
        if dropout_and_batches is None:
            run.dropout, run.batch_size_start, run.batch_size_stop = (
                sized.dropout,
                sized.batch_size_start,
                sized.batch_size_stop,
            )
            run.settings_rule = sized.rule
            run.settings_reason = f"Dropout and batch sizes from the size of the training side: {sized.dropout_reason}."
        else:
            run.dropout, run.batch_size_start, run.batch_size_stop = dropout_and_batches
        if max_steps is None or patience is None:
            run.max_steps = sized.max_steps if max_steps is None else max_steps
            run.patience = sized.patience if patience is None else patience
            chosen = " and ".join(
                field for field, value in (("step limit", max_steps), ("patience", patience)) if value is None
            )
            run.settings_reason = (
                f"The {chosen} from the size of the training side: {sized.reason}. {run.settings_reason}"
            )
        run.save()
        project_pk = project.pk
        jobs_recover_on_commit()
        transaction.on_commit(lambda: training_run_dispatch(project_id=project_pk))
    return run


def _check_teacher(
    project: Project, teacher: TrainedModel, representation: str, silver_threshold: float | None
) -> None:
    if teacher.project_id != project.pk:
        raise ValidationError({"teacher": "The teacher must be a model of this project."})
    if teacher.run.representation == CNN_REPRESENTATION:
        raise ValidationError(
            {
                "teacher": f"Model {teacher.name} is a CNN, as fast as its student would be: choose a model trained "
                "on a pretrained encoder as the teacher."
            }
        )
    if representation not in (AUTO_REPRESENTATION, CNN_REPRESENTATION):
        raise ValidationError(
            {"representation": "A student is the fast CNN: leave the representation on Automatic or choose the CNN."}
        )
    if silver_threshold is not None and not 0.0 <= silver_threshold <= 1.0:
        raise ValidationError({"silver_threshold": f"The threshold must be from 0 to 1 (got {silver_threshold})."})


def _silver_candidates(project: Project, snapshot: DatasetSnapshot) -> list[tuple[int, str, int]]:
    """(id, effective side, characters) of the project's documents without a single gold span and outside the
    snapshot, in id order: what a teacher labels for a student (``ner.distill`` leaves out those on the test side
    and gold texts). A document partly tagged is not offered: its tags are gold, never replaced by a teacher's."""
    in_snapshot = {*snapshot.train_document_ids, *snapshot.test_document_ids}
    rows = [
        row
        for row in Document.objects.filter(project=project, spans__isnull=True)
        .order_by("id")
        .annotate(characters=Length("text"))
        .values_list("pk", "content_hash", "split", "characters")
        if row[0] not in in_snapshot
    ]
    try:
        sides = split_documents(
            [(content_hash, split or None) for _, content_hash, split, _ in rows],
            mode=snapshot.split_mode,  # type: ignore[arg-type]
            seed=snapshot.split_seed,
            test_percent=snapshot.test_percent,
        )
    except SplitError:
        return []
    return [(pk, side, characters) for (pk, _, _, characters), side in zip(rows, sides, strict=True)]


def _pretraining_checked(
    project: Project, pretraining: PretrainingRun, representation: str, reason: str
) -> tuple[str, str]:
    """The representation a training from ``pretraining`` uses (the CNN), and why; refused when it cannot."""
    if pretraining.project_id != project.pk:
        raise ValidationError({"pretraining": f"Pretraining {pretraining.pk} belongs to another project."})
    if pretraining.status != PretrainingRun.Status.SUCCEEDED:
        raise ValidationError({"pretraining": f"Pretraining {pretraining.pk} has not finished: it has no weights yet."})
    if representation == AUTO_REPRESENTATION:
        return CNN_REPRESENTATION, f"The CNN, since it starts from the weights of pretraining {pretraining.pk}."
    if representation != CNN_REPRESENTATION:
        raise ValidationError(
            {
                "pretraining": f"Pretrained weights are for the CNN; {representation} is a pretrained encoder already. "
                "Choose the CNN or Automatic, or train without pretrained weights."
            }
        )
    return representation, reason


def training_run_dispatch(*, project_id: int) -> TrainingRun | None:
    """Send the project's oldest queued run to a worker, unless one of its runs is running or already sent."""
    from evaluation.tasks import training_run_task  # tasks import services; import here to avoid a cycle

    with transaction.atomic():
        if Project.objects.select_for_update().only("pk").filter(pk=project_id).first() is None:
            return None  # deleted, with its runs, while a run of it trained: nothing is left to send
        runs = TrainingRun.objects.filter(project_id=project_id)
        if runs.filter(status=TrainingRun.Status.RUNNING).exists():
            return None
        head = runs.filter(status=TrainingRun.Status.QUEUED).order_by("created_at", "id").first()
        if head is None or head.dispatched_at is not None:
            return None  # already on its way: a second message would only be a duplicate
        TrainingRun.objects.filter(pk=head.pk).update(dispatched_at=timezone.now())
        head_pk = head.pk
        transaction.on_commit(lambda: training_run_task.delay(head_pk))
    return head


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run, or a running one whose worker has gone silent, is cancelled at once; a running one with a live
    worker stops within seconds (the worker checks the flag)."""
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if locked.status in TrainingRun.FINISHED:
            raise ValidationError(f"This training run has already {locked.get_status_display().lower()}.")
        ends_now = locked.status == TrainingRun.Status.QUEUED or job_is_stale(
            locked.heartbeat_at, stale_before=job_stale_before()
        )
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested"])
        if ends_now:
            needs_dispatch = locked.status == TrainingRun.Status.RUNNING or locked.dispatched_at is not None
            _finish(locked, TrainingRun.Status.CANCELLED)
            if needs_dispatch:
                # A message on its way finds it cancelled and does nothing; the next queued run must not wait.
                project_pk = locked.project_id
                transaction.on_commit(lambda: training_run_dispatch(project_id=project_pk))
    return locked


ClaimOutcome = Literal["claimed", "finished", "busy", "waiting", "missing"]


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    run: TrainingRun | None = None


def training_run_claim(*, run_id: int) -> Claim:
    """Take a run for this worker, or say why not. The status is checked under the project's and the run's locks.

    - finished (succeeded/failed/cancelled): a redelivered message; nothing to do.
    - queued while another run of the project is running: "waiting" (the running one dispatches it when done).
    - running: another worker has it ("busy": a duplicate message; nothing to do). Should that worker die, the
      run's heartbeat goes stale and ``training_runs_recover`` queues it again.
    """
    with transaction.atomic():
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            return Claim("missing")
        Project.objects.select_for_update().only("pk").get(pk=run.project_id)
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status in TrainingRun.FINISHED:
            return Claim("finished", run)
        now = timezone.now()
        if run.status == TrainingRun.Status.RUNNING:
            return Claim("busy", run)
        if (
            TrainingRun.objects.filter(project_id=run.project_id, status=TrainingRun.Status.RUNNING)
            .exclude(pk=run.pk)
            .exists()
        ):
            TrainingRun.objects.filter(pk=run.pk).update(dispatched_at=None)
            return Claim("waiting", run)
        if run.cancel_requested:
            _finish(run, TrainingRun.Status.CANCELLED)
            return Claim("finished", run)
        run.status = TrainingRun.Status.RUNNING
        run.phase = TrainingRun.Phase.TRAINING
        run.attempts += 1
        run.started_at = now
        run.heartbeat_at = now
        run.finished_at = None
        run.percent, run.epoch, run.step, run.loss, run.dev_f1, run.eta_s = 0.0, 0, 0, None, None, None
        run.stop_step, run.eta_early_s, run.stopped_early = None, None, False
        run.error = ""
        run.save()
    return Claim("claimed", run)


def _finish(run: TrainingRun, status: str, error: str = "") -> bool:
    """End the run, if it is still as ``run`` saw it (same status, same attempt); False when it has moved on, e.g.
    recovered and queued again while a worker given up on was still busy with it."""
    fields: dict[str, Any] = {
        "status": status,
        "phase": TrainingRun.Phase.DONE,
        "finished_at": timezone.now(),
        "error": error,
        "eta_s": None,
        "eta_early_s": None,
    }
    if status == TrainingRun.Status.SUCCEEDED:
        fields.update(percent=100.0, eta_s=0.0)
    if not TrainingRun.objects.filter(pk=run.pk, status=run.status, attempts=run.attempts).update(**fields):
        return False
    for name, value in fields.items():
        setattr(run, name, value)
    return True


def training_runs_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for training runs: a running run whose heartbeat is older than ``stale_before`` lost
    its worker, and is queued again (or failed after ``NERLAB_JOB_ATTEMPTS`` starts, or cancelled when asked to);
    a queued run sent before ``stale_before`` and never taken is sent again. Returns how many runs it touched."""
    silent = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at=None)
    )
    projects: set[int] = set()
    for run_id, project_id in silent.values_list("pk", "project_id"):
        with transaction.atomic():
            Project.objects.select_for_update().only("pk").get(pk=project_id)
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
            if run.status != TrainingRun.Status.RUNNING or not job_is_stale(
                run.heartbeat_at, stale_before=stale_before
            ):
                continue  # it moved on since the query
            if run.cancel_requested:
                _finish(run, TrainingRun.Status.CANCELLED)
            elif job_recovery_verdict(attempts=run.attempts) == "fail":
                _finish(run, TrainingRun.Status.FAILED, job_lost_reason(what="training", attempts=run.attempts))
            else:
                logger.warning("Training run %s lost its worker at step %s; queuing it again", run.pk, run.step)
                TrainingRun.objects.filter(pk=run.pk).update(
                    status=TrainingRun.Status.QUEUED,
                    phase=TrainingRun.Phase.WAITING,
                    dispatched_at=None,
                    heartbeat_at=None,
                    eta_s=None,
                    eta_early_s=None,
                )
        projects.add(project_id)
    lost = TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED, dispatched_at__lt=stale_before)
    for project_id in set(lost.values_list("project_id", flat=True)):
        TrainingRun.objects.filter(project_id=project_id, status=TrainingRun.Status.QUEUED).update(dispatched_at=None)
        projects.add(project_id)
    for project_id in sorted(projects):
        training_run_dispatch(project_id=project_id)
    return len(projects)


class _RunReporter:
    """Progress and cancel checks for one attempt at a run: writes at most about once a second, reads the cancel
    flag likewise. Once the run is no longer this attempt's (recovered elsewhere), it writes nothing and stops."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id = run.pk
        self.attempt = run.attempts
        self._watch = AttemptWatch(
            lambda: self._own().filter(cancel_requested=False).exists(), interval_s=CANCEL_CHECK_INTERVAL_S
        )

    def _own(self) -> Any:
        return TrainingRun.objects.filter(pk=self.run_id, attempts=self.attempt, status=TrainingRun.Status.RUNNING)

    def progress(self, progress: Progress) -> None:
        # ner.train already throttles its callback to about once a second (and reports every evaluation).
        written = self._own().update(
            percent=min(99.0, max(0.0, progress.percent)),
            epoch=progress.epoch,
            step=progress.step,
            loss=progress.loss,
            dev_f1=progress.dev_f1,
            eta_s=progress.eta_s,
            stop_step=progress.stop_step,
            eta_early_s=progress.eta_early_s,
            heartbeat_at=timezone.now(),
            **({"phase": TrainingRun.Phase.CALIBRATING} if progress.phase == "calibrating" else {}),
        )
        self._watch.wrote(written)

    def should_stop(self) -> bool:
        return self._watch.should_stop()

    def phase(self, phase: str, **fields: Any) -> None:
        self._watch.wrote(self._own().update(phase=phase, heartbeat_at=timezone.now(), **fields))


def _folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _predict(model_dir: Path, texts: list[str], reporter: _RunReporter) -> list[list[ScoredSpan]]:
    predictor = load_model(model_dir)
    found: list[list[ScoredSpan]] = []
    for batch in chunks(texts, PREDICT_BATCH_DOCUMENTS):
        if reporter.should_stop():
            raise TrainCancelled("Training was cancelled")
        found.extend(predictor.predict(batch, with_confidence=True))
        reporter.phase(TrainingRun.Phase.EVALUATING)
    return found


def training_run_execute(*, run_id: int) -> ClaimOutcome:
    """Train, evaluate and save one run (the Celery task's one service call). Safe to call again for the same run."""
    claim = training_run_claim(run_id=run_id)
    if claim.outcome != "claimed":
        return claim.outcome
    run = claim.run
    assert run is not None
    own = TrainingRun.objects.filter(pk=run.pk, attempts=run.attempts, status=TrainingRun.Status.RUNNING)
    try:
        with job_workdir(f"run-{run.pk}") as workdir, job_heartbeat(own.all):
            _train_and_save(run, workdir)
    except TrainCancelled:
        _finish(run, TrainingRun.Status.CANCELLED)
    except (TrainError, ValidationError) as error:
        message = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        _finish(run, TrainingRun.Status.FAILED, message)
    except Exception as error:  # a worker must record every failure on the run the user is watching
        logger.exception("Training run %s failed", run.pk)
        _finish(run, TrainingRun.Status.FAILED, f"Training failed unexpectedly ({type(error).__name__}: {error}).")
    finally:
        training_run_dispatch(project_id=run.project_id)
    return "claimed"


def _train_and_save(run: TrainingRun, workdir: Path) -> None:
    snapshot = run.snapshot
    docs = snapshot_documents(snapshot=snapshot)
    train_docs = [doc for doc in docs if doc.split == "train"]
    test_docs = [doc for doc in docs if doc.split == "test"]
    reporter = _RunReporter(run)
    silver = _silver_set(run, docs, reporter) if run.teacher_id is not None or run.teacher_name else None
    train_settings = TrainSettings(
        seed=run.seed,
        max_steps=run.max_steps,
        max_epochs=run.max_epochs,
        patience=run.patience,
        dropout=run.dropout,
        batch_size_start=run.batch_size_start,
        batch_size_stop=run.batch_size_stop,
        processes=settings.NERLAB_TRAINING_PROCESSES,
        threads=settings.NERLAB_TRAINING_THREADS,
        calibration_folds=settings.NERLAB_CALIBRATION_FOLDS,
        # None: from the step limit (ner.sizing.evaluation_frequency), or as a time budget chooses (ner.budget).
        eval_frequency=run.eval_frequency,
        time_budget_s=60.0 * (run.time_budget_minutes or 0),
        chosen_by=f"{run.settings_rule}: {run.settings_reason}" if run.settings_rule else "the user's settings",
        representation_chosen_by=run.representation_reason or "the user's choice",
        # Looked up again here: the server's configuration may have changed since the run was queued.
        encoder=encoder_for(run.representation),
        pipeline=pipeline_for(run.representation, language=snapshot.language),
        pretrained=_pretrained_weights(run, workdir),
    )
    # The dev set for early stopping is carved from the training side by ner.train (ner.splits.carve_dev).
    result = train(
        train_docs,
        [],
        language=snapshot.language,
        output_dir=workdir / "model",
        settings=train_settings,
        on_progress=reporter.progress,
        should_stop=reporter.should_stop,
        # The test set is predicted within the budget too.
        predict_after_characters=sum(len(doc.text) for doc in test_docs),
        silver=silver,
    )
    reporter.phase(
        TrainingRun.Phase.EVALUATING,
        warnings=list(result.warnings),
        stopped_early=result.stopped_early,
        budget=result.budget.to_dict() if result.budget is not None else {},
    )
    predicted = _predict(result.model_path, [doc.text for doc in test_docs], reporter)
    pairs = [(doc, [scored.as_span() for scored in spans]) for doc, spans in zip(test_docs, predicted, strict=True)]
    report = evaluate(pairs, resamples=BOOTSTRAP_RESAMPLES, seed=run.seed)
    comparisons = compare_documents(pairs)
    # How far the confidence scores can be trusted on the test set (ECE and a reliability table, ner.calibration).
    calibration = calibration_report(predicted, [doc.spans for doc in test_docs])
    if reporter.should_stop():
        raise TrainCancelled("Training was cancelled")
    reporter.phase(TrainingRun.Phase.SAVING)
    _save_results(run, result, report, test_docs, predicted, comparisons, calibration)


def _silver_set(run: TrainingRun, gold: list[LabeledDoc], reporter: _RunReporter) -> SilverSet:
    """A student's run: its teacher labels the project's untagged documents as they are now (``ner.distill``; the
    snapshot's documents, train and test, are the gold it never relabels), with progress on the run."""
    teacher = TrainedModel.objects.filter(pk=run.teacher_id).select_related("run").first()
    if teacher is None:
        raise ValidationError(f"The teacher model {run.teacher_name} was deleted before this run could use it.")
    candidates = _silver_candidates(run.project, run.snapshot)
    sides = {pk: side for pk, side, _ in candidates}
    untagged = [
        LabeledDoc(text=text, name=name, split=sides[pk])
        for pk, name, text in Document.objects.filter(pk__in=list(sides))
        .order_by("id")
        .values_list("pk", "name", "text")
    ]
    reporter.phase(TrainingRun.Phase.LABELLING, untagged_documents=len(untagged), labelled_documents=0)
    try:
        predictor = load_model(trained_model_local_path(model=teacher))
        silver = silver_set_build(
            teacher=predictor,
            teacher_name=teacher.name,
            untagged=untagged,
            gold=gold,
            threshold=DEFAULT_THRESHOLD if run.silver_threshold is None else run.silver_threshold,
            on_progress=lambda done, _total: reporter.phase(TrainingRun.Phase.LABELLING, labelled_documents=done),
            should_stop=reporter.should_stop,
        )
    except (DistillError, ModelLoadError) as error:
        raise ValidationError(
            f"The teacher model {teacher.name} cannot label the untagged documents: {error}"
        ) from None
    reporter.phase(
        TrainingRun.Phase.TRAINING,
        untagged_documents=len(silver.docs),
        labelled_documents=len(silver.docs),
        silver_spans=silver.span_count,
    )
    return silver


def _pretrained_weights(run: TrainingRun, workdir: Path) -> str | None:
    """The run's pretrained weights copied to a local file (checked against their SHA-256), or None."""
    if run.pretraining is None:
        return None
    from evaluation.pretraining.services import pretraining_weights_fetch
    from ner.pretrain import PretrainError

    try:
        return str(pretraining_weights_fetch(run=run.pretraining, into=workdir / "pretrained"))
    except PretrainError as error:
        raise TrainError(str(error)) from error


def _save_results(
    run: TrainingRun,
    result: TrainResult,
    report: EvaluationReport,
    test_docs: list[LabeledDoc],
    predicted: list[list[ScoredSpan]],
    comparisons: list[DocumentComparison],
    calibration: CalibrationReport,
) -> None:
    project = run.project
    prefix = ""
    try:
        with transaction.atomic():
            Project.objects.select_for_update().only("pk").get(pk=project.pk)
            locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
            if locked.cancel_requested or (locked.status, locked.attempts) != (run.status, run.attempts):
                raise TrainCancelled("Training was cancelled, or given up on and queued again")
            _check_model_slot(project, run.model_name, exclude_run=run)
            models_root = f"{project_storage_prefix(project.pk)}/models"
            model_files_strays_delete(
                root=models_root,
                keep=TrainedModel.objects.filter(project=project).values_list("storage_path", flat=True),
            )
            model = TrainedModel(
                project=project,
                run=run,
                name=run.model_name,
                storage_path="",
                labels=list(result.labels),
                duration_s=result.duration_s,
                snapshot_documents=run.snapshot.document_count,
                micro_f1=report.micro.f1,
                size_bytes=_folder_size(result.model_path),
            )
            model.full_clean(exclude=["storage_path", "run"])
            model.save()
            prefix = f"{models_root}/{model.pk}"
            model_files_store(folder=result.model_path, prefix=prefix)
            TrainedModel.objects.filter(pk=model.pk).update(storage_path=prefix)
            evaluation = Evaluation.objects.create(
                model=model, report={**report.to_dict(), "calibration": calibration.to_dict()}
            )
            existing_ids = set(
                Document.objects.filter(pk__in=[int(d.meta["document_id"]) for d in test_docs]).values_list(
                    "pk", flat=True
                )
            )
            Prediction.objects.bulk_create(
                [
                    Prediction(
                        evaluation=evaluation,
                        document_id=int(doc.meta["document_id"])
                        if int(doc.meta["document_id"]) in existing_ids
                        else None,
                        position=index,
                        name=doc.name[:500],
                        content_hash=text_content_hash(doc.text),
                        spans=[
                            {"start": s.start, "end": s.end, "label": s.label, "confidence": s.confidence}
                            for s in spans
                        ],
                        error_count=comparison.error_count,
                        outcome_counts=comparison.outcome_counts(),
                    )
                    for index, (doc, spans, comparison) in enumerate(
                        zip(test_docs, predicted, comparisons, strict=True)
                    )
                ],
                batch_size=500,
            )
            _finish(run, TrainingRun.Status.SUCCEEDED)
            # Active learning: the new model re-scores the documents still to tag (evaluation.active_learning).
            # Robust: the run has succeeded whatever happens to this follow-up (a broker down, a failing refresh).
            model_pk = model.pk
            transaction.on_commit(lambda: _queue_uncertainty_refresh(model_pk), robust=True)
    except BaseException:
        if prefix:
            storage_tree_delete(prefix)  # the rows rolled back: leave no orphan files
        raise


def _queue_uncertainty_refresh(model_id: int) -> None:
    from evaluation.tasks import uncertainty_refresh_task  # tasks import services; import here to avoid a cycle

    uncertainty_refresh_task.delay(model_id)


# --------------------------------------------------------------------------------------------- trained models


def trained_model_delete(*, model: TrainedModel) -> None:
    """Delete a model, its evaluation and predictions, and its files (after commit).

    A model still deployed is refused (Conflict, naming the deployments), and so is a model that a queued or running
    training needs as its teacher; nothing is deleted. A finished student keeps its teacher's name."""
    prefix = model.storage_path
    with transaction.atomic():
        students = TrainingRun.objects.select_for_update().filter(teacher=model, status__in=TrainingRun.ACTIVE)
        waiting = sorted(students.values_list("model_name", flat=True))
        if waiting:
            raise Conflict(
                f"Model {model.name} is the teacher of the training of {', '.join(waiting)}, which has not finished: "
                "wait for it or cancel it, then delete the model."
            )
        try:
            model.delete()
        except (ProtectedError, RestrictedError) as error:
            # Deployments (RESTRICT), or anything added later that points at the model: name them, keep everything.
            blockers = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
            raise Conflict(
                f"Model {model.name} is still in use by {_described(blockers)}: delete those or point them at "
                "another model first, then delete the model."
            ) from None
        if prefix:
            transaction.on_commit(lambda: storage_tree_delete(prefix))


def training_run_retrain(
    *, model: TrainedModel, user: AbstractBaseUser | None, replace: TrainedModel | None = None
) -> TrainingRun:
    """Train again with ``model``'s settings (seed, limits, patience; the steps its time budget chose, not the
    minutes) on the project's tags as they are now (a fresh snapshot), under the next free model name: the one click
    after fixing tags from a review.

    At the model limit the caller names a model to ``replace``; it is deleted in the same transaction, so a refusal
    (it is deployed, or the new run cannot start) keeps it."""
    with transaction.atomic():
        if replace is not None:
            if replace.project_id != model.project_id:
                raise ValidationError({"replace": "That model belongs to another project."})
            trained_model_delete(model=replace)
        return training_run_start(project=model.project, user=user, same_settings_as=model)


def _described(objects: Iterable[Model]) -> str:
    """Rows in the user's words: ``deployment production, deployment staging``."""
    return ", ".join(sorted({f"{obj._meta.verbose_name} {getattr(obj, 'name', obj)}" for obj in objects}))


def training_settings_defaults() -> dict[str, int]:
    """The settings a training gets when none are given; the step limit and patience are left out: they follow
    the corpus size (``training_run_start``)."""
    return {"seed": DEFAULT_SETTINGS["seed"], "max_epochs": DEFAULT_SETTINGS["max_epochs"]}


def review_fix_prepare(*, model: TrainedModel, prediction: Prediction) -> Document:
    """Before fixing a document from a model's review: its predictions become the document's suggestions (replacing
    pending ones, as a pre-annotation job does), so the tagging page shows them and they are accepted with the same
    keys. A document whose text changed since the evaluation gets none: the offsets would point elsewhere."""
    document = Document.objects.filter(project=model.project_id, pk=prediction.document_id).first()
    if document is None:
        raise ValidationError("This test document has been deleted since the model was evaluated.")
    if text_content_hash(document.text) != prediction.content_hash:
        raise ValidationError(f"{document.name} has changed since {model.name} was evaluated: retrain to review it.")
    spans = [ScoredSpan(s["start"], s["end"], s["label"], s.get("confidence")) for s in prediction.spans]
    suggestions_replace(document=document, model_name=model.name, spans=spans)
    return document
