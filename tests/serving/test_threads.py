"""The app's processes predict with one OpenBLAS thread each (serving.apps caps it when Django starts)."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info

from ner.compute import PREDICTION_THREADS


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts with one thread on one core anyway")
def test_django_startup_caps_the_maths_threads():
    # OpenBLAS starts with a thread per core; by now Django has started and the cap must be in force.
    counts = {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    assert counts == {PREDICTION_THREADS}
