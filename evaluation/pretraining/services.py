"""Pretraining runs: the CNN's tok2vec pretrained on the project's own text, so that the next training starts from it.

``pretraining_run_start`` queues a ``PretrainingRun`` after commit (one at a time per project). The Celery task calls
``pretraining_run_execute``, which claims the row under ``select_for_update``, reads the text of every document of
the project outside the test side (tagged or not: the test documents are kept out so that their scores stay a fair
test), runs ``ner.pretrain`` with the row's seed and step limit, writing progress to the row (the page polls it),
and stores the weights under ``projects/<pk>/pretraining/<id>/`` with their SHA-256 on the row.

A run whose worker died is found by its stale heartbeat (``pretraining_runs_recover``, the projects.jobs rule) and
queued again; it restarts from scratch. Each claim counts an attempt, and a worker writes only while the row is still
running its attempt, so a superseded worker stops (``should_stop``) instead of overwriting the new attempt's work.

A training that started from a run's weights keeps it (``TrainingRun.pretraining`` is RESTRICT):
``pretraining_run_delete`` refuses with a ``Conflict`` naming the models, as deleting a deployed model does.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import RestrictedError
from django.utils import timezone

from evaluation.model_files import model_files_store
from evaluation.models import PretrainingRun
from labeling.selectors import documents_labeled
from ner.pretrain import WEIGHTS_FILE, PretrainCancelled, PretrainError, PretrainProgress, PretrainSettings, pretrain
from ner.splits import SplitError
from ner.tokens import MULTILINGUAL
from projects.exceptions import Conflict
from projects.jobs import (
    AttemptWatch,
    job_attempt_row,
    job_claim,
    job_finish,
    job_heartbeat,
    job_queue,
    job_refuse_while_active,
    job_workdir,
    jobs_recover_lost,
)
from projects.models import Project
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# 500 updates of 3,000 words: about 10 minutes on 2 cores, a few passes over a project of a few hundred thousand
# words. bench/pretrain.py measures what more gives.
DEFAULT_MAX_STEPS = 500
MAX_STEPS_LIMIT = 20_000
# How often progress is written and ownership checked.
PROGRESS_INTERVAL_S = 1.0


def pretraining_run_start(
    *, project: Project, user: AbstractBaseUser | None, max_steps: int = DEFAULT_MAX_STEPS, seed: int = 0
) -> PretrainingRun:
    """Queue a pretraining of the project's CNN; the task is sent after commit. Refused while another is queued or
    running in the project, or with a step limit out of range."""
    if not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise ValidationError({"max_steps": f"The step limit must be from 1 to {MAX_STEPS_LIMIT:,}."})
    with transaction.atomic():
        job_refuse_while_active(PretrainingRun, project=project, what="pretraining")
        run = PretrainingRun(
            project=project,
            language=MULTILINGUAL if project.multilingual else project.language,
            seed=seed,
            max_steps=max_steps,
            requested_by=user,
        )
        job_queue(run, send=_dispatch)
    return run


def _dispatch(run_id: int) -> None:
    from evaluation.tasks import pretraining_run_task  # tasks import this module lazily; keep it one way

    pretraining_run_task.delay(run_id)


class _Reporter:
    """Progress for one attempt; once the row is no longer this attempt's, ``should_stop`` says so."""

    def __init__(self, run: PretrainingRun) -> None:
        self.run = run
        self._watch = AttemptWatch(lambda: job_attempt_row(run).exists(), interval_s=PROGRESS_INTERVAL_S)

    def progress(self, progress: PretrainProgress) -> None:
        written = job_attempt_row(self.run).update(
            percent=min(99.0, progress.percent),
            step=progress.step,
            loss=progress.loss,
            eta_s=progress.eta_s,
            words=progress.words,
            heartbeat_at=timezone.now(),
        )
        self._watch.wrote(written)

    def should_stop(self) -> bool:
        return self._watch.should_stop()


def _texts(project: Project) -> list[str]:
    try:
        docs = documents_labeled(project=project)
    except SplitError as error:
        raise PretrainError(str(error)) from error
    return [doc.text for doc in docs.values() if doc.split != "test"]


def _run(run: PretrainingRun, workdir: Path) -> None:
    texts = _texts(run.project)
    PretrainingRun.objects.filter(pk=run.pk).update(
        document_count=len(texts), characters=sum(len(text) for text in texts)
    )
    reporter = _Reporter(run)
    result = pretrain(
        texts,
        language=run.language,
        output_dir=workdir / "weights",
        settings=PretrainSettings(
            seed=run.seed,
            max_steps=run.max_steps,
            threads=settings.NERLAB_TRAINING_PROCESSES * settings.NERLAB_TRAINING_THREADS,
            progress_interval_s=PROGRESS_INTERVAL_S,
        ),
        on_progress=reporter.progress,
        should_stop=reporter.should_stop,
    )
    prefix = f"{project_storage_prefix(run.project_id)}/pretraining/{run.pk}"
    with transaction.atomic():
        if not job_attempt_row(run).select_for_update().exists():
            raise PretrainCancelled("Another attempt took this pretraining over")
        model_files_store(folder=result.output_dir, prefix=prefix)
        job_attempt_row(run).update(
            status=PretrainingRun.Status.SUCCEEDED,
            percent=100.0,
            step=result.steps,
            loss=result.final_loss,
            eta_s=0.0,
            words=result.words,
            storage_path=prefix,
            weights_sha256=result.weights_sha256,
            duration_s=result.duration_s,
            finished_at=timezone.now(),
        )


def _fail(run: PretrainingRun, message: str) -> str:
    return PretrainingRun.Status.FAILED if job_finish(run, PretrainingRun.Status.FAILED, message) else "superseded"


def pretraining_run_execute(*, run_id: int) -> str:
    """Pretrain and store the weights of one run (the Celery task's one service call). Safe to call again: returns
    "skipped" when the run is gone, finished or taken, "superseded" when another attempt took it over, else its final
    status."""
    # Each attempt starts over: nothing of the last one's progress stays.
    outcome, run = job_claim(PretrainingRun, run_id, percent=0.0, step=0, loss=None, eta_s=None, error="")
    if outcome != "claimed":
        return "skipped"
    assert run is not None
    try:
        with job_workdir(f"pretrain-{run.pk}") as workdir, job_heartbeat(job_attempt_row(run).all):
            _run(run, workdir)
    except PretrainCancelled:
        return "superseded"
    except PretrainError as error:
        return _fail(run, str(error))
    except Exception as error:  # the user watches the row: every failure must land there
        logger.exception("Pretraining run %s failed", run.pk)
        return _fail(run, f"Pretraining failed unexpectedly ({type(error).__name__}: {error}).")
    return PretrainingRun.Status.SUCCEEDED


def pretraining_runs_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for pretraining: a running run silent since ``stale_before`` is queued again (it starts
    over), or failed after ``NERLAB_JOB_ATTEMPTS`` starts; a queued one sent before then is sent again."""
    return jobs_recover_lost(PretrainingRun, stale_before=stale_before, what="pretraining", send=_dispatch)


def pretraining_run_delete(*, run: PretrainingRun) -> None:
    """Delete a finished pretraining and its weights (after commit). Refused (Conflict) while it is queued or running,
    or while a training run started from it: its model says which weights it came from."""
    if run.is_active:
        raise Conflict(f"Pretraining {run.pk} is still {run.status}: wait for it to finish, then delete it.")
    prefix = run.storage_path
    with transaction.atomic():
        try:
            run.delete()
        except RestrictedError as error:
            names = sorted({getattr(obj, "model_name", str(obj)) for obj in error.restricted_objects})
            raise Conflict(
                f"Pretraining {run.pk} is the starting point of the training of {', '.join(names)}: delete "
                "those models first, then the pretraining."
            ) from None
        if prefix:
            transaction.on_commit(partial(storage_tree_delete, prefix))


def pretraining_weights_fetch(*, run: PretrainingRun, into: Path) -> Path:
    """Copy a finished run's weights into the folder ``into`` and check them against the SHA-256 on its row."""
    if run.status != PretrainingRun.Status.SUCCEEDED or not run.storage_path:
        raise PretrainError(f"Pretraining {run.pk} has not finished, so it has no weights to start from.")
    with default_storage.open(f"{run.storage_path}/{WEIGHTS_FILE}", "rb") as source:
        data = source.read()
    if hashlib.sha256(data).hexdigest() != run.weights_sha256:
        raise PretrainError(f"The weights of pretraining {run.pk} changed since it finished; pretrain again.")
    into.mkdir(parents=True, exist_ok=True)
    path = into / WEIGHTS_FILE
    path.write_bytes(data)
    return path
