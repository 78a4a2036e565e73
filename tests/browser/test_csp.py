"""Every page in a real Chromium under the Content-Security-Policy: no violation, no request to another host.

The pages come from walking the URL configuration, as the permission matrix does: every project page its matrix
declares with GET, opened as the project's owner on a project holding one object of each kind (entity types, a
tagged document, a finished model with its evaluation, a deployment, a learning curve, agreement copies, ...), and
every page outside projects, each declared below. A page added tomorrow without a declaration fails
``test_every_page_outside_projects_is_declared``. A violation is caught both ways Chromium reports one: the
``securitypolicyviolation`` event and the console error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from projects import services
from projects.models import Project
from projects.roles import Role
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.test_permission_matrix import PERMISSIONS, ROUTES, _give_own_copies, _populate, _url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.blockedURI || "inline"} at line ${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} blocked ${where}`);
});
"""

# Pages outside /projects/<name>/ -> who opens them ("owner", "anonymous"), or why the walk skips them. Django's
# admin has a test of its own below.
OTHER_PAGES: dict[str, str] = {
    "projects:project_list": "owner",
    "projects:project_create": "owner",
    "projects:api_key_list": "owner",
    "projects:invitation_accept": "owner",
    "portability:project_archive_import": "owner",
    "login": "anonymous",
    "projects:signup": "anonymous",  # with NERLAB_SELF_REGISTRATION on, below
    "logout": "skip: POST only",
    "projects:api_key_revoke": "skip: POST only",
    "favicon": "skip: a redirect to the icon, checked in tests/test_error_pages.py",
    "api-not-found": "skip: the API's JSON 404 for a path under /api/v1/ that matches nothing",
}


# The error pages' visits: a page that is not there, and one a viewer's role may not open.
MISSING = "/projects/csp-home/no-such-page/"
REFUSED = "/projects/csp-home/settings/"


def _other_routes() -> list[str]:
    """Names of the HTML views outside projects: no project_name, not DRF, not Django's admin."""

    def walk(resolver: URLResolver, namespace: str = "", under_project: bool = False) -> list[str]:
        names = []
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    continue
                inner = ":".join(part for part in (namespace, entry.namespace) if part)
                names += walk(entry, inner, under_project or "project_name" in str(entry.pattern))
            elif isinstance(entry, URLPattern) and not under_project and "project_name" not in str(entry.pattern):
                view_class = getattr(entry.callback, "cls", None)
                if isinstance(view_class, type) and issubclass(view_class, APIView):
                    continue
                name = entry.name if entry.name else f"<unnamed {entry.pattern}>"
                names.append(f"{namespace}:{name}" if namespace and entry.name else name)
        return names

    return walk(get_resolver())


def test_every_page_outside_projects_is_declared():
    undeclared = [name for name in _other_routes() if name not in OTHER_PAGES]
    assert undeclared == [], f"declare these pages in OTHER_PAGES (who opens them, or why not): {undeclared}"


@pytest.fixture
def site() -> dict[str, Any]:
    owner = UserFactory(username="csp-owner")
    target = UserFactory(username="csp-target")
    project = ProjectFactory(name="csp-home", created_by=owner)
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    MembershipFactory(project=project, user=target, role=Role.VIEWER)
    objects = _populate(project, target, owner)
    _give_own_copies(objects, {"owner": owner})
    _, token = services.invitation_create(project=project, role=Role.VIEWER, created_by=owner)
    return {"owner": owner, "project": project, "values": objects.values, "token": token}


def _page_urls(site: dict[str, Any]) -> dict[str, list[str]]:
    """actor -> the URLs of the HTML pages that actor opens."""
    urls: dict[str, list[str]] = {"owner": [], "anonymous": []}
    for route in ROUTES:
        if route.drf_view is None and "GET" in PERMISSIONS.get(route.name, {}):
            urls["owner"].append(_url(route, site["values"]))
    kwargs = {"projects:invitation_accept": {"token": site["token"]}}
    for name, actor in OTHER_PAGES.items():
        if not actor.startswith("skip"):
            urls[actor].append(reverse(name, kwargs=kwargs.get(name)))
    # The error pages, in the layout: a page that is not there, and one the owner's role may not open.
    urls["owner"].append(MISSING)
    urls["owner"].append("/api/docs/")
    return urls


def _is_html(client: Client, url: str) -> bool:
    response = client.get(url, follow=True)
    return response["Content-Type"].startswith("text/html")


def _watch(page: Any, origin: str, problems: list[str]) -> None:
    page.context.add_init_script(LISTEN)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(f"{page.url}: console: {message.text}")

    def on_request(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and f"{parts.scheme}://{parts.netloc}" != origin:
            problems.append(f"{page.url}: request to another host: {request.url}")

    page.on("console", on_console)
    page.on("request", on_request)


def _visit(page: Any, url: str, problems: list[str], expected: int = 200) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None
    if response.status != expected:
        problems.append(f"{url}: answered {response.status}, not {expected}")
    header = response.header_value("content-security-policy") or ""
    if "script-src 'self'" not in header:
        problems.append(f"{url}: no Content-Security-Policy with script-src 'self' ({header!r})")
    problems += [f"{url}: {violation}" for violation in page.evaluate("window.__cspViolations")]


def test_no_page_breaks_the_content_security_policy_or_calls_another_host(
    sign_in, browser, live_server, site, settings
):
    settings.NERLAB_SELF_REGISTRATION = True  # the sign-up page, and its link on the sign-in page
    urls = _page_urls(site)
    owner_client = Client()
    owner_client.force_login(site["owner"])
    problems: list[str] = []

    page = sign_in(site["owner"])
    _watch(page, live_server.url, problems)
    visited = 0
    for url in urls["owner"]:
        if _is_html(owner_client, url):
            _visit(page, url, problems, expected=404 if url == MISSING else 200)
            visited += 1

    anonymous = browser.new_context(base_url=live_server.url)
    try:
        page = anonymous.new_page()
        _watch(page, live_server.url, problems)
        for url in urls["anonymous"]:
            _visit(page, url, problems)
            visited += 1
    finally:
        anonymous.close()

    assert problems == []
    assert visited >= 40  # the walk really found the pages


def test_the_error_page_for_a_refusal_is_clean_too(sign_in, live_server, site):
    viewer = UserFactory(username="csp-viewer")
    project = Project.objects.get(name="csp-home")
    MembershipFactory(project=project, user=viewer, role=Role.VIEWER)
    problems: list[str] = []
    page = sign_in(viewer)
    _watch(page, live_server.url, problems)
    _visit(page, REFUSED, problems, expected=403)
    assert page.locator("h1").inner_text() == "You can't do this here"
    assert problems == []


def test_api_docs_render_their_operations_from_this_server_alone(sign_in, live_server, site):
    from playwright.sync_api import expect

    problems: list[str] = []
    page = sign_in(site["owner"])
    _watch(page, live_server.url, problems)
    _visit(page, "/api/docs/", problems)
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=30_000)  # Swagger UI fetched and rendered the schema
    assert operations.count() > 50
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/projects/").first).to_be_visible()
    problems += [f"after rendering: {violation}" for violation in page.evaluate("window.__cspViolations")]
    assert problems == []


def test_the_admin_is_clean_too(sign_in, live_server):
    root = UserFactory(username="csp-root", is_staff=True, is_superuser=True)
    problems: list[str] = []
    page = sign_in(root)
    _watch(page, live_server.url, problems)
    for url in ("/admin/", "/admin/auth/user/", f"/admin/auth/user/{root.pk}/change/", "/admin/axes/accessattempt/"):
        _visit(page, url, problems)
    assert problems == []


# True once a progress bar with a value above 0 is filled to that value (within half a point).
FILLED_AS_SAID = """() => {
  const bar = document.querySelector(".progress[aria-valuenow]");
  const percent = Number(bar?.getAttribute("aria-valuenow"));
  if (!(percent > 0)) return false;
  const filled = bar.querySelector("span").getBoundingClientRect().width / bar.getBoundingClientRect().width;
  return Math.abs(filled * 100 - percent) < 0.5;
}"""


def test_colours_bars_and_confirmations_still_work_without_inline_code(sign_in, site):
    from playwright.sync_api import expect

    project = site["project"]
    page = sign_in(site["owner"])
    page.goto(reverse("projects:entity_type_list", args=[project.name]))
    place = page.locator("tr", has_text="Place").locator(".swatch")
    expect(place).to_have_css("background-color", "rgb(255, 183, 3)")  # #ffb703, from data-span-color

    # The dashboard's per-type bars arrive by an htmx swap after load: their widths are set all the same.
    page.goto(reverse("projects:project_detail", args=[project.name]))
    page.wait_for_function(FILLED_AS_SAID)

    page.goto(reverse("projects:member_list", args=[project.name]))
    remove = page.locator("tr", has_text="csp-target").get_by_role("button", name="Remove")
    questions: list[str] = []
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    def answer(dialog: Any, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    remove.click()
    expect(page.locator("tr", has_text="csp-target")).to_have_count(1)
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    remove.click()
    expect(page.locator("tr", has_text="csp-target")).to_have_count(0)
    assert questions == ["Remove csp-target from csp-home?"] * 2
    assert len(posts) == 1  # the dismissed question sent nothing
