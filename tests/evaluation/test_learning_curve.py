"""Learning curves: starting one, really training its shares, the SVG chart, and the pages."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from evaluation.charts import Axis, Series, line_chart, nice_ticks, percent
from evaluation.learning_curve import selectors as curve_selectors
from evaluation.learning_curve import services as curve_services
from evaluation.models import LearningCurve, TrainedModel, TrainingRun
from evaluation.services import snapshot_create
from ner.learning_curve import Projection
from ner.train import TrainError
from projects.jobs import WORKDIRS
from tests.evaluation.conftest import make_trainable
from tests.projects.factories import MembershipFactory, ProjectFactory

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def sent(monkeypatch):
    """The curve ids sent to the worker (nothing is trained unless a test runs the service itself)."""
    ids: list[int] = []
    monkeypatch.setattr(curve_services, "_dispatch", ids.append)
    return ids


def made_points(instances=(6, 12, 18, 24), f1s=(0.42, 0.61, 0.7, 0.75)) -> list[dict]:
    points = []
    for index, (count, f1) in enumerate(zip(instances, f1s, strict=True)):
        points.append(
            {
                "percent": 25 * (index + 1),
                "documents": 3 * (index + 1),
                "instances": count,
                "micro_f1": f1,
                "precision": f1,
                "recall": f1,
                "per_type": {
                    "CITY": {"f1": f1 - 0.1, "instances": count // 2, "precision": 0, "recall": 0, "test_instances": 4},
                    "PERSON": {
                        "f1": min(1.0, f1 + 0.05),
                        "instances": count // 2,
                        "precision": 0,
                        "recall": 0,
                        "test_instances": 4,
                    },
                },
                "steps": 30,
                "duration_s": 1.5,
            }
        )
    return points


def finished_curve(project, user=None, points=None) -> LearningCurve:
    points = made_points() if points is None else points
    return LearningCurve.objects.create(
        project=project,
        snapshot=snapshot_create(project=project),
        percents=[point["percent"] for point in points],
        max_steps=30,
        status=LearningCurve.Status.SUCCEEDED,
        points=points,
        projection=curve_selectors.curve_projection(points).to_dict(),
        requested_by=user,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )


# --------------------------------------------------------------------------------------------- start


def test_start_freezes_a_snapshot_and_queues_the_curve_after_commit(
    trainable, user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[50, 25], max_steps=20)
    assert sent == [curve.pk]
    assert curve.status == LearningCurve.Status.QUEUED
    assert curve.percents == [25, 50, 100]  # sorted, with all the data added
    assert curve.snapshot.train_count == 12 and curve.snapshot.test_count == 4
    # The same data reuses the snapshot a training run would freeze.
    assert snapshot_create(project=trainable).pk == curve.snapshot_id


def test_start_refuses_while_a_curve_is_running(trainable, user, sent):
    curve_services.learning_curve_start(project=trainable, user=user, max_steps=20)
    with pytest.raises(ValidationError, match="already queued or running"):
        curve_services.learning_curve_start(project=trainable, user=user, max_steps=20)
    assert LearningCurve.objects.count() == 1


def test_start_refuses_data_that_cannot_train(project, user, sent):
    make_trainable(project, user, count=9)
    with pytest.raises(ValidationError, match="at least 10 documents"):
        curve_services.learning_curve_start(project=project, user=user)
    assert not LearningCurve.objects.exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"percents": [0, 50]}, "whole percent from 1 to 100"),
        ({"percents": [100]}, "at least one share below 100%"),
        ({"max_steps": 0}, "step limit must be from 1"),
    ],
)
def test_start_refuses_bad_settings(trainable, user, sent, settings, message):
    with pytest.raises(ValidationError, match=message):
        curve_services.learning_curve_start(project=trainable, user=user, **settings)
    assert not LearningCurve.objects.exists()


# --------------------------------------------------------------------------------------------- execute


def _curve_temp_folders(curve: LearningCurve) -> list[Path]:
    return list((Path(tempfile.gettempdir()) / WORKDIRS).rglob(f"*-curve-{curve.pk}-*"))


@pytest.mark.slow
def test_execute_trains_each_share_and_keeps_only_the_numbers(trainable, user, sent, tmp_path, monkeypatch):
    # A temporary folder of its own: another test process on this machine may have a curve with the same id.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[25, 50], max_steps=20)
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "succeeded"
    curve.refresh_from_db()
    assert curve.status == LearningCurve.Status.SUCCEEDED and curve.error == ""
    assert curve.started_at and curve.finished_at
    assert [p["percent"] for p in curve.points] == [25, 50, 100]
    assert [p["documents"] for p in curve.points] == [3, 6, 12]
    # Each tiny document holds one PERSON and one CITY; the smallest share already has both types.
    assert [p["instances"] for p in curve.points] == [6, 12, 24]
    for point in curve.points:
        assert 0.0 <= point["micro_f1"] <= 1.0
        assert set(point["per_type"]) == {"CITY", "PERSON"}
        assert point["per_type"]["CITY"]["instances"] == point["instances"] // 2
        assert point["per_type"]["CITY"]["test_instances"] == 4
        assert 0 < point["steps"] <= 21  # spaCy's loop counts the step it stops at
    projection = Projection.from_dict(curve.projection)
    assert projection.points == 3 and projection.current_instances == 24
    assert projection.current_f1 == curve.points[-1]["micro_f1"]
    assert set(projection.per_type) == {"CITY", "PERSON"}
    # The models were thrown away: no model rows, no runs, no temporary folders left.
    assert not TrainedModel.objects.exists() and not TrainingRun.objects.exists()
    assert _curve_temp_folders(curve) == []
    # A redelivered message finds the curve finished and changes nothing.
    points = curve.points
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "finished"
    curve.refresh_from_db()
    assert curve.points == points


def _fake_measure(calls: list[list], curve_points=None):
    def measure(curve, subset, test_docs, ownership):
        calls.append(list(LearningCurve.objects.get(pk=curve.pk).points))
        return {
            "percent": subset.percent,
            "documents": len(subset.docs),
            "instances": subset.instances,
            "micro_f1": min(1.0, 0.2 + subset.instances / 40),
            "precision": 0.5,
            "recall": 0.5,
            "per_type": {},
            "steps": 1,
            "duration_s": 0.0,
        }

    return measure


def test_execute_appends_each_point_as_it_goes(trainable, user, sent, monkeypatch):
    calls: list[list] = []
    monkeypatch.setattr(curve_services, "_measure", _fake_measure(calls))
    curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[25, 50, 75], max_steps=5)
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "succeeded"
    # Before each share is trained, the row already shows the shares before it (the page polls it).
    assert [len(points) for points in calls] == [0, 1, 2, 3]
    curve.refresh_from_db()
    assert Projection.from_dict(curve.projection).method in {"power_law", "log_linear"}


def test_a_curve_whose_worker_died_is_queued_again_and_restarts(
    trainable, user, sent, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(curve_services, "_measure", _fake_measure([]))
    curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[50], max_steps=5)
    LearningCurve.objects.filter(pk=curve.pk).update(
        status=LearningCurve.Status.RUNNING, points=[{"stale": True}], started_at=timezone.now(), attempts=1
    )
    # Its message is a duplicate while the worker may be alive; once its heartbeat is stale, recovery requeues it.
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "busy"
    with django_capture_on_commit_callbacks(execute=True):
        assert curve_services.learning_curves_recover(timezone.now() + timedelta(seconds=1)) == 1
    assert LearningCurve.objects.get(pk=curve.pk).status == LearningCurve.Status.QUEUED
    assert sent[-1] == curve.pk
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "succeeded"
    curve.refresh_from_db()
    assert [p["percent"] for p in curve.points] == [50, 100]
    assert curve.attempts == 2


def test_a_superseded_worker_stops_writing(trainable, user, sent, monkeypatch):
    def measure(curve, subset, test_docs, ownership):
        # Meanwhile the task was redelivered and another worker claimed the curve.
        LearningCurve.objects.filter(pk=curve.pk).update(started_at=timezone.now(), points=[])
        return {"instances": 1, "micro_f1": 0.5}

    monkeypatch.setattr(curve_services, "_measure", measure)
    curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[50], max_steps=5)
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "superseded"
    curve.refresh_from_db()
    assert curve.points == [] and curve.status == LearningCurve.Status.RUNNING


def test_execute_records_a_training_failure(trainable, user, sent, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # another process here may have a curve with this id

    def failing_train(*args, **kwargs):
        raise TrainError("The training documents hold no tagged entities")

    monkeypatch.setattr(curve_services, "train", failing_train)
    curve = curve_services.learning_curve_start(project=trainable, user=user, percents=[50], max_steps=5)
    assert curve_services.learning_curve_execute(curve_id=curve.pk) == "failed"
    curve.refresh_from_db()
    assert curve.status == LearningCurve.Status.FAILED
    assert "hold no tagged entities" in curve.error
    assert curve.finished_at is not None
    assert _curve_temp_folders(curve) == []


def test_execute_of_a_missing_curve_does_nothing(db):
    assert curve_services.learning_curve_execute(curve_id=987654) == "missing"


# --------------------------------------------------------------------------------------------- chart


def _parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)  # well-formed XML or this raises
    assert root.tag == f"{SVG}svg"
    return root


def test_chart_draws_every_series_with_labels_tooltips_and_a_dashed_projection():
    markup = line_chart(
        series=[
            Series("All types", [(6, 0.4), (12, 0.6), (24, 0.75)], projection=[(36, 0.8), (48, 0.83)], emphasis=True),
            Series("CITY", [(6, 0.3), (12, 0.5), (24, 0.65)], tooltips=["a", "b", "c"]),
            Series("<PERSON & co>", [(6, 0.5), (12, 0.7), (24, 0.8)]),
        ],
        title="Learning curve",
        description="F1 rises with data",
        x_axis=Axis("Tagged instances", low=0),
        y_axis=Axis("F1", low=0, high=1, format=percent),
    )
    root = _parse(markup)
    assert root.find(f"{SVG}title").text == "Learning curve"
    assert root.find(f"{SVG}desc").text == "F1 rises with data"
    assert root.get("role") == "img"
    groups = root.findall(f".//{SVG}g[@class='series']")
    assert [group.get("data-series") for group in groups] == ["All types", "CITY", "<PERSON & co>"]
    assert len(root.findall(f".//{SVG}path[@class='series-line']")) == 3
    dashed = root.findall(f".//{SVG}path[@class='series-projection']")
    assert len(dashed) == 1 and dashed[0].get("stroke-dasharray")
    tips = [
        circle.find(f"{SVG}title").text
        for circle in root.iter(f"{SVG}circle")
        if circle.find(f"{SVG}title") is not None
    ]
    assert len(tips) == 9 and "a" in tips
    texts = {text.text for text in root.iter(f"{SVG}text")}
    assert {"Tagged instances", "F1", "0%", "100%", "CITY", "<PERSON & co>", "projection (extrapolated)"} <= texts
    assert "<PERSON" not in markup  # escaped, not markup


def test_chart_handles_one_point_zeros_and_non_finite_values():
    markup = line_chart(
        series=[
            Series("one", [(5, 0.0)]),
            Series("broken", [(float("nan"), 0.5), (3, float("inf"))]),
        ],
        title="t",
        description="d",
        x_axis=Axis("x", low=0),
        y_axis=Axis("y", low=0, high=1),
    )
    root = _parse(markup)
    assert "nan" not in markup.lower() and "inf" not in markup.lower()
    assert [group.get("data-series") for group in root.iter(f"{SVG}g") if group.get("class") == "series"] == ["one"]
    assert len(list(root.iter(f"{SVG}circle"))) == 1
    empty = _parse(line_chart(series=[], title="t", description="d", x_axis=Axis("x"), y_axis=Axis("y")))
    assert "No data yet" in {text.text for text in empty.iter(f"{SVG}text")}


def test_nice_ticks_are_round():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 37) == [0, 10, 20, 30, 40]
    assert nice_ticks(0, 0)[0] < 0 < nice_ticks(0, 0)[-1]


def test_curve_chart_has_one_line_per_type_and_the_overall_projection(trainable):
    curve = finished_curve(trainable)
    view = curve_selectors.learning_curve_view(curve=curve)
    root = _parse(view.chart)
    assert [g.get("data-series") for g in root.iter(f"{SVG}g") if g.get("class") == "series"] == [
        "All types (micro F1)",
        "CITY",
        "PERSON",
    ]
    assert len(root.findall(f".//{SVG}path[@class='series-projection']")) == 1
    assert view.projection is not None and view.projection.points == 4
    assert {gain.label for gain in view.type_gains} == {"CITY", "PERSON"}


# --------------------------------------------------------------------------------------------- pages


def test_page_shows_the_form_to_trainers_only(trainable, client, user, member_of):
    url = reverse("curves:learning_curve_list", args=[trainable.name])
    client.force_login(user)
    page = client.get(url).content.decode()
    assert 'id="curve-form"' in page and "No learning curve yet" in page
    client.force_login(member_of(trainable, "viewer"))
    page = client.get(url).content.decode()
    assert 'id="curve-form"' not in page


def test_start_from_the_page_queues_and_opens_the_curve(
    trainable, client, user, sent, django_capture_on_commit_callbacks
):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("curves:learning_curve_start", args=[trainable.name]), {"percents": "25, 50%", "max_steps": 30}
        )
    curve = LearningCurve.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])
    assert curve.percents == [25, 50, 100] and curve.max_steps == 30 and sent == [curve.pk]
    page = client.get(response["Location"]).content.decode()
    assert "Queued" in page and "hx-get" in page and "every 2s" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"percents": "25, half", "max_steps": 30}, "is not a whole percent"),
        ({"percents": "0, 50", "max_steps": 30}, "whole percent from 1 to 100"),
        ({"percents": "100", "max_steps": 30}, "at least one share below 100%"),
        ({"percents": "25", "max_steps": 0}, "greater than or equal to 1"),
    ],
)
def test_start_with_bad_input_says_why(trainable, client, user, sent, data, message):
    client.force_login(user)
    response = client.post(reverse("curves:learning_curve_start", args=[trainable.name]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not LearningCurve.objects.exists()


def test_start_while_one_runs_or_without_data_says_why(project, client, user, sent):
    client.force_login(user)
    url = reverse("curves:learning_curve_start", args=[project.name])
    response = client.post(url, {"percents": "50", "max_steps": 30})
    assert response.status_code == 400 and "at least 10 documents" in response.content.decode()
    make_trainable(project, user)
    assert client.post(url, {"percents": "50", "max_steps": 30}).status_code == 302
    response = client.post(url, {"percents": "50", "max_steps": 30})
    assert response.status_code == 400 and "already queued or running" in response.content.decode()


def test_start_needs_the_train_permission(trainable, client, member_of, sent):
    url = reverse("curves:learning_curve_start", args=[trainable.name])
    for role in ("viewer", "annotator"):
        client.force_login(member_of(trainable, role))
        assert client.post(url, {"percents": "50", "max_steps": 30}).status_code == 403
    client.force_login(member_of(trainable, "editor"))
    assert client.post(url, {"percents": "50", "max_steps": 30}).status_code == 302
    assert LearningCurve.objects.count() == 1


def test_finished_curve_page_shows_plot_table_and_projection_in_words(trainable, client, user):
    curve = finished_curve(trainable, user)
    client.force_login(user)
    page = client.get(reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])).content.decode()
    assert "<svg" in page and 'class="series-projection"' in page
    assert "hx-trigger" not in page  # finished: no polling
    projection = Projection.from_dict(curve.projection)
    assert f"With about <strong>{projection.more_instances} more tagged instances</strong>" in page
    assert "(extrapolated from 4 points)" in page
    assert 'data-type="CITY"' in page and 'data-type="PERSON"' in page
    assert page.count('<tr data-percent="') == 4
    # The list page shows the same curve as the latest one.
    listing = client.get(reverse("curves:learning_curve_list", args=[trainable.name])).content.decode()
    assert "Latest curve" in listing and f'id="curve-{curve.pk}"' in listing


def test_running_curve_is_polled_and_htmx_gets_only_the_region(trainable, client, user):
    curve = finished_curve(trainable, user, points=made_points()[:2])
    LearningCurve.objects.filter(pk=curve.pk).update(
        status=LearningCurve.Status.RUNNING, projection={}, percents=[25, 50, 75, 100], finished_at=None
    )
    client.force_login(user)
    url = reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])
    region = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in region and region.lstrip().startswith(f'<section id="curve-{curve.pk}"')
    assert f'hx-get="{url}"' in region and "every 2s" in region
    assert "2 of 4 shares done" in region and "training on 75% of the training documents now" in region
    assert "(so far)" in region  # the two points already give a projection


def test_failed_curve_shows_the_error(trainable, client, user):
    curve = finished_curve(trainable, user, points=made_points()[:1])
    LearningCurve.objects.filter(pk=curve.pk).update(status=LearningCurve.Status.FAILED, error="Out of memory.")
    client.force_login(user)
    page = client.get(reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])).content.decode()
    assert "The learning curve failed" in page and "Out of memory." in page


def test_viewer_sees_curves_and_foreign_ids_are_404(trainable, client, user, member_of):
    curve = finished_curve(trainable, user)
    viewer = member_of(trainable, "viewer")
    client.force_login(viewer)
    assert client.get(reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])).status_code == 200
    # A curve of another project the same user owns is not reachable through this project's URL.
    other = ProjectFactory(name="elsewhere")
    MembershipFactory(project=other, user=user, role="owner")
    make_trainable(other, user)
    foreign = finished_curve(other, user)
    client.force_login(user)
    assert client.get(reverse("curves:learning_curve_detail", args=[trainable.name, foreign.pk])).status_code == 404
    # A non-member gets 404 for the project's pages.
    client.force_login(member_of(other, "viewer", username="outsider"))
    assert client.get(reverse("curves:learning_curve_list", args=[trainable.name])).status_code == 404
    assert client.get(reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])).status_code == 404
    assert client.post(reverse("curves:learning_curve_start", args=[trainable.name])).status_code == 404


def test_a_perfect_curve_says_the_test_set_cannot_show_a_gain(trainable, client, user):
    curve = finished_curve(trainable, user, points=made_points(f1s=(1.0, 1.0, 1.0, 1.0)))
    client.force_login(user)
    page = client.get(reverse("curves:learning_curve_detail", args=[trainable.name, curve.pk])).content.decode()
    assert "this test set cannot show what more data would add" in page
    assert "With about" not in page
