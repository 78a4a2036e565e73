"""Inter-annotator agreement in a real Chromium: the owner assigns a document to two annotators, each tags their
own copy on the ordinary tagging page, and the owner adjudicates the copies into the document's tags."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, Span, SpanEvent
from projects.roles import Role
from tests.browser.test_annotate import _drag, _message, _open
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "Alice Smith of Contoso Ltd. moved to Paris in 2021."
ALICE, CONTOSO, PARIS = (0, 11), (15, 27), (37, 42)
# Marking a copy done opens the next untagged document; with none left, the document list.
DOCUMENT_LIST = re.compile(r"/documents/$")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _screenshot(page, name: str) -> None:
    """Refresh docs/screenshots/<name>.png when NERLAB_SCREENSHOTS is set, as the other browser tests do."""
    if os.environ.get("NERLAB_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def team():
    owner = UserFactory(username="olga")
    ann = UserFactory(username="ann")
    ben = UserFactory(username="ben")
    project = ProjectFactory(name="browser-agreement", language="en")
    for user, role in ((owner, Role.OWNER), (ann, Role.ANNOTATOR), (ben, Role.ANNOTATOR)):
        MembershipFactory(project=project, user=user, role=role)
    for name, color, hotkey in (
        ("Person", "#f4a3a8", "p"),
        ("Organization", "#8ecae6", "o"),
        ("Location", "#90be6d", "l"),
    ):
        EntityTypeFactory(project=project, name=name, color=color, hotkey=hotkey)
    document = DocumentFactory(project=project, name="memo.txt", text=TEXT)
    return {"owner": owner, "ann": ann, "ben": ben, "project": project, "doc": document}


def _tag_with_menu(page, document: Document, region: tuple[int, int], type_name: str) -> None:
    _drag(page, document, *region)
    page.locator("#span-menu").get_by_role("menuitem", name=type_name).click()
    _message(page).to_contain_text(f"as {type_name}")


def _copy_of(team, name: str) -> list[tuple[str, str]]:
    rows = AnnotatorSpan.objects.filter(assignment__annotator=team[name]).select_related("entity_type")
    return sorted((row.entity_type.name, TEXT[row.start : row.end]) for row in rows)


def _gold(document: Document) -> list[tuple[str, str]]:
    rows = Span.objects.filter(document=document).select_related("entity_type").order_by("start")
    return [(row.entity_type.name, TEXT[row.start : row.end]) for row in rows]


def test_two_annotators_tag_their_copies_and_the_owner_merges_them(sign_in, team):
    from playwright.sync_api import expect

    project, document = team["project"], team["doc"]

    # The owner assigns the document to both annotators on the assignment page.
    owner = sign_in(team["owner"])
    owner.goto(reverse("agreement:assignment_list", args=[project.name]))
    owner.get_by_label("memo.txt").check()
    owner.get_by_label("ann", exact=True).check()
    owner.get_by_label("ben", exact=True).check()
    owner.get_by_role("button", name="Assign").click()
    expect(owner.locator(".messages")).to_contain_text("Assigned to ann, ben: 2 new copies")
    expect(owner.locator("#assignment-rounds")).to_contain_text("memo.txt")

    # ann tags on the tagging page, by mouse and by keyboard, then marks her copy done (Ctrl+Enter).
    ann = sign_in(team["ann"])
    _open(ann, document)
    _tag_with_menu(ann, document, ALICE, "Person")
    _drag(ann, document, *CONTOSO)
    ann.wait_for_selector("#span-menu:not([hidden])")
    ann.keyboard.press("o")
    _message(ann).to_contain_text("as Organization")
    ann.keyboard.press("Control+Enter")
    ann.wait_for_url(DOCUMENT_LIST)
    assert _copy_of(team, "ann") == [("Organization", "Contoso Ltd."), ("Person", "Alice Smith")]

    # ben sees none of ann's tags: his copy starts empty. He disagrees on Contoso and adds Paris.
    ben = sign_in(team["ben"])
    _open(ben, document)
    assert ben.locator("#doc-text mark").count() == 0
    _tag_with_menu(ben, document, ALICE, "Person")
    _tag_with_menu(ben, document, CONTOSO, "Location")
    _tag_with_menu(ben, document, PARIS, "Location")
    ben.locator("#mark-tagged").click()
    ben.wait_for_url(DOCUMENT_LIST)
    assert _copy_of(team, "ben") == [("Location", "Contoso Ltd."), ("Location", "Paris"), ("Person", "Alice Smith")]
    assert set(AnnotationAssignment.objects.values_list("status", flat=True)) == {"submitted"}
    assert _gold(document) == []  # private copies are not the document's tags
    assert Document.objects.get(pk=document.pk).status == Document.Status.UNTAGGED

    # The owner finds the document on the agreement page and adjudicates it.
    owner.goto(reverse("agreement:report", args=[project.name]))
    expect(owner.locator("#pair-matrix")).to_contain_text("40%")  # Alice agreed; 1 + 2 tags apart: 2*1 / (2*1 + 1 + 2)
    _screenshot(owner, "agreement")
    owner.locator("#worst-documents").get_by_role("link", name="Adjudicate").click()
    expect(owner.locator("h1")).to_contain_text("Adjudicate memo.txt")
    alice = owner.get_by_label("Keep Person “Alice Smith”")
    expect(alice).to_be_checked()  # both agree: pre-selected
    expect(owner.get_by_label("Keep Organization “Contoso Ltd.”")).not_to_be_checked()
    _screenshot(owner, "adjudication")
    # First try to keep both readings of Contoso: the project allows no overlaps, and the page says so.
    owner.get_by_label("Keep Organization “Contoso Ltd.”").check()
    owner.get_by_label("Keep Location “Contoso Ltd.”").check()
    owner.get_by_role("button", name="Merge into the tags").click()
    expect(owner.locator("#adjudication-errors")).to_contain_text("overlaps")
    assert _gold(document) == []
    # Then choose ann's Organization, ben's Paris, and merge.
    owner.get_by_label("Keep Location “Contoso Ltd.”").uncheck()
    owner.get_by_label("Keep Location “Paris”").check()
    owner.get_by_role("button", name="Merge into the tags").click()
    owner.wait_for_selector("#doc-text[data-ready=true]")
    expect(owner.locator(".messages")).to_contain_text("3 added, 0 removed")
    assert _gold(document) == [("Person", "Alice Smith"), ("Organization", "Contoso Ltd."), ("Location", "Paris")]
    assert Document.objects.get(pk=document.pk).status == Document.Status.TAGGED
    assert set(SpanEvent.objects.values_list("source", flat=True)) == {"adjudication"}
    marks = owner.eval_on_selector_all("#doc-text mark[data-end]", "marks => marks.map(m => m.dataset.end)")
    assert marks == ["Person", "Organization", "Location"]

    # After adjudication the annotators' tagging page shows the document's tags again.
    _open(ann, document)
    ann_marks = ann.eval_on_selector_all("#doc-text mark[data-end]", "marks => marks.map(m => m.textContent)")
    assert ann_marks == ["Alice Smith", "Contoso Ltd.", "Paris"]
