"""Every Azure authoring route that names a project: non-members get 404, anonymous callers 401, project keys 403,
and each role exactly what projects.roles allows — all in Azure's error shape. (The generated permission matrix in
tests/test_permission_matrix.py covers nerlab's own URLs; these routes carry Azure's parameter names and
semantics — api-version required, PUT creates — so they get their own table here.)"""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse
from rest_framework.test import APIClient

from portability.models import AuthoringJob
from projects.roles import ROLE_PERMISSIONS, Permission, Role
from projects.services import api_key_create
from tests.projects.factories import UserFactory

P = Permission
V = "2023-04-01"
# url name -> method -> permission
ROUTES = {
    "azure_project_detail": {"GET": P.VIEW, "PATCH": P.EDIT_PROJECT, "DELETE": P.DELETE_PROJECT},
    "azure_import": {"POST": P.MANAGE_DOCUMENTS},
    "azure_import_job": {"GET": P.MANAGE_DOCUMENTS},
    "azure_export": {"POST": P.MANAGE_DOCUMENTS},
    "azure_export_job": {"GET": P.MANAGE_DOCUMENTS},
    "azure_export_result": {"GET": P.MANAGE_DOCUMENTS},
    "azure_train": {"POST": P.TRAIN},
    "azure_train_jobs": {"GET": P.VIEW},
    "azure_train_job": {"GET": P.VIEW},
    "azure_train_cancel": {"POST": P.TRAIN},
    "azure_model_list": {"GET": P.VIEW},
    "azure_model_detail": {"GET": P.VIEW, "DELETE": P.TRAIN},
    "azure_evaluation_summary": {"GET": P.VIEW},
    "azure_evaluation_result": {"GET": P.VIEW},
    "azure_deployment_list": {"GET": P.VIEW},
    "azure_swap": {"POST": P.DEPLOY},
    "azure_swap_job": {"GET": P.VIEW},
    "azure_deployment": {"GET": P.VIEW, "PUT": P.DEPLOY, "DELETE": P.DEPLOY},
    "azure_deployment_job": {"GET": P.VIEW},
}


def test_every_project_route_is_in_the_table():
    resolver = get_resolver().namespace_dict["portability"][1]
    azure = {name for name in resolver.reverse_dict if isinstance(name, str) and name.startswith("azure_")}
    global_routes = {"azure_project_list", "azure_deletion_job", "azure_training_config_versions"}
    assert azure - global_routes == set(ROUTES)


def _url(name: str, project: str) -> str:
    kwargs = {"projectName": project}
    if ("job" in name and name != "azure_train_jobs") or name in ("azure_export_result", "azure_train_cancel"):
        kwargs["jobId"] = "00000000-0000-0000-0000-000000000000_0"
    if name in ("azure_model_detail", "azure_evaluation_summary", "azure_evaluation_result"):
        kwargs["trainedModelLabel"] = "m"
    if name in ("azure_deployment", "azure_deployment_job"):
        kwargs["deploymentName"] = "d"
    return reverse(f"portability:{name}", kwargs=kwargs) + f"?api-version={V}"


CASES = [(name, method, permission) for name, methods in ROUTES.items() for method, permission in methods.items()]


def _send(client: APIClient, method: str, url: str):
    return client.generic(method, url, "{}", content_type="application/json")


@pytest.mark.parametrize(("name", "method", "permission"), CASES, ids=[f"{n}-{m}" for n, m, _ in CASES])
def test_azure_route_scoping(db, project, user, member_of, name, method, permission):
    url = _url(name, project.name)
    stranger = UserFactory(username="stranger")
    _, key = api_key_create(user=stranger, name="k")
    response = _send(APIClient(headers={"Ocp-Apim-Subscription-Key": key}), method, url)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound", response.content

    response = _send(APIClient(), method, url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "Unauthorized"

    _, project_key = api_key_create(user=user, name="p", project=project)
    response = _send(APIClient(headers={"Ocp-Apim-Subscription-Key": project_key}), method, url)
    assert response.status_code == 403 and response.json()["error"]["code"] == "Forbidden"

    for role in (Role.EDITOR, Role.ANNOTATOR, Role.VIEWER):
        member = member_of(project, role)
        _, key = api_key_create(user=member, name="k")
        response = _send(APIClient(headers={"Ocp-Apim-Subscription-Key": key}), method, url)
        if permission in ROLE_PERMISSIONS[role]:
            assert response.status_code != 403, (role, response.content)
        else:
            assert response.status_code == 403, (role, response.content)
            assert response.json()["error"]["code"] == "Forbidden"
    assert not AuthoringJob.objects.filter(project=project, status="succeeded").exclude(kind="export").exists()
