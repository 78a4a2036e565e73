from __future__ import annotations

import shutil
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from ner.calibration import CALIBRATION_FILE, CalibrationMap, calibration_map_save
from ner.predict import GREEDY_SCORE
from projects.models import ApiKey
from projects.roles import Role
from serving import services
from tests.serving.factories import model_row


def _create_key(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_api_key_prints_the_key_alone_on_the_last_line(project, user):
    lines = _create_key("--user", "alice", "--name", "ci")
    raw = lines[-1]
    assert raw.startswith("nl_") and " " not in raw
    api_key = ApiKey.objects.get(name="ci")
    assert api_key.project is None and raw.startswith(api_key.prefix)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/api/v1/projects/contracts/deployments/").status_code == 200


def test_create_api_key_for_a_project(project, user):
    raw = _create_key("--user", "alice", "--project", "contracts")[-1]
    assert ApiKey.objects.get(project=project).prefix == raw[:10]


def test_create_api_key_explains_what_is_wrong(project, user, member_of):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _create_key("--user", "nobody")
    with pytest.raises(CommandError, match="not a member"):
        _create_key("--user", "alice", "--project", "elsewhere")
    member_of(project, Role.VIEWER, username="vera")
    with pytest.raises(CommandError, match="owners"):
        _create_key("--user", "vera", "--project", "contracts")


@pytest.mark.slow
def test_try_it_page_highlights_entities_with_scores(owner_client, project, user, trained_model_dir):
    model = model_row(project, "m1", trained_model_dir)
    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    page = owner_client.get("/projects/contracts/try/")
    assert page.status_code == 200 and "Find entities" in page.content.decode()
    text = "Yesterday Alice Smith flew to Berlin for meeting number 5."
    response = owner_client.post(
        "/projects/contracts/try/", {"deployment": "production", "text": text}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # the partial only
    assert "<mark" in html and "Alice Smith" in html and "PERSON" in html and "found by production" in html
    blank = owner_client.post(
        "/projects/contracts/try/", {"deployment": "production", "text": "  \n "}
    ).content.decode()
    assert "Paste some text: this one is only spaces." in blank and "<mark" not in blank


@pytest.mark.slow
def test_try_it_says_whether_the_confidence_is_calibrated_for_that_model(
    owner_client, project, user, trained_model_dir, tmp_path
):
    # The quick model's dev set is too small to calibrate it (training saves no map); a copy gets a map of its own.
    raw_dir = tmp_path / "raw"
    shutil.copytree(trained_model_dir, raw_dir)
    assert not (raw_dir / CALIBRATION_FILE).exists()
    calibrated_dir = tmp_path / "calibrated"
    shutil.copytree(trained_model_dir, calibrated_dir)
    identity = CalibrationMap(GREEDY_SCORE, (0.0, 1.0), (0.0, 1.0), 40, 30, 0.1, 0.05)
    calibration_map_save(identity, calibrated_dir)
    cross_fitted_dir = tmp_path / "cross-fitted"
    shutil.copytree(trained_model_dir, cross_fitted_dir)
    calibration_map_save(replace(identity, entity_count=400, folds=4), cross_fitted_dir)
    folders = (("raw", raw_dir), ("calibrated", calibrated_dir), ("cross-fitted", cross_fitted_dir))
    for name, folder in folders:
        model = model_row(project, name, Path(folder))
        services.deployment_create_or_replace(project=project, name=name, model=model, user=user)
    text = "Yesterday Alice Smith flew to Berlin."

    raw = owner_client.post("/projects/contracts/try/", {"deployment": "raw", "text": text}).content.decode()
    calibrated = owner_client.post("/projects/contracts/try/", {"deployment": "calibrated", "text": text})

    assert "not calibrated" in raw and "calibrated on" not in raw
    assert "calibrated on the dev documents" in calibrated.content.decode()
    assert "not calibrated" not in calibrated.content.decode() and "fold models" not in calibrated.content.decode()
    cross_fitted = owner_client.post("/projects/contracts/try/", {"deployment": "cross-fitted", "text": text})
    assert "calibrated on the dev documents held out when the model was trained and on what 4 fold models" in (
        cross_fitted.content.decode()
    )


def test_try_it_without_deployments_says_so(owner_client, project):
    assert "Nothing is deployed" in owner_client.get("/projects/contracts/try/").content.decode()
