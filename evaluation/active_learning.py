"""Active learning: after each successful training, the new model scores the documents still to be tagged.

``uncertainty_refresh`` (the Celery task ``evaluation.uncertainty_refresh``'s one service call, queued after the
training run's commit) loads the model, scores the project's untagged and in-progress documents in batches with
``ner.active.score_documents`` and writes ``Document.uncertainty`` and ``Document.uncertainty_model``; the "most
uncertain first" order of the next-document flow (``labeling.selectors.document_next_untagged``) reads them.

Idempotent: a second run for the same model writes the same numbers. Tagged documents lose their score, so that
every score on the project comes from one model. When a newer model of the project has already scored documents,
an older model's (late or redelivered) refresh stops without writing, also between batches.
"""

from __future__ import annotations

import logging
from typing import Literal

from django.db import transaction

from evaluation.models import TrainedModel
from evaluation.selectors import trained_model_local_path
from labeling.models import Document
from ner.active import score_documents
from ner.predict import load as load_model
from projects.chunks import chunks
from projects.models import Project

logger = logging.getLogger(__name__)

# Documents scored (and written) per batch: bounds the texts held in memory and the length of each transaction.
REFRESH_BATCH_DOCUMENTS = 64
OPEN_STATUSES = (Document.Status.UNTAGGED, Document.Status.IN_PROGRESS)

RefreshOutcome = Literal["scored", "superseded", "missing"]


def _superseded(model: TrainedModel) -> bool:
    """Whether a model of the project newer than ``model`` has already written scores."""
    newer = TrainedModel.objects.filter(project_id=model.project_id, pk__gt=model.pk).values("name")
    return Document.objects.filter(project_id=model.project_id, uncertainty_model__in=newer).exists()


def uncertainty_refresh(*, model_id: int) -> RefreshOutcome:
    """Score the open documents of the model's project with the model; see the module doc."""
    model = TrainedModel.objects.filter(pk=model_id).first()
    if model is None:
        return "missing"  # deleted before its refresh ran: nothing to score with
    if _superseded(model):
        return "superseded"
    open_ids = list(
        Document.objects.filter(project_id=model.project_id, status__in=OPEN_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Loading takes a second or so: not worth it when every document is tagged.
    predictor = load_model(trained_model_local_path(model=model)) if open_ids else None
    for chunk in chunks(open_ids, REFRESH_BATCH_DOCUMENTS):
        batch = list(Document.objects.filter(pk__in=chunk).only("pk", "text"))
        assert predictor is not None
        scores = score_documents(predictor, [document.text for document in batch])
        with transaction.atomic():
            # Under the project's lock, the newer model's refresh cannot slip in between the check and the write.
            Project.objects.select_for_update().only("pk").get(pk=model.project_id)
            if _superseded(model):
                return "superseded"
            for document, score in zip(batch, scores, strict=True):
                document.uncertainty = score.uncertainty
                document.uncertainty_model = model.name
            # bulk_update skips auto_now: a refresh is not an edit, the document's "updated" time stays.
            Document.objects.bulk_update(batch, ["uncertainty", "uncertainty_model"])
    with transaction.atomic():
        Project.objects.select_for_update().only("pk").get(pk=model.project_id)
        if _superseded(model):
            return "superseded"
        Document.objects.filter(project_id=model.project_id).exclude(status__in=OPEN_STATUSES).exclude(
            uncertainty=None
        ).update(uncertainty=None, uncertainty_model="")
    logger.info("Model %s scored %d open documents for active learning", model.pk, len(open_ids))
    return "scored"
