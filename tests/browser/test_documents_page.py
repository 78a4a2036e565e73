"""The documents page in a real Chromium: a drop zone that uploads what is dropped on it (through htmx, which
reports progress), bulk actions that appear only while documents are selected, a search box that filters as you
type; and the same page still working with JavaScript off."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from labeling.models import Document
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DROP_JS = """([name, text]) => {
  const files = new DataTransfer();
  files.items.add(new File([text], name, {type: "text/plain"}));
  const zone = document.getElementById("upload-form");
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
  }
}"""


@pytest.fixture
def owner_and_project():
    user = UserFactory(username="documents-owner")
    project = ProjectFactory(name="letters")
    MembershipFactory(project=project, user=user)
    return user, project


def test_a_file_dropped_on_the_drop_zone_is_uploaded_with_progress(sign_in, owner_and_project):
    from playwright.sync_api import expect

    user, project = owner_and_project
    page = sign_in(user)
    page.goto(reverse("labeling:document_list", args=[project.name]))
    expect(page.get_by_role("button", name="Upload")).to_be_hidden()  # with JavaScript a drop or a choice uploads

    with page.expect_request(lambda request: request.method == "POST" and "/upload/" in request.url) as upload:
        page.evaluate(DROP_JS, ["dropped.txt", "Alice wrote to Bob from Paris."])
    assert upload.value.headers.get("hx-request") == "true"  # htmx's request, the one that reports its progress
    expect(page.locator(".messages")).to_contain_text("Uploaded 1 document")
    expect(page.get_by_role("link", name="dropped.txt")).to_be_visible()
    assert Document.objects.get(project=project).text == "Alice wrote to Bob from Paris."

    with page.expect_request(lambda request: request.method == "POST" and "/upload/" in request.url):
        page.get_by_label("Drop .txt or .zip files here or choose them").set_input_files(
            {"name": "chosen.txt", "mimeType": "text/plain", "buffer": b"Carol flew to Oslo."}
        )
    expect(page.get_by_role("link", name="chosen.txt")).to_be_visible()
    page.evaluate(DROP_JS, ["empty.txt", ""])  # a refusal comes back as a message on the reloaded page
    expect(page.locator(".messages")).to_contain_text("empty.txt")
    assert Document.objects.filter(project=project).count() == 2


def test_bulk_actions_appear_only_while_documents_are_selected(sign_in, owner_and_project):
    from playwright.sync_api import expect

    user, project = owner_and_project
    for name in ("a.txt", "b.txt"):
        DocumentFactory(project=project, name=name)
    page = sign_in(user)
    page.goto(reverse("labeling:document_list", args=[project.name]))
    bulk = page.get_by_role("form", name="Selected documents")
    expect(bulk).to_be_hidden()

    page.get_by_label("Select a.txt").check()
    expect(bulk).to_be_visible()
    expect(bulk).to_contain_text("1 selected")
    page.get_by_label("Select b.txt").check()
    expect(bulk).to_contain_text("2 selected")
    page.get_by_label("Select a.txt").uncheck()
    page.get_by_label("Select b.txt").uncheck()
    expect(bulk).to_be_hidden()

    search = page.get_by_role("searchbox", name="Search documents")
    search.fill("b.txt")
    expect(page.locator("#document-table")).to_contain_text("1 document matches")
    page.get_by_label("Select b.txt").check()
    bulk.get_by_role("button", name="Delete selected…").click()
    expect(page).to_have_url(re.compile(r"/documents/delete/"))
    expect(page.locator("main")).to_contain_text("b.txt")


def test_without_javascript_the_upload_and_bulk_forms_are_plain_forms(browser, live_server, owner_and_project):
    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import expect

    user, project = owner_and_project
    DocumentFactory(project=project, name="old.txt")
    client = Client()
    client.force_login(user)
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.goto(reverse("labeling:document_list", args=[project.name]))

    expect(page.get_by_role("form", name="Selected documents")).to_be_visible()
    page.get_by_label("Drop .txt or .zip files here or choose them").set_input_files(
        {"name": "plain.txt", "mimeType": "text/plain", "buffer": b"Dave drove to Madrid."}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text("Uploaded 1 document")
    page.get_by_role("searchbox", name="Search documents").fill("plain")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#document-table")).to_contain_text("1 document matches")
    context.close()
