from __future__ import annotations

import pytest

from evaluation import services as evaluation_services
from evaluation.models import TrainedModel, TrainingRun
from tests.evaluation.conftest import TINY, make_trainable


def train_tiny(project, user, name: str = "model-1") -> TrainedModel:
    """Train a real (tiny: 30 steps) model in this process and return it."""
    run = evaluation_services.training_run_start(project=project, user=user, model_name=name, **TINY)
    evaluation_services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run.trained_model


@pytest.fixture
def trained(project, user):
    make_trainable(project, user)
    return train_tiny(project, user)


@pytest.fixture
def containers(tmp_path, settings):
    settings.NERLAB_CONTAINERS_ROOT = tmp_path / "containers"
    return settings.NERLAB_CONTAINERS_ROOT
