"""Model suggestions on the annotate page in a real Chromium: reviewed by keyboard and by type, checked in the
database and after a reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from labeling.models import Document, Span, Suggestion
from projects.roles import Role
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "Alice Smith of Contoso Ltd. moved to Paris in 2021.\nShe met Bob Jones there."
# NERLAB_SCREENSHOTS=1 refreshes the README's picture, as the other browser tests do; otherwise it goes to /tmp.
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("NERLAB_SCREENSHOTS")
    else Path("/tmp")
) / "suggestions.png"


@pytest.fixture
def team():
    annotator = UserFactory(username="anna")
    viewer = UserFactory(username="victor")
    project = ProjectFactory(name="browser-suggestions", language="en")
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    MembershipFactory(project=project, user=viewer, role=Role.VIEWER)
    types = {
        "Person": EntityTypeFactory(project=project, name="Person", color="#f4a3a8", hotkey="p"),
        "Organization": EntityTypeFactory(project=project, name="Organization", color="#8ecae6", hotkey="o"),
        "Location": EntityTypeFactory(project=project, name="Location", color="#90be6d", hotkey="l"),
    }
    document = DocumentFactory(project=project, name="memo.txt", text=TEXT)
    for name, word, confidence in (
        ("Person", "Alice Smith", 0.91),
        ("Organization", "Contoso Ltd.", 0.55),
        ("Location", "Paris", 0.8),
        ("Person", "Bob Jones", 0.7),
    ):
        start = TEXT.index(word)
        Suggestion.objects.create(
            document=document,
            entity_type=types[name],
            start=start,
            end=start + len(word),
            confidence=confidence,
            model_name="model-3",
        )
    return {"annotator": annotator, "viewer": viewer, "project": project, "types": types, "doc": document}


def _open(page, document: Document) -> None:
    page.goto(reverse("labeling:document_annotate", args=[document.project.name, document.pk]))
    page.wait_for_selector("#doc-text[data-ready=true]")


def _idle(page) -> None:
    page.evaluate("() => window.nerlabAnnotate.idle()")


def _tags(document: Document) -> list[tuple[str, str]]:
    return [
        (span.entity_type.name, document.text[span.start : span.end])
        for span in Span.objects.filter(document=document).select_related("entity_type").order_by("start")
    ]


def _pending(document: Document) -> list[str]:
    pending = Suggestion.objects.filter(document=document, state=Suggestion.State.PENDING).order_by("start")
    return [document.text[s.start : s.end] for s in pending]


def _message(page):
    from playwright.sync_api import expect

    return expect(page.locator("#annotate-message"))


def _suggestion_marks(page) -> list[str]:
    return page.eval_on_selector_all("#doc-text mark.suggestion", "marks => marks.map(m => m.textContent)")


def test_suggestions_look_different_and_are_not_tags(sign_in, team):
    page = sign_in(team["annotator"])
    _open(page, team["doc"])

    assert _suggestion_marks(page) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]
    assert page.locator("#doc-text mark.span").count() == 0
    assert page.locator("#span-count").inner_text() == "0"
    first = page.locator("#doc-text mark.suggestion").first
    assert first.get_attribute("data-end") == "Person 91%"
    assert "91% confident" in first.get_attribute("title")
    assert "dotted" in first.evaluate("m => getComputedStyle(m).outlineStyle")
    from playwright.sync_api import expect

    expect(page.locator("#suggestion-summary")).to_have_text("4 pending from model-3.")
    rows = [row.split("\n")[0] for row in page.locator("#suggestion-types li").all_inner_texts()]
    assert sorted(rows) == ["Location 1", "Organization 1", "Person 2"]
    page.keyboard.press("Tab")
    page.wait_for_selector("#span-menu:not([hidden]) .menu-suggestion")
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_accept_one_and_reject_one_with_the_keyboard(sign_in, team):
    document = team["doc"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.keyboard.press("Tab")  # the first suggestion: Alice Smith
    menu = page.locator("#span-menu")
    assert "Suggested Person (91% confident)" in menu.inner_text()
    page.keyboard.press("Enter")  # accept; the next one (Contoso Ltd.) opens by itself
    _message(page).to_contain_text("Accepted “Alice Smith” as Person")
    page.wait_for_selector("#span-menu:not([hidden]) .menu-suggestion")
    assert "Contoso Ltd." in menu.inner_text()
    page.keyboard.press("Delete")  # reject it
    _message(page).to_contain_text("Rejected the suggestion Organization “Contoso Ltd.”")
    page.keyboard.press("Escape")
    _idle(page)

    assert _tags(document) == [("Person", "Alice Smith")]
    assert _pending(document) == ["Paris", "Bob Jones"]
    assert page.locator("#span-count").inner_text() == "1"
    page.reload()
    page.wait_for_selector("#doc-text[data-ready=true]")
    assert page.eval_on_selector_all("#doc-text mark.span", "ms => ms.map(m => m.textContent)") == ["Alice Smith"]
    assert _suggestion_marks(page) == ["Paris", "Bob Jones"]


def test_accept_as_another_type_with_its_hotkey_and_undo_the_accept(sign_in, team):
    document = team["doc"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.keyboard.press("Shift+Tab")  # backwards from the start: the last suggestion, Bob Jones
    assert "Bob Jones" in page.locator("#span-menu").inner_text()
    page.keyboard.press("o")  # accept it as Organization instead of Person
    _message(page).to_contain_text("Accepted “Bob Jones” as Organization")
    _idle(page)
    assert _tags(document) == [("Organization", "Bob Jones")]

    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    _message(page).to_contain_text("Undone: accepted suggestion")
    _idle(page)
    assert _tags(document) == []
    assert _pending(document) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]  # a suggestion again
    assert _suggestion_marks(page) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]


def test_undo_after_accept_then_reject_brings_back_the_rejected_one_and_keeps_the_tag(sign_in, team):
    # Tab, Enter (accept), Delete (reject the next), Ctrl+Z: the last action was the reject, so only it is undone.
    document = team["doc"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _message(page).to_contain_text("Accepted “Alice Smith” as Person")
    page.wait_for_selector("#span-menu:not([hidden]) .menu-suggestion")
    page.keyboard.press("Delete")
    _message(page).to_contain_text("Rejected the suggestion Organization “Contoso Ltd.”")
    page.keyboard.press("Control+z")
    _message(page).to_contain_text("Undone: rejected suggestion")
    _idle(page)

    assert _tags(document) == [("Person", "Alice Smith")]
    assert _pending(document) == ["Contoso Ltd.", "Paris", "Bob Jones"]
    assert _suggestion_marks(page) == ["Contoso Ltd.", "Paris", "Bob Jones"]
    assert page.locator("#span-count").inner_text() == "1"

    page.keyboard.press("Control+z")  # and then the accept
    _message(page).to_contain_text("Undone: accepted suggestion")
    _idle(page)
    assert _tags(document) == []
    assert len(_pending(document)) == 4
    page.reload()
    page.wait_for_selector("#doc-text[data-ready=true]")
    assert _suggestion_marks(page) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]


def test_accept_all_of_a_type_then_all_the_rest_and_undo_the_batch(sign_in, team):
    document = team["doc"]
    person = team["types"]["Person"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.locator(f'#suggestion-types button[data-accept-type="{person.pk}"]').click()
    _message(page).to_contain_text("Accepted 2 Person suggestions")
    _idle(page)
    assert _tags(document) == [("Person", "Alice Smith"), ("Person", "Bob Jones")]
    assert _pending(document) == ["Contoso Ltd.", "Paris"]
    assert _suggestion_marks(page) == ["Contoso Ltd.", "Paris"]

    page.keyboard.press("Shift+Enter")  # accept all the rest
    _message(page).to_contain_text("Accepted 2 suggestions")
    _idle(page)
    assert _tags(document) == [
        ("Person", "Alice Smith"),
        ("Organization", "Contoso Ltd."),
        ("Location", "Paris"),
        ("Person", "Bob Jones"),
    ]
    assert _pending(document) == []
    assert page.locator("#suggestion-summary").inner_text() == "No suggestions pending."

    page.keyboard.press("Control+z")  # one step takes back the whole batch
    _message(page).to_contain_text("Undone: 2 accepted suggestions")
    _idle(page)
    assert _tags(document) == [("Person", "Alice Smith"), ("Person", "Bob Jones")]
    assert _pending(document) == ["Contoso Ltd.", "Paris"]
    assert _suggestion_marks(page) == ["Contoso Ltd.", "Paris"]


def test_a_tag_the_annotator_makes_wins_over_the_suggestion(sign_in, team):
    document = team["doc"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.keyboard.press("ArrowRight")  # the keyboard cursor on "Alice"
    page.keyboard.press("l")  # tag it Location: it overlaps the Person suggestion on "Alice Smith"
    _message(page).to_contain_text("Tagged “Alice” as Location")
    _idle(page)
    assert _suggestion_marks(page) == ["Contoso Ltd.", "Paris", "Bob Jones"]
    assert page.locator("#suggestion-summary").inner_text().startswith("3 pending")

    page.keyboard.press("Shift+Enter")
    _message(page).to_contain_text("Accepted 3 suggestions. Skipped 1 that collided with a tag.")
    _idle(page)
    assert _tags(document) == [
        ("Location", "Alice"),
        ("Organization", "Contoso Ltd."),
        ("Location", "Paris"),
        ("Person", "Bob Jones"),
    ]


def test_reject_all_then_undo_brings_every_one_back(sign_in, team):
    document = team["doc"]
    page = sign_in(team["annotator"])
    _open(page, document)

    page.locator("#reject-all-suggestions").click()  # no "cannot be undone" question any more: it can be
    _message(page).to_contain_text("Rejected 4 suggestions")
    _idle(page)
    assert _pending(document) == [] and _tags(document) == []
    assert _suggestion_marks(page) == []

    page.keyboard.press("Control+z")
    _message(page).to_contain_text("Undone: 4 rejected suggestions")
    _idle(page)
    assert _pending(document) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]
    assert _suggestion_marks(page) == ["Alice Smith", "Contoso Ltd.", "Paris", "Bob Jones"]


def test_viewer_sees_suggestions_but_cannot_accept(sign_in, team):
    page = sign_in(team["viewer"])
    _open(page, team["doc"])
    assert len(_suggestion_marks(page)) == 4
    page.keyboard.press("Tab")
    menu = page.locator("#span-menu")
    assert "Suggested Person" in menu.inner_text()
    assert menu.locator("button").count() == 0
    page.keyboard.press("Enter")
    assert page.locator("#accept-all-suggestions").count() == 0
    assert len(_pending(team["doc"])) == 4 and _tags(team["doc"]) == []
