"""Who may call what: every project-scoped URL (pages and API), every role, every method, generated.

The routes come from walking ``django.urls.get_resolver()``: any pattern that takes a ``project_name`` is checked,
so a URL added tomorrow is covered tomorrow. Each one must declare, in ``PERMISSIONS`` below, which methods it
answers and the permission each needs (as named in projects/roles.py); each object kwarg it takes must be
fillable from ``KWARG_VALUES``. A URL missing from either fails ``test_route_is_declared`` by name.

For every declared method the matrix then checks:
- each role (owner, editor, annotator, viewer) gets through (2xx/3xx, or 400/409/422 for our empty bodies)
  exactly when ROLE_PERMISSIONS grants the permission, and 403 otherwise;
- a signed-in non-member gets 404, never 403 (which would reveal the project) and never data;
- anonymous visitors are sent to the login page (pages) or refused with 401/403 (API);
- on API URLs, a project API key gets 403 unless the permission is PREDICT, and another project's key gets 404;
- an object id (or username) of a FOREIGN project, where the same owner is also owner, put into this project's
  URL gives 404 — one kwarg at a time, so a view that checks the document but not the span is caught;
- methods a URL does not declare are answered 405 (to the owner), so no write slips in undeclared.

Data is built once for the module; every test runs in a transaction that is rolled back, so DELETEs are safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from evaluation.models import LearningCurve, PreannotationJob, Prediction, PretrainingRun
from labeling.models import AnnotationAssignment, AnnotatorSpan, ImportJob, Suggestion
from projects import services
from projects.models import ApiKey, Invitation, Membership, Project
from projects.roles import ROLE_PERMISSIONS, Permission, Role
from serving.services import deployment_create_or_replace
from tests.evaluation.factories import finished_model
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.serving.factories import model_row as serving_model_row

P = Permission
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Needs:
    """One declared call: the permission it requires, and the body to send (a dict; JSON for the API)."""

    permission: Permission
    data: dict[str, Any] | None = None
    label: str = ""
    multipart: bool = False  # an API call that takes uploads rather than JSON


def needs(
    permission: Permission, data: dict[str, Any] | None = None, label: str = "", multipart: bool = False
) -> Needs:
    return Needs(permission, data, label, multipart)


# URL name -> method -> what the call needs. A method may list several cases when the body decides the permission.
# Adding a project-scoped URL? Add it here; test_route_is_declared tells you when you forgot.
PERMISSIONS: dict[str, dict[str, Needs | list[Needs]]] = {
    # projects pages
    "projects:project_detail": {"GET": needs(P.VIEW)},
    "projects:project_edit": {"GET": needs(P.EDIT_PROJECT), "POST": needs(P.EDIT_PROJECT)},
    "projects:project_delete": {"GET": needs(P.DELETE_PROJECT), "POST": needs(P.DELETE_PROJECT)},
    "projects:member_list": {"GET": needs(P.VIEW)},
    "projects:member_update": {"POST": needs(P.MANAGE_MEMBERS, {"role": "annotator"})},
    "projects:member_remove": {"POST": needs(P.MANAGE_MEMBERS)},
    "projects:invitation_create": {"POST": needs(P.MANAGE_MEMBERS, {"role": "viewer"})},
    "projects:invitation_revoke": {"POST": needs(P.MANAGE_MEMBERS)},
    "projects:entity_type_list": {"GET": needs(P.VIEW), "POST": needs(P.MANAGE_SCHEMA, {"name": "Added"})},
    "entity_types:merge": {"GET": needs(P.MANAGE_SCHEMA), "POST": needs(P.MANAGE_SCHEMA)},
    "projects:entity_type_update": {"GET": needs(P.MANAGE_SCHEMA), "POST": needs(P.MANAGE_SCHEMA)},
    "projects:entity_type_row": {"GET": needs(P.VIEW)},
    "entity_types:delete": {"GET": needs(P.MANAGE_SCHEMA), "POST": needs(P.MANAGE_SCHEMA)},
    # labeling pages
    "labeling:document_list": {"GET": needs(P.VIEW)},
    "labeling:document_upload": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:document_bulk_delete": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:document_detail": {"GET": needs(P.VIEW)},
    "labeling:document_update": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:document_delete": {"GET": needs(P.MANAGE_DOCUMENTS), "POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:document_annotate": {"GET": needs(P.VIEW)},
    "labeling:document_next": {"GET": needs(P.VIEW)},
    "labeling:document_bulk_assign": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:label_stats": {"GET": needs(P.VIEW)},
    "labeling:document_import": {"GET": needs(P.MANAGE_DOCUMENTS), "POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:import_job_detail": {"GET": needs(P.MANAGE_DOCUMENTS)},
    "labeling:import_job_retry": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "labeling:document_export": {"GET": needs(P.MANAGE_DOCUMENTS)},
    # agreement pages
    "agreement:report": {"GET": needs(P.VIEW)},
    "agreement:assignment_list": {"GET": needs(P.MANAGE_MEMBERS), "POST": needs(P.MANAGE_MEMBERS)},
    "agreement:adjudicate": {"GET": needs(P.MANAGE_DOCUMENTS), "POST": needs(P.MANAGE_DOCUMENTS)},
    # agreement API: each role acts on its OWN copy (World's ``own``), only the annotator may change a copy
    "api-annotator-span-list": {
        "POST": needs(P.ANNOTATE, {"entity_type": "{entity_type_id}", "start": 9, "end": 15}),
    },
    "api-annotator-span-detail": {
        "PATCH": needs(P.ANNOTATE, {"entity_type": "{other_entity_type_id}"}),
        "DELETE": needs(P.ANNOTATE),
    },
    "api-assignment-submit": {"POST": needs(P.ANNOTATE)},
    # pre-annotation
    "api-suggestion-list": {"GET": needs(P.VIEW)},
    "api-suggestion-accept": {"POST": needs(P.ANNOTATE)},
    "api-suggestion-reject": {"POST": needs(P.ANNOTATE)},
    "api-suggestion-accept-all": {"POST": needs(P.ANNOTATE)},
    "api-suggestion-reject-all": {"POST": needs(P.ANNOTATE)},
    "api-suggestion-restore": {"POST": needs(P.ANNOTATE, {"suggestions": ["{suggestion_id}"]})},
    "preannotation:job_list": {
        "GET": needs(P.VIEW),
        "POST": needs(P.TRAIN, {"model": "{model_id}", "scope": "untagged", "min_confidence": "0.5"}),
    },
    "preannotation:job_detail": {"GET": needs(P.VIEW)},
    # consistency checker
    "consistency:check": {"GET": needs(P.VIEW)},
    "consistency:fix": {"POST": needs(P.ANNOTATE)},
    # learning curves
    "curves:learning_curve_list": {"GET": needs(P.VIEW)},
    "curves:learning_curve_start": {"POST": needs(P.TRAIN, {"percents": "50", "max_steps": 30})},
    "curves:learning_curve_detail": {"GET": needs(P.VIEW)},
    # pretraining: who may train may pretrain
    "pretraining:run_list": {"GET": needs(P.VIEW), "POST": needs(P.TRAIN, {"max_steps": 5, "seed": 0})},
    "pretraining:run_detail": {"GET": needs(P.VIEW)},
    "pretraining:run_delete": {"POST": needs(P.TRAIN)},
    "speeds:table": {"GET": needs(P.VIEW)},
    "speeds:measure": {"POST": needs(P.TRAIN, {"representation": "cnn"})},
    "evaluation_api:pretraining_run_list": {"GET": needs(P.VIEW), "POST": needs(P.TRAIN, {"max_steps": 5})},
    "evaluation_api:pretraining_run_detail": {"GET": needs(P.VIEW), "DELETE": needs(P.TRAIN)},
    # audit and lineage
    "audit:audit_log": {"GET": needs(P.VIEW)},
    "audit:document_history": {"GET": needs(P.VIEW)},
    "audit:api-event-list": {"GET": needs(P.VIEW)},
    "lineage:snapshot_detail": {"GET": needs(P.VIEW)},
    "lineage:document_models": {"GET": needs(P.VIEW)},
    # projects API
    "projects_api:project_detail": {
        "GET": needs(P.VIEW),
        "PATCH": needs(P.EDIT_PROJECT, {"description": "changed"}),
        "DELETE": needs(P.DELETE_PROJECT),
    },
    "projects_api:project_stats": {"GET": needs(P.VIEW)},
    "projects_api:member_list": {
        "GET": needs(P.VIEW),
        "POST": needs(P.MANAGE_MEMBERS, {"username": "matrix-loner", "role": "viewer"}),
    },
    "projects_api:member_detail": {
        "GET": needs(P.VIEW),
        "PATCH": needs(P.MANAGE_MEMBERS, {"role": "annotator"}),
        "DELETE": needs(P.MANAGE_MEMBERS),
    },
    "projects_api:invitation_create": {"POST": needs(P.MANAGE_MEMBERS, {"role": "viewer"})},
    "projects_api:entity_type_list": {"GET": needs(P.VIEW), "POST": needs(P.MANAGE_SCHEMA, {"name": "Added"})},
    "entity_types:api-detail": {
        "GET": needs(P.VIEW),
        "PATCH": needs(P.MANAGE_SCHEMA, {"description": "changed"}),
        "DELETE": needs(P.MANAGE_SCHEMA),
    },
    "entity_types:api-merge": {"POST": needs(P.MANAGE_SCHEMA, {"into": "{other_entity_type_id}"})},
    # labeling API
    "api-document-list": {"GET": needs(P.VIEW), "POST": needs(P.MANAGE_DOCUMENTS, multipart=True)},
    "api-document-detail": {
        "GET": needs(P.VIEW),
        "PATCH": [
            needs(P.MANAGE_DOCUMENTS, {"split": "test"}, label="split"),
            needs(P.ANNOTATE, {"status": "tagged"}, label="status"),
            needs(P.MANAGE_DOCUMENTS, {"assigned_to": None}, label="assigned_to"),
        ],
        "DELETE": needs(P.MANAGE_DOCUMENTS),
    },
    "api-import-list": {"GET": needs(P.MANAGE_DOCUMENTS), "POST": needs(P.MANAGE_DOCUMENTS, multipart=True)},
    "api-import-detail": {"GET": needs(P.MANAGE_DOCUMENTS)},
    "api-export": {"GET": needs(P.MANAGE_DOCUMENTS)},
    "api-span-list": {
        "GET": needs(P.VIEW),
        "POST": needs(P.ANNOTATE, {"entity_type": "{entity_type_id}", "start": 9, "end": 15}),
    },
    "api-span-detail": {
        "PATCH": needs(P.ANNOTATE, {"entity_type": "{other_entity_type_id}"}),
        "DELETE": needs(P.ANNOTATE),
    },
    # evaluation pages
    "evaluation:training_run_list": {"GET": needs(P.VIEW)},
    "evaluation:training_run_start": {"POST": needs(P.TRAIN, {"max_steps": 30})},
    "evaluation:training_run_detail": {"GET": needs(P.VIEW)},
    "evaluation:training_run_cancel": {"POST": needs(P.TRAIN)},
    "evaluation:trained_model_list": {"GET": needs(P.VIEW)},
    "evaluation:trained_model_retrain": {"GET": needs(P.TRAIN), "POST": needs(P.TRAIN)},
    "evaluation:trained_model_review_fix": {"POST": needs(P.ANNOTATE)},
    "evaluation:trained_model_compare": {"GET": needs(P.EVALUATE)},
    "evaluation:trained_model_detail": {"GET": needs(P.VIEW)},
    "evaluation:trained_model_review": {"GET": needs(P.VIEW)},
    "evaluation:trained_model_delete": {"GET": needs(P.TRAIN), "POST": needs(P.TRAIN)},
    # evaluation API
    "evaluation_api:training_run_list": {"GET": needs(P.VIEW), "POST": needs(P.TRAIN, {"max_steps": 30})},
    "evaluation_api:training_run_detail": {"GET": needs(P.VIEW)},
    "evaluation_api:training_run_cancel": {"POST": needs(P.TRAIN)},
    "evaluation_api:trained_model_list": {"GET": needs(P.VIEW)},
    "evaluation_api:trained_model_detail": {"GET": needs(P.VIEW), "DELETE": needs(P.TRAIN)},
    "evaluation_api:evaluation_detail": {"GET": needs(P.VIEW)},
    # serving pages
    "serving:deployment_list": {"GET": needs(P.VIEW)},
    "serving:deployment_deploy": {"GET": needs(P.DEPLOY), "POST": needs(P.DEPLOY)},
    "serving:deployment_swap": {"GET": needs(P.DEPLOY), "POST": needs(P.DEPLOY)},
    "serving:deployment_detail": {"GET": needs(P.VIEW)},
    "serving:deployment_delete": {"GET": needs(P.DEPLOY), "POST": needs(P.DEPLOY)},
    "serving:try_it": {"GET": needs(P.PREDICT), "POST": needs(P.PREDICT)},
    "serving:next_steps": {"GET": needs(P.VIEW)},
    # serving API
    "serving_api:deployment_list": {
        "GET": needs(P.VIEW),
        "POST": needs(P.DEPLOY, {"name": "matrix-new", "model": "{deployed_model_name}"}),
    },
    "serving_api:deployment_swap": {"POST": needs(P.DEPLOY)},
    "serving_api:deployment_detail": {
        "GET": needs(P.VIEW),
        "PUT": needs(P.DEPLOY, {"model": "{deployed_model_name}"}),
        "DELETE": needs(P.DEPLOY),
    },
    "serving_api:deployment_predict": {"POST": needs(P.PREDICT)},
    # portability pages and API (Azure's authoring routes take Azure's {projectName}: tests/portability covers them)
    # Exporting, archiving and cloning each copy the whole project out of its members' control: owners and editors.
    "portability:project_clone": {"GET": needs(P.MANAGE_DOCUMENTS), "POST": needs(P.MANAGE_DOCUMENTS)},
    "portability:project_archive": {"GET": needs(P.MANAGE_DOCUMENTS)},
    "portability:project_data": {"GET": needs(P.VIEW)},
    "portability_api:project_clone": {"POST": needs(P.MANAGE_DOCUMENTS)},
    "portability_api:project_archive": {"GET": needs(P.MANAGE_DOCUMENTS)},
    "portability_api:project_data": {"GET": needs(P.VIEW)},
}

ROLES = (Role.OWNER, Role.EDITOR, Role.ANNOTATOR, Role.VIEWER)
# Statuses that show the permission check let the caller through; 400/409/422 are our minimal bodies' fault.
PASSED = frozenset({400, 409, 422})


# --- the routes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]
    callback: Any = field(compare=False)

    @property
    def drf_view(self) -> type[APIView] | None:
        view_class = getattr(self.callback, "cls", None)
        return view_class if isinstance(view_class, type) and issubclass(view_class, APIView) else None

    @property
    def handled_methods(self) -> set[str]:
        """The methods a DRF view answers (a router's ViewSet says so in ``actions``)."""
        actions = getattr(self.callback, "actions", None)
        if actions:
            return {method.upper() for method in actions} & set(METHODS)
        assert self.drf_view is not None
        return {m.upper() for m in self.drf_view.http_method_names if hasattr(self.drf_view, m)} & set(METHODS)

    @property
    def object_kwargs(self) -> tuple[str, ...]:
        return tuple(kwarg for kwarg in self.kwargs if kwarg != "project_name")


def _kwarg_names(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:  # RoutePattern: path("<int:x>/")
        return list(converters)
    return list(pattern.regex.groupindex)  # RegexPattern: re_path(r"(?P<x>...)")


def _walk(resolver: URLResolver, namespace: str = "", kwargs: tuple[str, ...] = ()) -> list[Route]:
    routes = []
    for entry in resolver.url_patterns:
        names = (*kwargs, *_kwarg_names(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            routes += _walk(entry, inner, names)
        elif isinstance(entry, URLPattern) and "project_name" in names:
            name = entry.name if not namespace else f"{namespace}:{entry.name}"
            routes.append(
                Route(name=name if entry.name else f"<unnamed {entry.pattern}>", kwargs=names, callback=entry.callback)
            )
    return routes


ROUTES = _walk(get_resolver())


# --- the data, built once ----------------------------------------------------------------------------------------


@dataclass
class ProjectObjects:
    project: Project
    values: dict[str, Any]  # URL kwarg -> value, and placeholders for request bodies
    # actor -> values of objects that belong to that user (an agreement copy only its annotator may change)
    own: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class World:
    home: ProjectObjects
    foreign: ProjectObjects
    users: dict[str, Any]
    keys: dict[str, str]  # "home"/"foreign" -> raw project API key


# URL kwarg -> the key in ProjectObjects.values that fills it. A URL with a new kwarg (say ``model_id``) fails
# test_route_is_declared until the kwarg is added here and _populate creates such an object in each project.
# Ambiguous names (a bare ``id``) are deliberately absent: name URL kwargs after what they point at.
KWARG_VALUES: dict[str, str] = {
    "project_name": "project_name",
    "entity_type_id": "entity_type_id",
    "document_id": "document_id",
    "span_id": "span_id",
    "membership_id": "membership_id",
    "username": "username",
    "invitation_id": "invitation_id",
    "api_key_id": "api_key_id",
    "run_id": "run_id",
    "model_id": "model_id",
    "deployment_name": "deployment_name",
    "import_job_id": "import_job_id",
    "snapshot_id": "snapshot_id",
    "curve_id": "curve_id",
    "suggestion_id": "suggestion_id",
    "preannotation_job_id": "preannotation_job_id",
    "assignment_id": "assignment_id",
    "annotator_span_id": "annotator_span_id",
    "prediction_id": "prediction_id",
    "pretraining_run_id": "pretraining_run_id",
}


def _populate(project: Project, target: Any, owner: Any) -> ProjectObjects:
    """One object of each kind the URLs name, all inside ``project``."""
    entity_type = EntityTypeFactory(project=project, name="Person")
    other_entity_type = EntityTypeFactory(project=project, name="Place", color="#ffb703")
    document = DocumentFactory(project=project, text=f"Alice Smith of {project.name} went to Paris.")
    span = SpanFactory(document=document, entity_type=entity_type, start=0, end=5)
    membership = Membership.objects.get(project=project, user=target)
    invitation, _ = services.invitation_create(project=project, role=Role.VIEWER, created_by=owner)
    api_key, _ = services.api_key_create(user=owner, name=f"{project.name} key", project=project)
    trained_model = finished_model(project, document)
    curve = LearningCurve.objects.create(
        project=project, snapshot=trained_model.run.snapshot, percents=[50, 100], status=LearningCurve.Status.SUCCEEDED
    )
    # A model of its own for the deployment, so deleting trained_model stays possible; distinct deployment names
    # per project, so a foreign name in this project's URL is really foreign.
    deployed_model = serving_model_row(project, "matrix-deployed")
    deployment, _ = deployment_create_or_replace(project=project, name=f"{project.name}-dep", model=deployed_model)
    return ProjectObjects(
        project=project,
        values={
            "project_name": project.name,
            "entity_type_id": entity_type.pk,
            "other_entity_type_id": other_entity_type.pk,
            "document_id": document.pk,
            "span_id": span.pk,
            "membership_id": membership.pk,
            "username": target.username,
            "invitation_id": invitation.pk,
            "api_key_id": api_key.pk,
            "run_id": trained_model.run_id,
            "model_id": trained_model.pk,
            "snapshot_id": trained_model.run.snapshot_id,
            "prediction_id": Prediction.objects.get(evaluation__model=trained_model).pk,
            "curve_id": curve.pk,
            "pretraining_run_id": PretrainingRun.objects.create(
                project=project, language="en", status=PretrainingRun.Status.SUCCEEDED
            ).pk,
            "suggestion_id": Suggestion.objects.create(
                document=document, entity_type=other_entity_type, start=15, end=20, confidence=0.8, model_name="m"
            ).pk,
            "preannotation_job_id": PreannotationJob.objects.create(
                project=project, model=trained_model, document_ids=[document.pk], total=1
            ).pk,
            "deployment_name": deployment.name,
            "deployed_model_name": deployed_model.name,
            "import_job_id": ImportJob.objects.create(project=project, format="jsonl", file_name="matrix.jsonl").pk,
        },
    )


def _give_own_copies(objects: ProjectObjects, members: dict[str, Any]) -> None:
    """An agreement copy of the document, with one tag, for each member; the owner's fills the default values."""
    for actor, member in members.items():
        copy = AnnotationAssignment.objects.create(document_id=objects.values["document_id"], annotator=member)
        tag = AnnotatorSpan.objects.create(
            assignment=copy, entity_type_id=objects.values["entity_type_id"], start=0, end=5
        )
        objects.own[actor] = {"assignment_id": copy.pk, "annotator_span_id": tag.pk}
    objects.values.update(objects.own["owner"])


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        users = {role.value: UserFactory(username=f"matrix-{role.value}") for role in ROLES}
        users["stranger"] = UserFactory(username="matrix-stranger")
        users["target"] = UserFactory(username="matrix-target")
        users["foreign-target"] = UserFactory(username="matrix-foreign-target")
        UserFactory(username="matrix-loner")  # a user with no project, for "add member"

        home = ProjectFactory(name="matrix-home", created_by=users["owner"])
        for role in ROLES:
            MembershipFactory(project=home, user=users[role.value], role=role)
        MembershipFactory(project=home, user=users["target"], role=Role.VIEWER)

        # The home owner owns the foreign project too, so only the URL's scoping can keep its objects out.
        foreign = ProjectFactory(name="matrix-foreign", created_by=users["owner"])
        MembershipFactory(project=foreign, user=users["owner"], role=Role.OWNER)
        MembershipFactory(project=foreign, user=users["stranger"], role=Role.OWNER)
        MembershipFactory(project=foreign, user=users["foreign-target"], role=Role.VIEWER)

        keys = {
            "home": services.api_key_create(user=users["owner"], name="home predict", project=home)[1],
            "foreign": services.api_key_create(user=users["owner"], name="foreign predict", project=foreign)[1],
        }
        built = World(
            home=_populate(home, users["target"], users["owner"]),
            foreign=_populate(foreign, users["foreign-target"], users["owner"]),
            users=users,
            keys=keys,
        )
        _give_own_copies(built.home, {role.value: users[role.value] for role in ROLES})
        _give_own_copies(built.foreign, {"owner": users["owner"]})
    yield built
    with django_db_blocker.unblock():
        ApiKey.objects.filter(project__in=[home, foreign]).delete()
        Invitation.objects.filter(project__in=[home, foreign]).delete()
        Project.objects.filter(pk__in=[home.pk, foreign.pk]).delete()
        type(users["owner"]).objects.filter(username__startswith="matrix-").delete()


# --- building and sending requests --------------------------------------------------------------------------------


def _cases(route: Route) -> dict[str, list[Needs]]:
    declared = PERMISSIONS.get(route.name, {})
    return {method: entry if isinstance(entry, list) else [entry] for method, entry in declared.items()}


def _url(route: Route, values: dict[str, Any]) -> str:
    return reverse(route.name, kwargs={kwarg: values[KWARG_VALUES[kwarg]] for kwarg in route.kwargs})


def _body(data: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    # "{entity_type_id}" in a declared body becomes that id, so bodies can point at real objects.
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return values[value[1:-1]]
        return value

    return {key: fill(value) for key, value in (data or {}).items()}


def _send(client: Client, route: Route, method: str, url: str, data: dict[str, Any], multipart: bool = False) -> Any:
    if route.drf_view is not None and not multipart:
        if method == "GET":
            return client.get(url)
        return client.generic(method, url, json.dumps(data), content_type="application/json")
    if method == "GET":
        return client.get(url)
    if method == "POST":
        return client.post(url, data)
    return client.generic(method, url)


def _describe(response: Any) -> str:
    body = response.content[:300].decode(errors="replace") if response.content else ""
    location = response.get("Location", "")
    return f"{response.status_code} {location} {body}".strip()


def _passed(response: Any) -> bool:
    if response.status_code in PASSED:
        return True
    if 300 <= response.status_code < 400:
        return not response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    return 200 <= response.status_code < 300


# --- parametrisation ----------------------------------------------------------------------------------------------


def _declared_routes() -> list[Route]:
    return [r for r in ROUTES if r.name in PERMISSIONS and all(k in KWARG_VALUES for k in r.kwargs)]


def _matrix_params() -> list[Any]:
    params = []
    for route in _declared_routes():
        for method, cases in _cases(route).items():
            for index, case in enumerate(cases):
                suffix = f"[{case.label or index}]" if len(cases) > 1 else ""
                actors = [*(r.value for r in ROLES), "non-member", "anonymous"]
                if route.drf_view is not None:
                    actors += ["project-key", "other-project-key"]
                actors += [f"foreign-{kwarg}" for kwarg in route.object_kwargs]
                for actor in actors:
                    params.append(pytest.param(route, method, case, actor, id=f"{route.name}-{method}{suffix}-{actor}"))
    return params


def _routes_with_undeclared_methods() -> list[Any]:
    return [
        pytest.param(route, id=route.name)
        for route in _declared_routes()
        if any(method not in _cases(route) for method in METHODS)
    ]


# --- the tests ----------------------------------------------------------------------------------------------------


def test_the_walk_finds_the_project_urls():
    names = {route.name for route in ROUTES}
    assert {"projects_api:project_detail", "entity_types:api-detail"} <= names


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_route_is_declared(route):
    assert not route.name.startswith("<unnamed"), f"{route.name}: give the URL a name so it can declare itself"
    assert route.name in PERMISSIONS, (
        f"{route.name} takes a project_name but declares no permissions: add it to PERMISSIONS in "
        "tests/test_permission_matrix.py (method -> needs(Permission.X))"
    )
    unknown = [kwarg for kwarg in route.kwargs if kwarg not in KWARG_VALUES]
    assert not unknown, (
        f"{route.name} takes {unknown}, which the matrix cannot fill: add them to KWARG_VALUES and _populate in "
        "tests/test_permission_matrix.py"
    )
    if route.drf_view is not None:
        handled = route.handled_methods
        assert handled == set(_cases(route)), (
            f"{route.name}: the view handles {sorted(handled)} but PERMISSIONS declares {sorted(_cases(route))}"
        )


def test_no_stale_declarations():
    names = {route.name for route in ROUTES}
    assert sorted(set(PERMISSIONS) - names) == [], "PERMISSIONS names URLs that no longer exist"


@pytest.mark.parametrize(("route", "method", "case", "actor"), _matrix_params())
def test_permission_matrix(db, world, route, method, case, actor):
    client = Client()
    values = world.home.values
    if actor in {r.value for r in ROLES}:
        client.force_login(world.users[actor])
        allowed = case.permission in ROLE_PERMISSIONS[Role(actor)]
        values = {**values, **world.home.own.get(actor, {})}
    elif actor == "non-member":
        client.force_login(world.users["stranger"])
    elif actor == "project-key":
        client = Client(headers={"Authorization": f"Api-Key {world.keys['home']}"})
    elif actor == "other-project-key":
        client = Client(headers={"Authorization": f"Api-Key {world.keys['foreign']}"})
    elif actor.startswith("foreign-"):
        client.force_login(world.users["owner"])  # owner of both projects
        kwarg = actor.removeprefix("foreign-")
        values = {**values, KWARG_VALUES[kwarg]: world.foreign.values[KWARG_VALUES[kwarg]]}

    url = _url(route, values)
    response = _send(client, route, method, url, _body(case.data, world.home.values), case.multipart)
    what = f"{actor} {method} {url} ({route.name}, needs {case.permission.value})"

    if actor in {r.value for r in ROLES}:
        if allowed:
            assert _passed(response), f"{what} should pass the permission check, got {_describe(response)}"
        else:
            assert response.status_code == 403, f"{what} should be 403, got {_describe(response)}"
    elif actor == "anonymous":
        if route.drf_view is not None:
            assert response.status_code in (401, 403), f"{what} should be refused, got {_describe(response)}"
        else:
            login = resolve_url(settings.LOGIN_URL)
            assert response.status_code == 302 and response["Location"].startswith(login), (
                f"{what} should redirect to the login page, got {_describe(response)}"
            )
    elif actor == "project-key":
        if case.permission is P.PREDICT:
            assert _passed(response), f"{what} should pass with the project's key, got {_describe(response)}"
        else:
            assert response.status_code == 403, f"{what} with a project key should be 403, got {_describe(response)}"
    else:  # non-member, other project's key, foreign object ids
        assert response.status_code == 404, f"{what} should be 404, got {_describe(response)}"


@pytest.mark.parametrize("route", _routes_with_undeclared_methods())
def test_undeclared_methods_are_refused(db, world, route):
    client = Client()
    client.force_login(world.users["owner"])
    url = _url(route, world.home.values)

    answered = {}
    for method in METHODS:
        if method not in _cases(route):
            response = _send(client, route, method, url, {})
            if response.status_code != 405:
                answered[method] = response.status_code

    assert answered == {}, (
        f"owner's requests to {url} ({route.name}) were answered {answered}, but PERMISSIONS declares no such "
        "methods for it: declare them, or restrict the view's methods (@require_GET / @require_http_methods)"
    )
