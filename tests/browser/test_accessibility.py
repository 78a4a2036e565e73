"""axe-core on every page of the app: no violation of impact serious or critical.

The pages are enumerated from the URL conf, so a new page is checked as soon as it exists: every named route that
answers HTML is visited (its URL kwargs filled from one project holding data of every kind), unless it is listed in
NOT_VISITED with the reason. axe-core is vendored for these tests only (tests/browser/vendor/axe-core/README.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from projects.roles import Role

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

# Prefixes of routes that answer something other than an HTML page of ours.
NOT_PAGES = (
    "admin/",  # Django's own admin, not our templates
    "api/v1/",  # JSON
    "api/schema/",  # the OpenAPI document (YAML/JSON)
    "language/",  # Azure-compatible JSON APIs
)

# Named HTML routes that are not visited, with the reason. Each entry must still exist (test_no_stale_exemptions).
NOT_VISITED: dict[str, str] = {
    "api-docs": "Swagger UI's own markup (the vendored drf-spectacular-sidecar bundle), not our templates",
    "logout": "POST-only: signs out and redirects",
    "projects:member_update": "POST-only: changes a role and redirects to the members page",
    "projects:member_remove": "POST-only: removes a member and redirects",
    "projects:invitation_create": "POST-only: creates a link shown on the members page",
    "projects:invitation_revoke": "POST-only: redirects to the members page",
    "projects:entity_type_row": "an htmx fragment (one table row) of the entity types page, checked there",
    "projects:api_key_revoke": "POST-only: redirects to the API keys page",
    "labeling:document_upload": "POST-only: redirects to the documents page",
    "labeling:document_bulk_assign": "POST-only: redirects to the documents page",
    "labeling:document_bulk_delete": "POST-only: its confirmation page is checked by a POST in test_bulk_delete_page",
    "labeling:document_update": "POST-only: redirects to the document page",
    "labeling:import_job_retry": "POST-only: redirects to the import job page",
    "labeling:document_next": "a redirect to the tagging page, checked as document_annotate",
    "consistency:fix": "POST-only: redirects to the consistency page",
    "evaluation:training_run_start": "POST-only: redirects to the training page",
    "evaluation:training_run_cancel": "POST-only: redirects to the training page",
    "evaluation:trained_model_review_fix": "POST-only: makes the model's predictions suggestions, redirects to tagging",
    "curves:learning_curve_start": "POST-only: redirects to the learning curve page",
    "pretraining:run_delete": "POST-only: redirects to the pretraining page",
    "speeds:measure": "POST-only: redirects to the training page's table of representations",
    "speeds:table": "an htmx fragment of the training page (a plain GET redirects there), checked there",
    "portability:project_archive": "a download (a .zip file), not a page",
    "favicon": "a redirect to the icon file, not a page",
}

# Query strings that put a page in the state worth checking (a filled form, a chosen comparison).
QUERIES: dict[str, str] = {
    "evaluation:trained_model_compare": "?a={model_id}&b={other_model_id}",
    "evaluation:trained_model_review": "?mismatches=1",
}


@dataclass(frozen=True)
class PageRoute:
    name: str
    kwargs: tuple[str, ...]


def _kwarg_names(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    return list(converters) if converters is not None else list(pattern.regex.groupindex)


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()) -> list[Any]:
    found: list[Any] = []
    for entry in resolver.url_patterns:
        path = prefix + str(entry.pattern).removeprefix("^")  # a re_path reads "^api/v1/..."
        names = (*kwargs, *_kwarg_names(entry.pattern))
        if path.startswith(NOT_PAGES):
            continue
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            found += _walk(entry, path, inner, names)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"unnamed route {path!r}: name it so this test can list or exempt it"
            found.append(PageRoute(f"{namespace}:{entry.name}" if namespace else entry.name, names))
    return found


def page_routes() -> list[PageRoute]:
    return _walk(get_resolver())


def test_every_page_route_is_visited_or_exempted_with_a_reason():
    """Fails when a route needs a kwarg the test data below cannot fill: add the object, or exempt the route."""
    unfillable = [
        f"{route.name} needs {sorted(set(route.kwargs) - set(VALUE_NAMES))}"
        for route in page_routes()
        if route.name not in NOT_VISITED and not set(route.kwargs) <= set(VALUE_NAMES)
    ]
    assert unfillable == [], unfillable


def test_no_stale_exemptions():
    names = {route.name for route in page_routes()}
    assert sorted(set(NOT_VISITED) - names) == []
    assert sorted(set(QUERIES) - names) == []


# --- the data ------------------------------------------------------------------------------------------------------

# The URL kwargs the project below can fill; the anonymous pages are those that work without signing in.
VALUE_NAMES = (
    "project_name",
    "entity_type_id",
    "document_id",
    "membership_id",
    "invitation_id",
    "api_key_id",
    "run_id",
    "model_id",
    "deployment_name",
    "import_job_id",
    "snapshot_id",
    "curve_id",
    "preannotation_job_id",
    "pretraining_run_id",
    "token",
)
ANONYMOUS_PAGES = ("login", "projects:signup", "projects:invitation_accept")


def _project_with_data() -> tuple[dict[str, Any], dict[str, Any]]:
    """A member of each role and a project holding tagged documents, types, an invitation, an API key, a trained
    model with its evaluation and a comparison partner, a deployment, a learning curve, a suggestion, agreement copies,
    a pre-annotation, a pretraining and an import."""
    from evaluation.models import LearningCurve, PreannotationJob, Prediction, PretrainingRun
    from labeling.models import AnnotationAssignment, AnnotatorSpan, ImportJob, Suggestion
    from projects import services
    from projects.models import Membership
    from serving.services import deployment_create_or_replace
    from tests.evaluation.conftest import make_trainable
    from tests.evaluation.factories import finished_model
    from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory
    from tests.serving.factories import model_row

    users = {role: UserFactory(username=f"axe-{role.value}") for role in Role}
    owner, editor = users[Role.OWNER], users[Role.EDITOR]
    project = ProjectFactory(name="axe-trips", created_by=owner)
    for role, member in users.items():
        MembershipFactory(project=project, user=member, role=role)
    documents = make_trainable(project, owner)
    document = documents[0]
    EntityTypeFactory(project=project, name="Person", color="#f4a3a8", hotkey="p")
    entity_type = project.entity_types.order_by("pk").first()
    invitation, token = services.invitation_create(project=project, role=Role.VIEWER, created_by=owner)
    api_key, _ = services.api_key_create(user=owner, name="axe key", project=project)
    trained_model = finished_model(project, document, name="axe-model")
    other_model = model_row(project, "axe-other")
    deployment, _ = deployment_create_or_replace(project=project, name="production", model=other_model)
    curve = LearningCurve.objects.create(
        project=project, snapshot=trained_model.run.snapshot, percents=[50, 100], status=LearningCurve.Status.SUCCEEDED
    )
    Suggestion.objects.create(
        document=documents[1], entity_type=entity_type, start=0, end=4, confidence=0.8, model_name=trained_model.name
    )
    for annotator in (owner, editor):
        copy = AnnotationAssignment.objects.create(document=document, annotator=annotator)
        AnnotatorSpan.objects.create(assignment=copy, entity_type=entity_type, start=0, end=5)
    values = {
        "project_name": project.name,
        "entity_type_id": entity_type.pk,
        "document_id": document.pk,
        "membership_id": Membership.objects.get(project=project, user=editor).pk,
        "invitation_id": invitation.pk,
        "api_key_id": api_key.pk,
        "run_id": trained_model.run_id,
        "model_id": trained_model.pk,
        "other_model_id": other_model.pk,
        "deployment_name": deployment.name,
        "import_job_id": ImportJob.objects.create(project=project, format="jsonl", file_name="axe.jsonl").pk,
        "snapshot_id": trained_model.run.snapshot_id,
        "curve_id": curve.pk,
        "preannotation_job_id": PreannotationJob.objects.create(
            project=project, model=trained_model, document_ids=[document.pk], total=1
        ).pk,
        "pretraining_run_id": PretrainingRun.objects.create(
            project=project, language="en", status=PretrainingRun.Status.SUCCEEDED, step=150
        ).pk,
        "token": token,
        "suggested_document_id": documents[1].pk,
        "prediction_id": Prediction.objects.filter(evaluation__model=trained_model).values_list("pk", flat=True)[0],
    }
    return users, values


def _url(route: PageRoute, values: dict[str, Any]) -> str:
    url = reverse(route.name, kwargs={kwarg: values[kwarg] for kwarg in route.kwargs})
    return url + QUERIES.get(route.name, "").format(**values)


@pytest.mark.django_db
def test_exempted_post_only_routes_refuse_get(client):
    """Keeps the reasons above true: a route exempted as POST-only has no page to check."""
    users, values = _project_with_data()
    client.force_login(users[Role.OWNER])
    routes = {route.name: route for route in page_routes()}
    answers = {
        name: client.get(_url(routes[name], values)).status_code
        for name, reason in NOT_VISITED.items()
        if reason.startswith("POST-only")
    }
    assert answers and set(answers.values()) == {405}, answers


# --- running axe ---------------------------------------------------------------------------------------------------


def _violations(page: Any, where: str) -> list[str]:
    """The serious and critical axe violations on the page as it is now, one line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not added as a <script>: the page's Content-Security-Policy,
        # which allows no inline script, does not apply, and nothing of axe is ever served by the app.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = json.dumps(node["target"])
            lines.append(f"{where}: {violation['id']} ({violation['impact']}) at {target}: {violation['help']}")
    return lines


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(user=None)`` -> a page of a fresh context, signed in as ``user`` when given."""
    from django.conf import settings
    from django.test import Client

    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(user: Any = None, width: int = 1366) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _visit(page: Any, url: str) -> list[str]:
    response = page.goto(url)
    if response is None or not response.ok:
        status = response.status if response else "nothing"
        return [f"{url}: answered {status}, not a page (exempt it in NOT_VISITED, with the reason)"]
    if "text/html" not in response.headers.get("content-type", ""):
        return [f"{url}: answered {response.headers.get('content-type')}, not an HTML page"]
    return _violations(page, url)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "phone"])
def test_every_page_has_no_serious_violation(new_page, settings, width):
    settings.NERLAB_SELF_REGISTRATION = True  # the sign-up page exists only where an installation opens it
    users, values = _project_with_data()
    owner = users[Role.OWNER]
    routes = [route for route in page_routes() if route.name not in NOT_VISITED]
    signed_in = new_page(owner, width)
    anonymous = new_page(None, width)
    assert len(routes) > 40, "the walk of the URL conf lost the project pages"
    found: list[str] = []
    for route in routes:
        page = anonymous if route.name in ANONYMOUS_PAGES else signed_in
        found += _visit(page, _url(route, values))
    # What a wrong address or a missing object shows is a page too.
    missing = reverse("labeling:document_detail", args=[values["project_name"], 999_999])
    response = signed_in.goto(missing)
    assert response is not None and response.status == 404
    found += _violations(signed_in, f"{missing} (not found)")
    assert found == [], "\n".join(["serious or critical accessibility violations:", *found])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_tagging_page_states_have_no_serious_violation(new_page):
    """The tagging page with a span's menu open, with a suggestion's menu open, and with the ``?`` help open; the
    dashboard, documents and tagging pages as an annotator and as a viewer."""
    from playwright.sync_api import expect

    users, values = _project_with_data()
    owner = users[Role.OWNER]
    page = new_page(owner)
    found: list[str] = []
    url = reverse("labeling:document_annotate", args=[values["project_name"], values["document_id"]])
    page.goto(url)
    page.wait_for_selector("#doc-text[data-ready=true]")
    page.locator("#doc-text mark.span").first.click()
    expect(page.locator("#span-menu[data-kind=span]")).to_be_visible()
    found += _violations(page, f"{url} (a span selected)")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    page.locator("#help").wait_for(state="visible")
    found += _violations(page, f"{url} (help dialog open)")

    url = reverse("labeling:document_annotate", args=[values["project_name"], values["suggested_document_id"]])
    page.goto(url)
    page.wait_for_selector("#doc-text[data-ready=true]")
    page.keyboard.press("Tab")
    expect(page.locator("#span-menu[data-kind=suggestion]")).to_be_visible()
    found += _violations(page, f"{url} (a suggestion focused)")

    # What the other roles see differs (no tagging controls for a viewer, no management for an annotator).
    for role in (Role.ANNOTATOR, Role.VIEWER):
        other = new_page(users[role])
        for name in ("projects:project_detail", "labeling:document_list"):
            found += _visit(other, reverse(name, args=[values["project_name"]]))
        other.goto(url)
        other.wait_for_selector("#doc-text[data-ready=true]")
        found += _violations(other, f"{url} (as {role.value})")
    assert found == [], "\n".join(["serious or critical accessibility violations:", *found])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_bulk_delete_page_has_no_serious_violation(new_page):
    """The bulk-delete confirmation is the answer to a POST from the documents page's checkboxes."""
    users, values = _project_with_data()
    owner = users[Role.OWNER]
    page = new_page(owner)
    page.goto(reverse("labeling:document_list", args=[values["project_name"]]))
    page.evaluate(
        """([action, id]) => {
          const form = document.createElement("form");
          form.method = "post";
          form.action = action;
          const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
          for (const [name, value] of [["ids", id], ["csrfmiddlewaretoken", token]]) {
            const input = document.createElement("input");
            input.type = "hidden";
            input.name = name;
            input.value = value;
            form.appendChild(input);
          }
          document.body.appendChild(form);
          form.submit();
        }""",
        [reverse("labeling:document_bulk_delete", args=[values["project_name"]]), str(values["document_id"])],
    )
    page.wait_for_url("**/documents/delete/")
    found = _violations(page, "document bulk delete confirmation")
    assert found == [], "\n".join(["serious or critical accessibility violations:", *found])
