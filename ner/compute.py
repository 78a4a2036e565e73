"""The maths library nerlab's models run on, and how many cores a training run may use.

thinc's CPU backend multiplies matrices with BLIS unless told otherwise. The tok2vec's maxout layers are about three
quarters of a training step, and on the 2-core AMD EPYC machines nerlab is measured on, numpy's OpenBLAS makes a
training step 1.79x faster than thinc's BLIS on one thread, and 1.99x on two, which BLIS in thinc cannot use
(``bench/train_large.py``, its "speed" figures). So every model nerlab builds or loads is created under
thinc's ``NumpyOps`` with BLIS switched off: the model keeps those ops for its lifetime.

Threads: OpenBLAS's pool is process-wide. The app's processes predict with one thread each (``cap_blas_threads``,
called when Django starts): web and Celery workers predict side by side, and threads fighting over the same cores
would slow them all. A training run sets the pool to its own thread count for the length of the run
(``blas_threads``) and puts the cap back afterwards. The thread count is part of what makes a run reproducible:
OpenBLAS splits some products differently for different counts, so the last bits of the weights change with it.
That is why training's default is a fixed number rather than "every core": the same snapshot, seed and thread
count give the same model on the same kind of machine, whatever else the worker machine has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from thinc.api import use_ops
from threadpoolctl import threadpool_limits

# Training's default on the 2-core machines nerlab's goals are measured on: two processes sharing each batch
# (ner.parallel), one OpenBLAS thread each. A second thread in one process shortens a step by under 10% there; a
# second process taking half of each batch gives 1.23x the words/s on sentences (bench/train.py --one-process).
DEFAULT_TRAINING_PROCESSES = 2
DEFAULT_TRAINING_THREADS = 1
# Pretraining runs in one process: its cores are all threads.
DEFAULT_PRETRAINING_THREADS = DEFAULT_TRAINING_PROCESSES * DEFAULT_TRAINING_THREADS
PREDICTION_THREADS = 1


@contextmanager
def model_ops() -> Iterator[None]:
    """Build or load models inside this block so that they multiply matrices with OpenBLAS (see the module doc)."""
    with use_ops("numpy", use_blis=False):
        yield


@contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """Let OpenBLAS use ``threads`` threads inside the block; the previous limit comes back afterwards."""
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def cap_blas_threads(threads: int = PREDICTION_THREADS) -> None:
    """Limit OpenBLAS to ``threads`` threads for the rest of the process (until a ``blas_threads`` block)."""
    threadpool_limits(limits=threads, user_api="blas")
