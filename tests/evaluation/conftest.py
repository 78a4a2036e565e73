"""A tiny trainable project: 16 tagged sentences about people travelling to cities, 4 of them in the test set."""

from __future__ import annotations

import pytest

from labeling.models import Document
from labeling.services import documents_create
from ner.types import LabeledDoc
from projects.models import Project
from tests.ner.synthetic_docs import sentence

# Small enough to train in a couple of seconds on a shared core.
TINY = {"seed": 3, "max_steps": 30, "max_epochs": 0, "patience": 0}


def tiny_docs(count: int = 16, test_every: int = 4) -> list[LabeledDoc]:
    docs = []
    for index in range(count):
        text, spans = sentence(index)
        split = "test" if index % test_every == 0 else "train"
        docs.append(LabeledDoc(text=text, spans=spans, name=f"trip{index:02d}.txt", split=split))
    return docs


def make_trainable(project: Project, user, count: int = 16) -> list[Document]:
    """Store the tiny documents (tagged, with their manual split) in ``project``."""
    result = documents_create(project=project, user=user, docs=tiny_docs(count))
    assert result.ok, result.errors
    return result.created


@pytest.fixture
def trainable(project, user):
    make_trainable(project, user)
    return project
