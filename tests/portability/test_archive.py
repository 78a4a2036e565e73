"""Export everything -> import as a new project, and clone: the same documents, spans, types, usable models."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation.models import Evaluation, TrainedModel
from evaluation.selectors import trained_model_local_path
from labeling.models import Document, Span
from ner.predict import load
from portability.archive import project_archive_bytes, project_archive_import, project_clone
from projects.models import EntityType, Membership, Project
from projects.roles import Role
from tests.projects.factories import UserFactory
from tests.serving.factories import model_row


def _documents(project: Project) -> list[tuple]:
    return sorted(
        (d.name, d.text, d.language, d.split, d.status, json.dumps(d.meta, sort_keys=True))
        for d in Document.objects.filter(project=project)
    )


def _spans(project: Project) -> list[tuple]:
    return sorted(
        (s.document.text, s.start, s.end, s.entity_type.name)
        for s in Span.objects.filter(document__project=project).select_related("document", "entity_type")
    )


def _types(project: Project) -> list[tuple]:
    return sorted(project.entity_types.values_list("name", "color", "hotkey", "description"))


def test_archive_round_trip_keeps_everything_and_models_predict(project, user, trained):
    EntityType.objects.filter(project=project).update(description="described")
    Document.objects.filter(project=project).first().__class__.objects.filter(
        pk=Document.objects.filter(project=project).order_by("pk").first().pk
    ).update(status=Document.Status.IN_PROGRESS)
    Document.objects.filter(pk=Document.objects.filter(project=project).order_by("pk").last().pk).update(
        meta={"source": "reuters", "conll_columns": '[["NNP", "B-NP"]]'}
    )
    chosen = {"max_steps": 20, "budget_minutes": 3.0, "reason": "20 steps fit in 3 minutes"}
    type(trained.run).objects.filter(pk=trained.run_id).update(
        time_budget_minutes=3,
        settings_rule="corpus-size-v1",
        settings_reason="sized",
        budget=chosen,
        representation="minilm",
        representation_reason="a small training side",
        dropout=0.2,
        batch_size_start=100,
        batch_size_stop=240,
        eval_frequency=30,
        teacher_name="big-teacher",
        silver_threshold=0.5,
        untagged_documents=40,
        labelled_documents=40,
        silver_spans=77,
    )
    data = project_archive_bytes(project=project)

    imported = project_archive_import(source=io.BytesIO(data), user=user, name="contracts-restored")

    copy = imported.project
    assert _documents(copy) == _documents(project)
    assert _spans(copy) == _spans(project)
    assert _types(copy) == _types(project)
    assert Membership.objects.get(project=copy).user == user
    restored = TrainedModel.objects.get(project=copy, name=trained.name)
    assert restored.storage_path.startswith(f"projects/{copy.pk}/models/")
    # What the time budget chose travels along, so "same settings" on the copy reuses the steps.
    assert (restored.run.time_budget_minutes, restored.run.settings_rule, restored.run.budget) == (
        3,
        "corpus-size-v1",
        chosen,
    )
    assert restored.run.trained_steps == 20 and restored.run.representation == "minilm"
    # And so do the small-data settings and why the representation was chosen.
    run = restored.run
    assert (run.dropout, run.batch_size_start, run.batch_size_stop, run.eval_frequency) == (0.2, 100, 240, 30)
    assert run.representation_reason == "a small training side"
    # A student's teacher travels by name, with what it labelled.
    assert (run.teacher, run.teacher_name, run.silver_threshold) == (None, "big-teacher", 0.5)
    assert (run.untagged_documents, run.labelled_documents, run.silver_spans) == (40, 40, 77)
    assert Evaluation.objects.get(model=restored).report == Evaluation.objects.get(model=trained).report
    assert restored.evaluation.predictions.count() == trained.evaluation.predictions.count()
    text = "Alice Smith flew to Paris."
    original = load(trained_model_local_path(model=trained)).predict([text])
    again = load(trained_model_local_path(model=restored)).predict([text])
    assert again == original


def test_archive_refuses_a_name_clash_and_writes_nothing(project, user):
    data = project_archive_bytes(project=project)
    before = Project.objects.count()
    with pytest.raises(ValidationError, match="already exists"):
        project_archive_import(source=io.BytesIO(data), user=user)
    assert Project.objects.count() == before


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"a.txt": "x"}, "no project.json"),
        ({"project.json": "{not json"}, "not valid JSON"),
        ({"project.json": json.dumps({"format": "other"})}, "not a nerlab project archive"),
        ({"../evil.txt": "x", "project.json": "{}"}, "unsafe path"),
    ],
)
def test_archive_rejects_bad_files_with_a_clear_message(user, entries, message):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    with pytest.raises(ValidationError, match=message):
        project_archive_import(source=io.BytesIO(buffer.getvalue()), user=user, name="fresh")
    assert not Project.objects.filter(name="fresh").exists()


def test_archive_with_a_bad_document_leaves_no_project_and_no_files(project, user, trained, settings):
    data = project_archive_bytes(project=project)
    source = zipfile.ZipFile(io.BytesIO(data))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "documents.jsonl":
                content += b'{"text": "bad", "spans": [{"start": 0, "end": 99, "label": "PERSON"}]}\n'
            archive.writestr(info, content)
    with pytest.raises(ValidationError):
        project_archive_import(source=io.BytesIO(broken.getvalue()), user=user, name="broken-copy")
    assert not Project.objects.filter(name="broken-copy").exists()
    assert TrainedModel.objects.count() == 1


def test_not_a_zip_is_refused(user):
    with pytest.raises(ValidationError, match="not a zip"):
        project_archive_import(source=io.BytesIO(b"hello"), user=user, name="fresh")


def test_clone_copies_schema_documents_split_and_optionally_models(project, user, trained):
    editor = UserFactory(username="vic")
    Membership.objects.create(project=project, user=editor, role=Role.EDITOR)

    clone = project_clone(source=project, user=editor, name="contracts-copy", include_models=True)

    assert _documents(clone) == _documents(project)
    assert _spans(clone) == _spans(project)
    assert _types(clone) == _types(project)
    assert list(clone.memberships.values_list("user__username", "role")) == [("vic", "owner")]
    assert TrainedModel.objects.filter(project=clone).count() == 1
    plain = project_clone(source=project, user=editor, name="contracts-plain")
    assert not TrainedModel.objects.filter(project=plain).exists()


def test_clone_page_needs_membership_and_redirects_to_the_copy(client, project, user):
    stranger = UserFactory(username="mallory")
    client.force_login(stranger)
    assert client.get(reverse("portability:project_clone", args=[project.name])).status_code == 404
    client.force_login(user)
    response = client.post(reverse("portability:project_clone", args=[project.name]), {"name": "copy-1"})
    assert response.status_code == 302 and response["Location"].endswith("/projects/copy-1/")
    response = client.post(reverse("portability:project_clone", args=[project.name]), {"name": "copy-1"})
    assert "already exists" in response.content.decode()


def test_archive_download_and_import_page(client, project, user):
    client.force_login(user)
    response = client.get(reverse("portability:project_archive", args=[project.name]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    upload = io.BytesIO(data)
    upload.name = "contracts.nerlab.zip"
    response = client.post(
        reverse("portability:project_archive_import"), {"archive": upload, "name": "from-page", "include_models": "on"}
    )
    assert response.status_code == 302
    assert Project.objects.filter(name="from-page").exists()


def test_clone_and_archive_api(client, project, user):
    from projects.services import api_key_create

    _, key = api_key_create(user=user, name="ci")
    headers = {"Authorization": f"Api-Key {key}"}
    response = client.post(
        f"/api/v1/projects/{project.name}/clone/",
        {"name": "api-copy"},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "api-copy" and response.json()["role"] == "owner"
    archive = b"".join(client.get(f"/api/v1/projects/{project.name}/archive/", headers=headers).streaming_content)
    upload = io.BytesIO(archive)
    upload.name = "a.zip"
    response = client.post("/api/v1/project-archives/", {"archive": upload, "name": "api-restored"}, headers=headers)
    assert response.status_code == 201, response.content
    response = client.post("/api/v1/project-archives/", {"archive": io.BytesIO(archive)}, headers=headers)
    assert response.status_code == 400


def _archive_with_members(project: Project) -> bytes:
    Membership.objects.create(project=project, user=UserFactory(username="bob"), role=Role.EDITOR)
    Membership.objects.create(project=project, user=UserFactory(username="carol"), role=Role.OWNER)
    data = project_archive_bytes(project=project, include_members=True)
    # Someone this server does not know, as an archive from another server would list.
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        manifest = json.loads(source.read("project.json"))
        manifest["members"].append({"username": "stranger", "role": "viewer"})
        rewritten = io.BytesIO()
        with zipfile.ZipFile(rewritten, "w") as target:
            for item in source.infolist():
                content = json.dumps(manifest) if item.filename == "project.json" else source.read(item.filename)
                target.writestr(item, content)
    return rewritten.getvalue()


def test_restoring_members_adds_no_one_without_their_consent(client, project, user):
    archive = _archive_with_members(project)
    mallory = UserFactory(username="mallory")
    client.force_login(mallory)
    upload = io.BytesIO(archive)
    upload.name = "contracts.nerlab.zip"
    response = client.post(
        reverse("portability:project_archive_import"),
        {"archive": upload, "name": "mallorys", "restore_members": "on"},
        follow=True,
    )
    assert response.status_code == 200
    imported = Project.objects.get(name="mallorys")
    assert list(imported.memberships.values_list("user__username", "role")) == [("mallory", "owner")]
    page = response.content.decode()
    assert "Members are not restored" in page and "bob (editor)" in page and "carol (owner)" in page
    assert "do not exist here" not in page  # which usernames have accounts here is not told

    # Through the API too.
    api = APIClient()
    api.force_authenticate(mallory)
    response = api.post(
        "/api/v1/project-archives/",
        {"archive": io.BytesIO(archive), "name": "mallorys-2", "restore_members": "true"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert list(Membership.objects.filter(project__name="mallorys-2").values_list("user__username", flat=True)) == [
        "mallory"
    ]


def test_a_superusers_import_restores_the_members_that_exist_here(project, user):
    archive = _archive_with_members(project)
    admin = UserFactory(username="root", is_superuser=True)
    imported = project_archive_import(source=io.BytesIO(archive), user=admin, name="restored", restore_members=True)
    roles = dict(imported.project.memberships.values_list("user__username", "role"))
    assert roles == {"root": "owner", "alice": "owner", "bob": "editor", "carol": "owner"}
    assert imported.missing_members == ["stranger"]


def _with_manifest_change(data: bytes, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "project.json":
                manifest = json.loads(content)
                change(manifest)
                content = json.dumps(manifest).encode()
            archive.writestr(info, content)
    return changed.getvalue()


WRONG_TYPES = {
    "run not an object": ("models", {"run": ["seed", 1]}, "model 1 ('m1'): field 'run': must be an object"),
    "seed a string": ("models", {"run": {"seed": "x"}}, "field 'seed': must be a whole number from 0"),
    "a huge step": ("models", {"run": {"step": 10**30}}, "field 'step': must be a whole number from 0 to 2147483647"),
    "unhashable snapshot": ("models", {"snapshot": [1]}, "field 'snapshot': names snapshot a list [1]"),
    "labels a string": ("models", {"labels": "PERSON"}, "field 'labels': must be a list"),
    "micro F1 a word": ("models", {"micro_f1": "high"}, "field 'micro_f1': must be a number from 0 to 1"),
    "impossible date": ("models", {"run": {"started_at": "2026-13-45T00:00:00"}}, "field 'started_at': must be a date"),
    "files a number": ("models", {"files": 7}, "field 'files': must name a file or folder"),
    "count a word": ("snapshots", {"document_count": "many"}, "snapshot 1: field 'document_count': must be a whole"),
    "ids a number": ("snapshots", {"train_document_ids": 5}, "field 'train_document_ids': must be a list"),
    "long language": ("snapshots", {"language": "x" * 99}, "field 'language': is 99 characters long"),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_archive_with_wrongly_typed_model_fields_is_refused_naming_them(project, user, case):
    model_row(project, "m1")
    key, change, message = WRONG_TYPES[case]
    data = _with_manifest_change(project_archive_bytes(project=project), lambda m: m[key][0].update(change))
    projects, models = Project.objects.count(), TrainedModel.objects.count()
    with pytest.raises(ValidationError) as refused:
        project_archive_import(source=io.BytesIO(data), user=user, name="restored")
    assert any(message in text for text in refused.value.messages), refused.value.messages
    assert (Project.objects.count(), TrainedModel.objects.count()) == (projects, models)


def test_an_entry_whose_compressed_bytes_are_damaged_is_refused_not_a_500(project, user):
    data = bytearray(project_archive_bytes(project=project))
    first = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    start = first.header_offset + 30 + len(first.filename)  # past the local header: the compressed bytes
    data[start : start + 5] = bytes(5)  # found by the fuzz test: zlib.error escaped as a 500
    with pytest.raises(ValidationError, match="is damaged"):
        project_archive_import(source=io.BytesIO(bytes(data)), user=user, name="restored")
    assert not Project.objects.filter(name="restored").exists()


@pytest.mark.parametrize("key", ["documents", "audit", "suggestions"])
def test_a_manifest_naming_an_entry_with_a_list_is_refused_not_a_500(project, user, key):
    # Found by the fuzz test: {"documents": [[]]} reached a set lookup and raised TypeError.
    data = _with_manifest_change(project_archive_bytes(project=project), lambda m: m.update({key: [[]]}))
    with pytest.raises(ValidationError, match="must name a file of the archive"):
        project_archive_import(source=io.BytesIO(data), user=user, name="restored")
    assert not Project.objects.filter(name="restored").exists()


# Found by the fuzz test on PostgreSQL, whose text and JSON columns cannot hold U+0000: {"span_counts": {"\u0000":
# null}} reached the database and was a 500. Every JSON nerlab reads is refused with the place of the NUL instead.
NUL_PLACES = {
    "a key of a snapshot's counts": (
        lambda m: m["snapshots"][0].update(span_counts={"\x00": None}),
        "in a key of snapshots[0].span_counts",
    ),
    "a model's reason": (
        lambda m: m["models"][0]["run"].update(representation_reason="a\x00b"),
        "at models[0].run.representation_reason",
    ),
    "the project's description": (lambda m: m["project"].update(description="\x00"), "at project.description"),
}


@pytest.mark.parametrize("place", list(NUL_PLACES))
def test_a_nul_character_anywhere_in_the_manifest_is_refused_naming_where(project, user, place):
    model_row(project, "m1")
    change, where = NUL_PLACES[place]
    data = _with_manifest_change(project_archive_bytes(project=project), change)
    projects, models = Project.objects.count(), TrainedModel.objects.count()
    with pytest.raises(ValidationError) as refused:
        project_archive_import(source=io.BytesIO(data), user=user, name="restored")
    assert any("NUL character" in text and where in text for text in refused.value.messages), refused.value.messages
    assert (Project.objects.count(), TrainedModel.objects.count()) == (projects, models)
