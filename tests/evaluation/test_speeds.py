"""Each representation's measured speed on the training page (issue 11: encoders listed "with language coverage,
size and measured speed"): workers measure what has no measurement for its present files, the table shows the
figures beside the project's best test F1 on each representation, "Measure again" queues a measurement afresh, and
a measurement whose worker died is queued again."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import celery as celery_app
from config.celery import app
from evaluation.encoders import representation_identity
from evaluation.models import SpeedMeasurement, TrainingRun
from evaluation.services import training_run_start
from evaluation.speeds import services
from labeling.models import ImportJob
from projects.jobs import job_claim, jobs_waiting
from projects.roles import Role
from serving.models import AnalyzeJob
from tests.evaluation.conftest import TINY, make_trainable, tiny_docs
from tests.evaluation.factories import TrainedModelFactory, TrainingRunFactory
from tests.evaluation.test_worker import Worker, _wait_for, broker  # noqa: F401 (broker: a fixture this module uses)
from tests.ner.tiny_encoder import write_tiny_bert
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def no_pipelines(monkeypatch):
    """Whether fr_core_news_* are installed here is the machine's business (test_training_pipeline.py covers them)."""
    monkeypatch.setattr("ner.pipelines.installed", lambda **_: [])


@pytest.fixture
def tiny_encoder(tmp_path, settings):
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    settings.NERLAB_ENCODERS = {"tiny": str(folder), "gone": "/nonexistent/encoder"}
    return folder


@pytest.fixture
def sent(monkeypatch):
    """The ids of the measurement messages sent, none of them run."""
    messages: list[int] = []
    monkeypatch.setattr("evaluation.tasks.speed_measurement_task.delay", messages.append)
    return messages


@pytest.fixture
def tiny_sample(monkeypatch):
    """The tiny trip sentences instead of the demo corpus, so that an encoder's measurement takes a moment."""
    docs = tiny_docs()
    sample = ([doc for doc in docs if doc.split == "train"], [doc for doc in docs if doc.split == "test"])
    monkeypatch.setattr(services, "_sample", lambda: sample)


def test_a_worker_queues_one_measurement_per_usable_representation_once(
    db, tiny_encoder, sent, settings, django_capture_on_commit_callbacks
):
    settings.NERLAB_MEASURE_SPEEDS = True
    with django_capture_on_commit_callbacks(execute=True):
        celery_app._measure_representations()
    queued = {row.representation: row for row in SpeedMeasurement.objects.all()}
    # "gone" names a folder that is not there: a measurement of it could only fail.
    assert sorted(queued) == ["cnn", "tiny"] and all(row.status == "queued" for row in queued.values())
    assert sorted(sent) == sorted(row.pk for row in queued.values())
    # A second worker starting finds them queued: nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.speed_measurements_request() == []
    assert SpeedMeasurement.objects.count() == 2
    # The encoder's files change: its speed is measured afresh, the CNN's is not.
    weights = tiny_encoder / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    with django_capture_on_commit_callbacks(execute=True):
        [again] = services.speed_measurements_request()
    assert again.representation == "tiny" and again.pk not in {row.pk for row in queued.values()}
    assert SpeedMeasurement.objects.filter(representation="tiny").count() == 2


def test_workers_can_be_told_not_to_measure(db, settings, sent, django_capture_on_commit_callbacks):
    assert settings.NERLAB_MEASURE_SPEEDS is False  # the test settings' default: suites start workers of their own
    with django_capture_on_commit_callbacks(execute=True):
        celery_app._measure_representations()
    assert not SpeedMeasurement.objects.exists() and sent == []


def test_a_measurement_of_the_cnn_on_the_demo_corpus_fills_in_the_figures(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # eager in tests: the task runs here
        [measurement] = services.speed_measurements_request(representations=["cnn"])
    measurement.refresh_from_db()
    assert measurement.status == "succeeded", measurement.error
    assert measurement.train_words_per_second > 0 and measurement.predict_words_per_second > 0
    # PROBE_DEV_CHARACTERS (20,000) of the demo's test side: a few thousand words.
    assert 2_000 < measurement.predict_words < 10_000
    assert measurement.host and measurement.attempts == 1 and measurement.finished_at is not None
    # A duplicate message does nothing.
    assert services.speed_measurement_execute(measurement_id=measurement.pk) == "skipped"


def test_the_training_page_shows_speeds_beside_the_best_test_f1_and_measures_again(
    owner_client, project, tiny_encoder, tiny_sample, django_capture_on_commit_callbacks
):
    TrainedModelFactory(project=project, name="tiny-a", run__representation="tiny", micro_f1=0.612)
    TrainedModelFactory(project=project, name="tiny-b", run__representation="tiny", micro_f1=0.734)
    TrainedModelFactory(project=project, name="cnn-a", run__representation="cnn", micro_f1=0.5)
    page_url = reverse("evaluation:training_run_list", args=[project.name])
    page = owner_client.get(page_url).content.decode()
    assert 'id="speeds"' in page and "hx-trigger" not in page.split('id="speeds"')[1].split(">")[0]
    assert page.count("not measured yet") == 3  # cnn, tiny and gone
    tiny_row = page.split('id="speed-tiny"')[1].split("</tr>")[0]
    assert "73.4%" in tiny_row and "tiny-b" in tiny_row and "61.2%" not in tiny_row

    measure = reverse("speeds:measure", args=[project.name])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(measure, {"representation": "tiny"})
    assert response.status_code == 302 and response["Location"].endswith("/training/#speeds")
    measured = SpeedMeasurement.objects.get(representation="tiny")
    assert measured.status == "succeeded", measured.error
    page = owner_client.get(page_url).content.decode()
    tiny_row = page.split('id="speed-tiny"')[1].split("</tr>")[0]
    assert f"{measured.predict_words_per_second:,.0f}" in tiny_row and "Measure again" in tiny_row
    assert f"{measured.train_words_per_second:,.0f}" in tiny_row

    # Again, from the page's htmx form: the row is queued afresh and the table comes back, polling while it waits.
    with django_capture_on_commit_callbacks(execute=False):
        table = owner_client.post(measure, {"representation": "tiny"}, HTTP_HX_REQUEST="true")
    body = table.content.decode()
    assert table.status_code == 200 and body.lstrip().startswith('<section class="card" id="speeds"')
    assert 'hx-trigger="every 2s"' in body and "queued for a worker" in body
    assert SpeedMeasurement.objects.get(pk=measured.pk).status == "queued"
    polled = owner_client.get(reverse("speeds:table", args=[project.name]), HTTP_HX_REQUEST="true")
    assert "queued for a worker" in polled.content.decode()
    # A name the server does not offer is refused; nothing is queued.
    response = owner_client.post(measure, {"representation": "bert-huge"}, follow=True)
    assert "This server offers no representation named &#x27;bert-huge&#x27;." in response.content.decode()
    assert SpeedMeasurement.objects.count() == 1


def test_a_failed_measurement_says_why_on_the_page(
    owner_client, project, tiny_encoder, tiny_sample, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise MemoryError("no room for the encoder")

    monkeypatch.setattr(services, "measure_representation_speed", broken)
    with django_capture_on_commit_callbacks(execute=True):
        services.speed_measurements_request(representations=["tiny"])
    row = SpeedMeasurement.objects.get()
    assert row.status == "failed" and row.error == "MemoryError: no room for the encoder"
    page = owner_client.get(reverse("evaluation:training_run_list", args=[project.name])).content.decode()
    assert "Measuring failed: MemoryError: no room for the encoder" in page


def test_a_viewer_sees_the_table_but_cannot_measure(client, project, member_of, sent):
    client.force_login(member_of(project, Role.VIEWER))
    page = client.get(reverse("evaluation:training_run_list", args=[project.name])).content.decode()
    assert 'id="speed-cnn"' in page and "speeds/measure/" not in page.split('id="speeds"')[1].split("</section>")[0]
    assert client.post(reverse("speeds:measure", args=[project.name]), {"representation": "cnn"}).status_code == 403
    assert not SpeedMeasurement.objects.exists()


def test_a_measurement_whose_worker_died_is_queued_again(db, sent, settings, django_capture_on_commit_callbacks):
    settings.NERLAB_JOB_ATTEMPTS = 2
    lost = SpeedMeasurement.objects.create(
        representation="cnn",
        identity="0" * 64,
        status=SpeedMeasurement.Status.RUNNING,
        attempts=1,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.speed_measurements_recover(timezone.now() - timedelta(minutes=2)) == 1
    lost.refresh_from_db()
    assert lost.status == "queued" and sent == [lost.pk]


def test_measuring_again_starts_a_fresh_count_of_lost_workers(db, sent, settings, django_capture_on_commit_callbacks):
    """Three earlier measurements (each started once) are no lost workers: when the worker of the next one dies, it
    is queued again, not failed as "stopped without finishing it (4 times)"."""
    settings.NERLAB_JOB_ATTEMPTS = 3
    row = SpeedMeasurement.objects.create(
        representation="cnn",
        identity=representation_identity("cnn"),
        status=SpeedMeasurement.Status.SUCCEEDED,
        attempts=3,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        [again] = services.speed_measurements_request(representations=["cnn"], again=True)
    assert again.pk == row.pk
    # A worker claims it, then dies.
    assert job_claim(SpeedMeasurement, row.pk)[0] == "claimed"
    SpeedMeasurement.objects.filter(pk=row.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.speed_measurements_recover(timezone.now() - timedelta(minutes=2)) == 1
    row.refresh_from_db()
    assert (row.status, row.error) == ("queued", "")


@pytest.fixture
def sent_later(monkeypatch):
    """The (id, deferrals) of the measurement messages sent again later, none of them run."""
    messages: list[tuple[int, int]] = []
    monkeypatch.setattr(services, "_dispatch_later", lambda pk, *, deferrals: messages.append((pk, deferrals)))
    return messages


@pytest.fixture
def measured(monkeypatch):
    """The measurements that ran (their figures: test_a_measurement_of_the_cnn_... above)."""
    names: list[str] = []
    monkeypatch.setattr(services, "_measure", lambda measurement: names.append(measurement.representation))
    return names


def test_a_measurement_gives_way_while_a_training_waits_for_a_worker(
    project, sent, sent_later, measured, django_capture_on_commit_callbacks
):
    run = TrainingRunFactory(project=project, status=TrainingRun.Status.QUEUED)
    with django_capture_on_commit_callbacks(execute=True):
        [row] = services.speed_measurements_request(representations=["cnn"])
    queued_at = row.heartbeat_at
    assert jobs_waiting() == ["training runs"]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.speed_measurement_execute(measurement_id=row.pk) == "deferred"
    row.refresh_from_db()
    # Still queued, its message sent again (with how often it gave way), its sign of life that new message.
    assert row.status == "queued" and row.attempts == 0 and row.heartbeat_at > queued_at
    assert sent_later == [(row.pk, 1)] and measured == []
    # The training is taken: nothing waits, the measurement runs.
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING)
    assert jobs_waiting() == []
    assert services.speed_measurement_execute(measurement_id=row.pk, deferrals=1) == "succeeded"
    assert measured == ["cnn"] and sent_later == [(row.pk, 1)]
    # A message for a measurement no longer queued neither runs nor gives way.
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.QUEUED)
    assert services.speed_measurement_execute(measurement_id=row.pk) == "skipped"
    assert sent_later == [(row.pk, 1)]


def test_a_measurement_runs_after_giving_way_as_often_as_allowed(project, sent, sent_later, measured):
    TrainingRunFactory(project=project, status=TrainingRun.Status.QUEUED)
    row = SpeedMeasurement.objects.create(representation="cnn", identity="0" * 64, heartbeat_at=timezone.now())
    last = services.GIVE_WAY_AT_MOST - 1
    assert services.speed_measurement_execute(measurement_id=row.pk, deferrals=last) == "deferred"
    assert services.speed_measurement_execute(measurement_id=row.pk, deferrals=last + 1) == "succeeded"
    assert measured == ["cnn"]


def test_every_job_someone_asks_for_counts_as_waiting_until_a_worker_takes_it(project, user):
    assert jobs_waiting() == []
    ImportJob.objects.create(project=project, format="jsonl", file_name="a.jsonl")
    AnalyzeJob.objects.create(user=user, api_version="2023-04-01", request={}, expires_at=timezone.now())
    TrainingRunFactory(project=project, status=TrainingRun.Status.QUEUED)
    # The measurements are the server's own: they wait for the others, never the other way round.
    SpeedMeasurement.objects.create(representation="cnn", identity="0" * 64)
    assert sorted(jobs_waiting()) == ["analyze jobs", "imports", "training runs"]
    ImportJob.objects.update(status=ImportJob.Status.RUNNING)
    AnalyzeJob.objects.update(status=AnalyzeJob.Status.SUCCEEDED)
    TrainingRun.objects.update(status=TrainingRun.Status.FAILED)
    assert jobs_waiting() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker")
def test_one_worker_runs_a_training_queued_after_a_measurement_first(tmp_path):
    user = UserFactory(username="speeds-owner")
    project = ProjectFactory(name="speeds-project")
    MembershipFactory(project=project, user=user)
    make_trainable(project, user)
    [measurement] = services.speed_measurements_request(representations=["cnn"])  # its message first
    run = training_run_start(project=project, user=user, model_name="first", **TINY)
    process = Worker(tmp_path, app.conf.broker_url)
    process.env["NERLAB_MEASURE_GIVE_WAY_S"] = "1"
    process.start()
    try:
        done = _wait_for(
            lambda: SpeedMeasurement.objects.filter(pk=measurement.pk, status="succeeded").exists(),
            "the worker to train, then measure",
            process,
        )
        assert done
    finally:
        process.stop()
    run.refresh_from_db()
    measurement.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert measurement.started_at >= run.finished_at and measurement.attempts == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker")
def test_a_real_worker_measures_what_this_server_offers_when_it_starts(tmp_path, settings):
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    settings.NERLAB_ENCODERS = {"tiny": str(folder)}
    process = Worker(tmp_path, app.conf.broker_url)
    process.env.update(NERLAB_MEASURE_SPEEDS="true", NERLAB_ENCODERS=f"tiny={folder}")
    process.start()
    try:
        measured = _wait_for(
            lambda: (
                SpeedMeasurement.objects.filter(representation__in=["cnn", "tiny"], status="succeeded").count() == 2
            ),
            "the worker to measure the CNN and the tiny encoder",
            process,
        )
        assert measured
    finally:
        process.stop()
    for name in ("cnn", "tiny"):
        row = SpeedMeasurement.objects.get(representation=name)
        # The worker's identity of each is the one this process computes: the page finds its figures.
        assert row.identity == representation_identity(name) and row.predict_words_per_second > 0
