"""Deleting a project leaves nothing behind: no row in any nerlab table, no file under projects/<pk>/."""

from __future__ import annotations

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse

from labeling.imports import import_job_create
from labeling.models import ImportJob
from portability import services
from portability.models import AuthoringJob
from portability.selectors import _project_path, project_data_inventory
from projects.models import Project
from projects.services import api_key_create, project_delete
from serving.azure_wire import AnalyzeTask, DocumentInput
from serving.models import AnalyzeJob
from serving.services import analyze_job_create, deployment_create_or_replace
from tests.projects.factories import UserFactory
from tests.serving.factories import analyze_job

LOCAL_APPS = {"projects", "labeling", "evaluation", "serving", "portability"}


def _rows_referencing(project_pk: int) -> dict[str, int]:
    found = {}
    for model in apps.get_models():
        if model._meta.app_label not in LOCAL_APPS:
            continue
        path = _project_path(model, Project)
        if path is not None:
            count = model._default_manager.filter(**{path: project_pk}).count()
            if count:
                found[model._meta.db_table] = count
    return found


def _files_under(prefix: str) -> list[str]:
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    return [f"{prefix}/{name}" for name in files] + [
        path for directory in directories for path in _files_under(f"{prefix}/{directory}")
    ]


def test_project_deletion_removes_every_row_and_file(project, user, trained, django_capture_on_commit_callbacks):
    deployment_create_or_replace(project=project, name="production", model=trained, user=user)
    upload = import_job_create(project=project, user=user, format="jsonl", data=b'{"text": "x"}\n', file_name="a.jsonl")
    assert default_storage.exists(upload.file_path)
    api_key, _ = api_key_create(user=user, name="predict", project=project)
    analyze_job(user, project.name, api_key, text="Alice went to Paris.")
    services.azure_export_run(user=user, project=project, api_version="2023-04-01")
    pk = project.pk
    before = _rows_referencing(pk)
    assert {"labeling_document", "labeling_span", "evaluation_trainedmodel", "serving_deployment"} <= set(before)
    assert {"labeling_importjob", "portability_authoringjob", "projects_apikey", "serving_analyzejob"} <= set(before)
    assert len(_files_under(f"projects/{pk}")) > 5  # model files, snapshot, upload, export

    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)

    assert _rows_referencing(pk) == {}
    assert not AnalyzeJob.objects.exists()  # its request held the project's name and a text
    assert not ImportJob.objects.exists() and not AuthoringJob.objects.exists()
    assert _files_under(f"projects/{pk}") == []


def test_analyze_jobs_of_other_projects_survive(project, user, django_capture_on_commit_callbacks):
    other = Project.objects.create(name="other", language="en")
    analyze_job(user, "other")
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)
    assert AnalyzeJob.objects.count() == 1 and other.pk


def test_your_data_page_lists_tables_files_and_database(client, project, user, member_of, trained):
    client.force_login(user)
    response = client.get(reverse("portability:project_data", args=[project.name]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "nothing leaves this machine" in page
    assert "labeling_document" in page and "evaluation_trainedmodel" in page
    assert f"projects/{project.pk}/" in page
    assert reverse("projects:project_delete", args=[project.name]) in page
    assert reverse("portability:project_archive", args=[project.name]) in page
    assert f"{reverse('labeling:document_export', args=[project.name])}?format=conll" in page
    inventory = project_data_inventory(project=project, user=user)
    assert inventory.storage.files > 0 and inventory.storage.bytes > 0
    assert "password" not in page.lower()

    viewer = member_of(project, "viewer")
    client.force_login(viewer)
    page = client.get(reverse("portability:project_data", args=[project.name])).content.decode()
    assert reverse("projects:project_delete", args=[project.name]) not in page
    client.force_login(UserFactory(username="outsider"))
    assert client.get(reverse("portability:project_data", args=[project.name])).status_code == 404


def test_server_paths_on_the_data_page_and_api_are_for_superusers_only(client, project, member_of, settings):
    paths = (str(settings.MEDIA_ROOT), str(settings.NERLAB_CONTAINERS_ROOT), str(connection.settings_dict["NAME"]))
    page_url = reverse("portability:project_data", args=[project.name])
    api_url = f"/api/v1/projects/{project.name}/data/"
    for role in ("viewer", "owner"):
        client.force_login(member_of(project, role))
        for response in (client.get(page_url), client.get(api_url)):
            assert response.status_code == 200
            assert not [path for path in paths if path in response.content.decode()], role
    admin = member_of(project, "viewer", username="root")
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    page = client.get(page_url).content.decode()
    assert str(settings.NERLAB_CONTAINERS_ROOT) in page and str(settings.MEDIA_ROOT) in page
    assert client.get(api_url).json()["containers_root"] == str(settings.NERLAB_CONTAINERS_ROOT)


def test_an_analyze_job_is_linked_to_each_project_its_tasks_name(project, user):
    other = Project.objects.create(name="other", language="en")
    job = analyze_job_create(
        user=user,
        api_key=None,
        api_version="2023-04-01",
        display_name="",
        documents=[DocumentInput(id="1", text="Hello", language="en")],
        tasks=[
            AnalyzeTask(task_name="a", project_name=project.name, deployment_name="production"),
            AnalyzeTask(task_name="b", project_name="other", deployment_name="production"),
            AnalyzeTask(task_name="c", project_name="nowhere", deployment_name="production"),
        ],
        character_count=5,
    )
    assert set(job.projects.all()) == {project, other}
    project_delete(project=other)
    assert not AnalyzeJob.objects.exists()  # a job goes with any of its projects
