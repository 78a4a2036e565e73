"""Deployments: deploy, redeploy, swap (atomic, also under load), delete, limits, API and pages."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import RestrictedError
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation.models import TrainedModel
from evaluation.templatetags.evaluation_tags import pct
from ner import limits
from ner.predict import ScoredSpan
from projects.roles import Role
from projects.services import api_key_create
from serving import cache, services
from serving.models import Deployment
from tests.projects.factories import MembershipFactory, ProjectFactory
from tests.serving.factories import model_row


@pytest.fixture
def two_models(project):
    return model_row(project, "model-a"), model_row(project, "model-b")


def test_deploy_then_redeploy_under_the_same_name(project, user, two_models):
    a, b = two_models
    deployment, created = services.deployment_create_or_replace(project=project, name="production", model=a, user=user)
    assert created and deployment.model == a
    again, created = services.deployment_create_or_replace(project=project, name="production", model=b, user=user)
    assert not created and again.pk == deployment.pk and again.model == b
    assert Deployment.objects.filter(project=project).count() == 1


def test_deploy_checks_the_name_rules_and_the_limit(project, user, two_models):
    a, _ = two_models
    with pytest.raises(ValidationError, match="only letters, digits"):
        services.deployment_create_or_replace(project=project, name="my deployment", model=a)
    with pytest.raises(ValidationError, match="reserved"):
        services.deployment_create_or_replace(project=project, name="swap", model=a)
    for index in range(limits.DEPLOYMENTS_MAX):
        services.deployment_create_or_replace(project=project, name=f"d{index}", model=a)
    with pytest.raises(ValidationError, match="already has 10 deployments"):
        services.deployment_create_or_replace(project=project, name="eleventh", model=a)
    # Redeploying an existing name is still allowed at the limit.
    services.deployment_create_or_replace(project=project, name="d0", model=two_models[1])


def test_deploy_refuses_another_projects_model(project, user):
    other = ProjectFactory(name="other")
    foreign = model_row(other, "foreign")
    with pytest.raises(ValidationError, match="No such model"):
        services.deployment_create_or_replace(project=project, name="production", model=foreign)


def test_swap_exchanges_models(project, user, two_models):
    a, b = two_models
    services.deployment_create_or_replace(project=project, name="production", model=a)
    services.deployment_create_or_replace(project=project, name="staging", model=b)
    services.deployment_swap(project=project, first_name="staging", second_name="production", user=user)
    assert Deployment.objects.get(name="production").model == b
    assert Deployment.objects.get(name="staging").model == a


def test_a_deployed_model_cannot_be_deleted_but_the_project_can(project, two_models):
    a, _ = two_models
    services.deployment_create_or_replace(project=project, name="production", model=a)
    with pytest.raises(RestrictedError):
        a.delete()
    project.delete()
    assert not Deployment.objects.exists()


def _deployed_twice(project, model):
    services.deployment_create_or_replace(project=project, name="production", model=model)
    services.deployment_create_or_replace(project=project, name="staging", model=model)


def test_deleting_a_deployed_model_answers_409_naming_its_deployments_on_the_rest_api(project, user, two_models):
    a, b = two_models
    _deployed_twice(project, a)
    client = APIClient()
    client.force_authenticate(user)
    response = client.delete(f"/api/v1/projects/{project.name}/models/{a.pk}/")
    assert response.status_code == 409, response.content
    assert "deployment production, deployment staging" in response.json()["detail"]
    assert TrainedModel.objects.filter(pk=a.pk).exists() and Deployment.objects.count() == 2
    assert client.delete(f"/api/v1/projects/{project.name}/models/{b.pk}/").status_code == 204


def test_deleting_a_deployed_model_on_its_page_says_why_and_keeps_it(owner_client, project, two_models):
    a, _ = two_models
    _deployed_twice(project, a)
    response = owner_client.post(f"/projects/{project.name}/models/{a.pk}/delete/")
    assert response.status_code == 409
    page = response.content.decode()
    assert "still in use by deployment production, deployment staging" in page and "Delete model model-a?" in page
    assert TrainedModel.objects.filter(pk=a.pk).exists()


def test_deleting_a_deployed_model_through_azures_authoring_api_answers_409(project, user, two_models):
    a, _ = two_models
    _deployed_twice(project, a)
    _, key = api_key_create(user=user, name="azure")
    client = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    response = client.delete(
        f"/language/authoring/analyze-text/projects/{project.name}/models/model-a?api-version=2023-04-01"
    )
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "Conflict" and "deployment production, deployment staging" in error["message"]
    assert TrainedModel.objects.filter(pk=a.pk).exists()


# --- swap under load ------------------------------------------------------------------------------------------------


@dataclass
class _LabelPredictor:
    """Answers every text with one entity labelled with its model's name, so answers show which model ran."""

    label: str
    labels: tuple[str, ...] = ()
    calibration: None = None  # like a model whose dev set was too small to calibrate

    def predict(self, texts, batch_size=32, *, with_confidence=False, beam_width=16):
        return [[ScoredSpan(0, 1, self.label, 1.0)] for _ in texts]


@pytest.mark.django_db(transaction=True)
def test_swap_under_load_answers_only_old_or_new_never_an_error(monkeypatch, django_db_serialized_rollback=False):
    """Threads predict through 'production' and 'staging' while the main thread swaps them 20 times: every answer
    comes whole from model-a or model-b, and at every moment the two names serve different models."""
    project = ProjectFactory(name="load")
    a, b = model_row(project, "model-a"), model_row(project, "model-b")
    names = {a.pk: "model-a", b.pk: "model-b"}
    monkeypatch.setattr(cache, "load_predictor", lambda ref: _LabelPredictor(names[ref.model_id]))
    services.deployment_create_or_replace(project=project, name="production", model=a)
    services.deployment_create_or_replace(project=project, name="staging", model=b)

    answers: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer(deployment_name: str) -> None:
        try:
            while not stop.is_set():
                prediction = services.deployment_predict(
                    deployment=services.deployment_resolve(project=project, name=deployment_name),
                    documents=[services.DocumentInput("1", "some text")],
                )
                answers.append(prediction.documents[0].entities[0].category)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer, args=(name,)) for name in ("production", "staging", "production")]
    for thread in threads:
        thread.start()
    try:
        for _ in range(20):
            services.deployment_swap(project=project, first_name="production", second_name="staging")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert answers and set(answers) <= {"model-a", "model-b"}
    assert set(answers) == {"model-a", "model-b"}
    # 20 swaps: back where it started.
    assert Deployment.objects.get(project=project, name="production").model_id == a.pk
    # Each model was loaded once, then served from the cache.
    assert cache.model_cache().loads == 2


def test_model_cache_is_bounded_lru():
    loaded = []
    store = cache.ModelCache(
        size=2, loader=lambda ref: loaded.append(ref.model_id) or _LabelPredictor(str(ref.model_id))
    )
    refs = [cache.ModelRef(model_id=i, storage_path=f"p{i}", stamp="s") for i in range(3)]
    store.get(refs[0])
    store.get(refs[1])
    store.get(refs[0])  # 0 is now the most recent
    store.get(refs[2])  # evicts 1
    assert store.cached_ids() == [0, 2]
    store.get(refs[1])
    assert loaded == [0, 1, 2, 1]
    # A new stamp for the same id (files replaced) is a different entry.
    store.get(cache.ModelRef(model_id=2, storage_path="p2", stamp="other"))
    assert loaded[-1] == 2


# --- API --------------------------------------------------------------------------------------------------------------


def test_deployments_api_crud_and_swap(project, user, two_models):
    client = APIClient()
    client.force_authenticate(user)
    base = "/api/v1/projects/contracts/deployments/"
    response = client.post(base, {"name": "production", "model": "model-a"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["model"] == "model-a" and response.json()["deployed_by"] == "alice"
    assert client.put(f"{base}staging/", {"model": "model-b"}, format="json").status_code == 404  # POST creates
    assert client.post(base, {"name": "staging", "model": "model-a"}, format="json").status_code == 201
    redeployed = client.put(f"{base}staging/", {"trainedModelLabel": "model-b"}, format="json")
    assert redeployed.status_code == 200 and redeployed.json()["model"] == "model-b"
    assert client.post(base, {"name": "staging", "model": "model-b"}, format="json").status_code == 200
    assert [d["name"] for d in client.get(base).json()] == ["production", "staging"]

    swapped = client.post(f"{base}swap/", {"first": "production", "second": "staging"}, format="json")
    assert swapped.status_code == 200
    assert {d["name"]: d["model"] for d in swapped.json()["deployments"]} == {
        "production": "model-b",
        "staging": "model-a",
    }
    missing = client.post(f"{base}swap/", {"first": "production", "second": "nope"}, format="json")
    assert missing.status_code == 400 and "nope" in str(missing.json())

    assert client.post(base, {"name": "x", "model": "no-such-model"}, format="json").status_code == 400
    assert client.delete(f"{base}staging/").status_code == 204
    assert client.get(f"{base}staging/").status_code == 404


def test_deployments_api_editor_may_view_but_not_deploy(project, two_models, member_of):
    editor = member_of(project, Role.EDITOR)
    client = APIClient()
    client.force_authenticate(editor)
    assert client.get("/api/v1/projects/contracts/deployments/").status_code == 200
    response = client.post("/api/v1/projects/contracts/deployments/", {"name": "p", "model": "model-a"}, format="json")
    assert response.status_code == 403


# --- pages ----------------------------------------------------------------------------------------------------------


def test_pages_deploy_swap_and_delete(owner_client, project, two_models):
    a, b = two_models
    response = owner_client.post("/projects/contracts/deploy/", {"name": "production", "model": a.pk})
    assert response.status_code == 302 and response["Location"].endswith("/deployments/production/")
    owner_client.post("/projects/contracts/deploy/", {"name": "staging", "model": b.pk})
    page = owner_client.get("/projects/contracts/deployments/production/").content.decode()
    assert "model-a" in page and "micro F1" in page and "Try it" in page
    listing = owner_client.get("/projects/contracts/deployments/").content.decode()
    assert "Swap two deployments" in listing and "staging" in listing

    response = owner_client.post("/projects/contracts/deployments/swap/", {"first": "production", "second": "staging"})
    assert response.status_code == 302
    assert Deployment.objects.get(name="production").model == b

    bad = owner_client.post("/projects/contracts/deploy/", {"name": "bad name", "model": a.pk})
    assert bad.status_code == 200 and "letters, digits" in bad.content.decode()

    confirm = owner_client.get("/projects/contracts/deployments/staging/delete/").content.decode()
    assert "is kept" in confirm
    owner_client.post("/projects/contracts/deployments/staging/delete/")
    assert not Deployment.objects.filter(name="staging").exists()


def test_pages_non_member_gets_404(client, project, two_models):
    outsider_project = ProjectFactory(name="mine")
    from tests.projects.factories import UserFactory

    outsider = UserFactory(username="outsider")
    MembershipFactory(project=outsider_project, user=outsider, role=Role.OWNER)
    client.force_login(outsider)
    assert client.get("/projects/contracts/deployments/").status_code == 404


def test_deployment_pages_show_scores_as_the_evaluation_page_does(owner_client, project, two_models):
    a, _ = two_models
    owner_client.post("/projects/contracts/deploy/", {"name": "production", "model": a.pk})
    as_evaluated = pct(a.micro_f1)
    assert as_evaluated.endswith("%")

    evaluation = owner_client.get(reverse("evaluation:trained_model_detail", args=[project.name, a.pk])).content
    detail = owner_client.get("/projects/contracts/deployments/production/").content.decode()
    listing = owner_client.get("/projects/contracts/deployments/").content.decode()

    assert as_evaluated in evaluation.decode()
    assert f'<div class="stat">{as_evaluated}</div><div class="muted">micro F1</div>' in detail
    assert f"<td>{as_evaluated}</td>" in listing
    assert f"{a.micro_f1:.3f}" not in detail + listing
