"""An analyze job checks its user's rights again when it runs: a lost right fails its task as Azure's
Unauthorized, and nothing else is reported that way."""

from __future__ import annotations

import pytest

from projects.models import Membership
from projects.services import api_key_create
from serving import services
from serving.models import AnalyzeJob
from tests.serving.factories import analyze_job


def test_a_job_whose_key_lost_its_right_to_predict_fails_as_unauthorized(user, project):
    api_key, _ = api_key_create(user=user, name="predict", project=project)
    job = analyze_job(user, project.name, api_key)
    Membership.objects.filter(project=project, user=user).delete()  # the key's user left while the job waited

    job = services.analyze_job_execute(job_id=str(job.pk))

    assert job.status == AnalyzeJob.Status.FAILED
    error = job.task_results[0]["error"]
    assert error["code"] == "Unauthorized" and "no longer allowed to predict" in error["message"]


def test_an_unexpected_error_while_checking_access_is_not_reported_as_unauthorized(user, project, monkeypatch):
    job = analyze_job(user, project.name)

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "deployment_resolve", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        services.analyze_job_execute(job_id=str(job.pk))
    # Left running, so that the jobs' recovery rule retries it or reports it lost, like any crashed job.
    assert AnalyzeJob.objects.get(pk=job.pk).status == AnalyzeJob.Status.RUNNING
