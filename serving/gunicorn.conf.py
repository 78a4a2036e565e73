"""Gunicorn settings for nerlab's web processes:

    gunicorn -c serving/gunicorn.conf.py --bind 0.0.0.0:8000 config.wsgi

Prediction is CPU-bound (a 1,000-character document is ~9 ms of spaCy on one core) and a loaded model predicts
for one caller at a time, so the setup is one single-threaded ("sync") worker process per core. Threads would only
queue on the model's lock and the GIL: on the 2-core bench machine, gthread with 2 threads per worker served 60
req/s against 53-62 for sync in back-to-back runs, i.e. no better within the noise. Put a buffering proxy (nginx)
in front, as gunicorn's documentation asks for sync workers, so that slow clients never hold a worker.

- ``WEB_CONCURRENCY`` (gunicorn's own variable) sets the number of workers; default: one per core.
- ``preload_app``: the Django application is imported once, in the master, before the workers are forked (less
  memory, faster worker restarts). No database connection is opened before the fork.
- ``post_worker_init``: every worker loads the models of the project deployments before taking requests
  (``serving.services.deployment_models_preload``), so no user waits a second for a cold model. A model deployed
  later loads on its first request, in each worker, once.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
preload_app = True
# Long enough for a 25-document request on a busy machine; far below anything a client would wait for.
timeout = 120
graceful_timeout = 30
keepalive = 5


def post_worker_init(worker: Any) -> None:
    from django.db import connections

    from serving.services import deployment_models_preload

    try:
        loaded = deployment_models_preload()
    except Exception:  # a cold cache is slower, never broken: requests load models themselves
        worker.log.exception("Preloading the deployed models failed; they will load on first use")
    else:
        worker.log.info("Preloaded %d deployed model(s)", loaded)
    finally:
        connections.close_all()  # requests open their own
