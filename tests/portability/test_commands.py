"""The CI/CD commands: import, export, train, evaluate (a quality gate) and deploy, each failing clearly."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import Evaluation, TrainedModel
from labeling.models import Document
from ner.formats.jsonl import write_jsonl
from serving.models import Deployment
from tests.evaluation.conftest import tiny_docs


def test_import_then_export_a_jsonl_file(project, tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    source.write_bytes(write_jsonl(tiny_docs(12)))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("nerlab_import", project.name, str(source), "--format", "jsonl")
    assert "--create-missing-types" in capsys.readouterr().err
    call_command("nerlab_import", project.name, str(source), "--create-missing-types")  # format: auto
    printed = capsys.readouterr()
    assert "--create-missing-types" not in printed.err and "read as jsonl" in printed.out
    assert Document.objects.filter(project=project).count() == 12
    out = tmp_path / "out.jsonl"
    call_command("nerlab_export", project.name, str(out), "--format", "jsonl", "--split", "test")
    assert len(out.read_text().splitlines()) == 3
    archive = tmp_path / "all.zip"
    call_command("nerlab_export", project.name, str(archive), "--archive")
    assert "project.json" in zipfile.ZipFile(archive).namelist()


def test_clear_errors_for_unknown_project_file_and_format(project, tmp_path):
    with pytest.raises(CommandError, match="No project named 'nope'"):
        call_command("nerlab_import", "nope", str(tmp_path / "x"), "--format", "jsonl")
    with pytest.raises(CommandError, match="is not a file"):
        call_command("nerlab_import", project.name, str(tmp_path / "x"), "--format", "jsonl")
    with pytest.raises(CommandError, match="--format"):
        call_command("nerlab_export", project.name, str(tmp_path / "x"))


def test_train_evaluate_gate_and_deploy(project, user, capsys):
    Document.objects.all().delete()
    from tests.evaluation.conftest import make_trainable

    make_trainable(project, user)
    call_command("nerlab_train", project.name, "--model", "ci-1", "--max-steps", "30", "--seed", "3", "--inline")
    out = capsys.readouterr().out
    assert "succeeded" in out and "Model ci-1 trained" in out
    model = TrainedModel.objects.get(project=project, name="ci-1")

    call_command("nerlab_evaluate", project.name, "--model", "ci-1", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["microF1"] == pytest.approx(model.micro_f1)
    call_command("nerlab_evaluate", project.name, "--model", "ci-1", "--min-f1", "0")
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("nerlab_evaluate", project.name, "--model", "ci-1", "--min-f1", "80")
    weaker = model.evaluation.report
    weaker["micro"].update(tp=1, fp=1, fn=1)  # F1 0.5: the tiny model is perfect; a weaker one must stop the pipeline
    Evaluation.objects.filter(model=model).update(report=weaker)
    with pytest.raises(CommandError, match=r"Micro F1 0\.500 is below the required 0\.800"):
        call_command("nerlab_evaluate", project.name, "--model", "ci-1", "--min-f1", "0.8")
    with pytest.raises(CommandError, match="has no model named 'nope'"):
        call_command("nerlab_evaluate", project.name, "--model", "nope")

    call_command("nerlab_deploy", project.name, "--deployment", "production", "--model", "ci-1")
    assert Deployment.objects.get(project=project, name="production").model == model
    with pytest.raises(CommandError, match="already has a model named ci-1"):
        call_command("nerlab_train", project.name, "--model", "ci-1", "--inline")


def test_train_fails_with_a_non_zero_exit_when_data_is_not_trainable(project):
    with pytest.raises(CommandError, match="at least 10"):
        call_command("nerlab_train", project.name, "--model", "m", "--wait")
