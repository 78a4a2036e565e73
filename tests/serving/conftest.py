from __future__ import annotations

from pathlib import Path

import pytest

from serving.cache import model_cache
from tests.ner.synthetic_docs import train_quick


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """One tiny model (CITY, PERSON on synthetic sentences), trained once for the whole session (~seconds)."""
    return train_quick(tmp_path_factory.mktemp("serving-model") / "model").model_path


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    # Ids are reused after a rolled-back test; the cache key's stamp guards that, but start clean anyway.
    model_cache().clear()
    yield
    model_cache().clear()
