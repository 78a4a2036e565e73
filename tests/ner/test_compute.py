"""ner.compute: models run on OpenBLAS; training takes its threads for the run and gives them back."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from ner.compute import blas_threads, cap_blas_threads, model_ops


def blas_thread_counts() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_models_built_under_model_ops_do_not_use_blis():
    from thinc.api import Linear

    with model_ops():
        model = Linear(2, 2)
    assert model.ops.use_blis is False
    assert Linear(2, 2).ops.use_blis is True  # outside the block thinc's default is untouched


def test_blas_threads_sets_the_pool_for_the_block_and_restores_the_cap():
    cap_blas_threads(1)
    with blas_threads(2):
        assert blas_thread_counts() == {2}
    assert blas_thread_counts() == {1}
