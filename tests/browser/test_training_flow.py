"""Train -> live progress -> evaluation -> review -> open a document to fix a tag, in a real Chromium."""

from __future__ import annotations

import re

import pytest

from labeling.models import Document
from tests.evaluation.conftest import make_trainable
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_train_progress_evaluation_review_fix(sign_in, live_server, background_worker):
    from playwright.sync_api import expect

    user = UserFactory(username="browser-owner")
    project = ProjectFactory(name="trips")
    MembershipFactory(project=project, user=user)
    make_trainable(project, user)
    page = sign_in(user)

    page.goto(f"{live_server.url}/projects/trips/")
    page.locator(".nav-group", has_text="Models").locator("summary").click()  # the project menu's Models group
    page.get_by_role("link", name="Training", exact=True).first.click()
    expect(page.get_by_role("heading", name="Training", exact=True)).to_be_visible()
    page.get_by_label("Model name").fill("first-try")
    page.get_by_label("Seed").fill("3")
    page.get_by_label("Max steps").fill("30")
    page.get_by_label("Patience").fill("0")
    page.get_by_role("button", name="Train").click()

    row = page.locator("tr.run-row").first
    expect(row).to_contain_text("first-try")
    # The row polls the run until it has finished, then shows the link to the evaluation (and stops polling).
    expect(row).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(row).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(row.locator(".percent")).to_have_text("100%")
    row.get_by_role("link", name="Evaluation").click()

    expect(page.get_by_role("heading", name="Evaluation of first-try")).to_be_visible()
    expect(page.locator("#micro-f1")).to_contain_text("%")
    expect(page.locator("table.scores").first).to_contain_text("PERSON")
    expect(page.locator("#guidance")).to_contain_text("Fewer than 15 training examples")
    page.locator("#matrix").get_by_role("link", name="Count").click()
    expect(page.locator("table.heatmap")).to_have_attribute("data-kind", "count")
    page.locator("#matrix").get_by_role("link", name="Only errors").click()
    expect(page.locator("table.heatmap")).to_have_attribute("data-cells", "errors")
    expect(page.locator("table.heatmap")).to_have_attribute("data-kind", "count")

    page.get_by_role("link", name="Review test documents").click()
    expect(page.locator("article.review-doc")).to_have_count(4)
    errors = [int(value) for value in page.locator("article.review-doc").evaluate_all(
        "nodes => nodes.map(n => n.dataset.errors)"
    )]  # fmt: skip
    assert errors == sorted(errors, reverse=True)
    page.get_by_label("Mismatches only").check()
    expect(page.locator("#review-documents")).to_contain_text("match the filters")
    page.get_by_label("Mismatches only").uncheck()
    expect(page.locator("article.review-doc")).to_have_count(4)

    first = page.locator("article.review-doc").first
    name = first.locator("h2").inner_text()
    first.get_by_role("link", name="Open to fix tags").click()
    expect(page).to_have_url(re.compile(r"/projects/trips/documents/\d+/annotate/"))
    expect(page.locator("body")).to_contain_text(name)

    # Fix a tag: change the first span's type on the annotate page; it is saved at once and survives a reload.
    document = Document.objects.get(project=project, name=name)
    first_span = document.spans.order_by("start").first()
    other_type = project.entity_types.exclude(pk=first_span.entity_type_id).order_by("name").first()
    page.locator("#doc-text mark.span").first.click()
    page.locator("#span-menu").get_by_role("menuitem", name=other_type.name).click()
    expect(page.locator("#annotate-message")).to_contain_text(other_type.name)
    page.reload()
    first_span.refresh_from_db()
    assert first_span.entity_type_id == other_type.pk
    expect(page.locator("#doc-text mark.span").first).to_have_attribute("data-end", other_type.name.upper())
