"""Two annotators adding overlapping spans at the same moment: exactly one may win.

On PostgreSQL this exercises span_create's row lock (SELECT ... FOR UPDATE on the document). The SQLite test
database is an in-memory, shared-cache one, where a second writer gets "database table is locked" at once instead
of waiting (the busy timeout applies only to file databases, which is what nerlab runs on); the test then retries
the whole service call, as SQLite's busy handler would, and the retried call must see the first span and refuse.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection

from labeling.models import Document, Span
from labeling.services import span_create
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

ROUNDS = 5
ATTEMPTS = 200


def _create_retrying_on_lock(**kwargs) -> str:
    for _ in range(ATTEMPTS):
        try:
            span_create(**kwargs)
            return "created"
        except ValidationError as error:
            return "rejected: " + " ".join(error.messages)
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.005)
    return "gave up: database stayed locked"


@pytest.mark.django_db(transaction=True)
def test_span_create_concurrent_overlapping_spans_only_one_succeeds():
    project = ProjectFactory(overlap_policy="none")
    user = UserFactory()
    MembershipFactory(project=project, user=user, role="annotator")
    person = EntityTypeFactory(project=project, name="Person")
    org = EntityTypeFactory(project=project, name="Organization")
    # Several rounds, each on a fresh document, so that one lucky interleaving cannot hide a race.
    for round_number in range(ROUNDS):
        document = DocumentFactory(project=project, text=f"Alice Smith works at Contoso, round {round_number}.")
        barrier = threading.Barrier(2)
        outcomes: list[str] = []
        lock = threading.Lock()

        def tag(entity_type, start, end, document=document, barrier=barrier, outcomes=outcomes, lock=lock):
            try:
                barrier.wait(timeout=10)
                result = _create_retrying_on_lock(
                    document=Document.objects.get(pk=document.pk),
                    entity_type=entity_type,
                    start=start,
                    end=end,
                    user=user,
                )
            except Exception as error:  # reported in the assertion below rather than lost in the thread
                result = f"crashed: {error!r}"
            finally:
                connection.close()  # each thread has its own connection; leave none open for teardown
            with lock:
                outcomes.append(result)

        threads = [
            threading.Thread(target=tag, args=(person, 0, 11)),  # "Alice Smith"
            threading.Thread(target=tag, args=(org, 6, 11)),  # "Smith", inside it
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcome.split(":")[0] for outcome in outcomes) == ["created", "rejected"], outcomes
        assert "overlaps" in next(outcome for outcome in outcomes if outcome.startswith("rejected"))
        assert Span.objects.filter(document=document).count() == 1
        assert Document.objects.get(pk=document.pk).status == Document.Status.IN_PROGRESS
