"""The annotate page in a real Chromium: every test acts as a user would, reloads, and checks what was saved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from labeling.models import Document, Span
from ner.offsets import codepoint_to_utf16
from ner.spans import selection_bounds
from ner.tokens import token_bounds
from projects.roles import Role
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "Alice Smith of Contoso Ltd. moved to Paris in 2021.\r\nShe met Bob Jones there."
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "annotate.png"

# The UTF-16 offsets of [start, end) as the left edge of the first character and the right edge of the last.
_EDGES_JS = """([start, end]) => {
  const box = document.getElementById("doc-text");
  function locate(offset, atEnd) {
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    let position = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const after = position + node.length;
      const inside = atEnd ? offset > position && offset <= after : offset >= position && offset < after;
      if (inside) return [node, offset - position];
      position = after;
    }
    throw new Error("offset " + offset + " is outside the text");
  }
  const [startNode, startOffset] = locate(start, false);
  const [endNode, endOffset] = locate(end, true);
  const first = document.createRange();
  first.setStart(startNode, startOffset);
  first.setEnd(startNode, startOffset + 1);
  const last = document.createRange();
  last.setStart(endNode, endOffset - 1);
  last.setEnd(endNode, endOffset);
  const a = first.getBoundingClientRect(), b = last.getBoundingClientRect();
  return {x1: a.left + 1, y1: (a.top + a.bottom) / 2, x2: b.right - 1, y2: (b.top + b.bottom) / 2};
}"""


@pytest.fixture
def team():
    owner = UserFactory(username="olga")
    annotator = UserFactory(username="anna")
    viewer = UserFactory(username="victor")
    project = ProjectFactory(name="browser-contracts", language="en")
    for user, role in ((owner, Role.OWNER), (annotator, Role.ANNOTATOR), (viewer, Role.VIEWER)):
        MembershipFactory(project=project, user=user, role=role)
    types = {
        "Person": EntityTypeFactory(project=project, name="Person", color="#f4a3a8", hotkey="p"),
        "Organization": EntityTypeFactory(project=project, name="Organization", color="#8ecae6", hotkey="o"),
        "Location": EntityTypeFactory(project=project, name="Location", color="#90be6d", hotkey="l"),
    }
    document = DocumentFactory(project=project, name="memo.txt", text=TEXT)
    return {
        "owner": owner,
        "annotator": annotator,
        "viewer": viewer,
        "project": project,
        "types": types,
        "doc": document,
    }


def _url(document: Document) -> str:
    return reverse("labeling:document_annotate", args=[document.project.name, document.pk])


def _open(page, document: Document) -> None:
    page.goto(_url(document))
    page.wait_for_selector("#doc-text[data-ready=true]")


def _spans(document: Document) -> list[tuple[str, str, int, int]]:
    return [
        (span.entity_type.name, document.text[span.start : span.end], span.start, span.end)
        for span in Span.objects.filter(document=document).select_related("entity_type").order_by("start")
    ]


def _drag(page, document: Document, start: int, end: int) -> None:
    """Select [start, end) (code points) with a real mouse drag."""
    text = document.text
    edges = page.evaluate(_EDGES_JS, [codepoint_to_utf16(text, start), codepoint_to_utf16(text, end)])
    page.mouse.move(edges["x1"], edges["y1"])
    page.mouse.down()
    page.mouse.move(edges["x2"], edges["y2"], steps=4)
    page.mouse.up()


def _message(page):
    from playwright.sync_api import expect

    return expect(page.locator("#annotate-message"))


def _reload_marks(page) -> list[tuple[str, str]]:
    """After a reload: the labels the page shows at span ends, with the text of the marks."""
    page.reload()
    page.wait_for_selector("#doc-text[data-ready=true]")
    marks = page.eval_on_selector_all(
        "#doc-text mark[data-end]", "marks => marks.map(m => [m.dataset.end, m.textContent])"
    )
    return [tuple(mark) for mark in marks]


def test_menu_mode_mouse_selection_then_menu_click(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    _drag(page, document, 0, 11)  # "Alice Smith"
    page.locator("#span-menu").get_by_role("menuitem", name="Person").click()
    _message(page).to_contain_text("Tagged “Alice Smith” as Person")
    assert _spans(document) == [("Person", "Alice Smith", 0, 11)]
    assert _reload_marks(page) == [("Person", "Alice Smith")]
    assert Document.objects.get(pk=document.pk).status == Document.Status.IN_PROGRESS
    assert page.locator("#status-badge").inner_text() == "In progress"


def test_menu_mode_hotkey_labels_the_mouse_selection(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    _drag(page, document, 15, 27)  # "Contoso Ltd."
    page.wait_for_selector("#span-menu:not([hidden])")
    page.keyboard.press("o")
    _message(page).to_contain_text("as Organization")
    assert _spans(document) == [("Organization", "Contoso Ltd.", 15, 27)]
    assert _reload_marks(page) == [("Organization", "Contoso Ltd.")]


def test_brush_mode_tags_every_selection_with_the_chosen_type(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    page.locator(".palette .type-chip", has_text="Location").click()  # nothing selected: picks the brush
    assert page.locator("[data-mode=brush]").get_attribute("aria-pressed") == "true"
    _drag(page, document, 37, 42)  # "Paris"
    _message(page).to_contain_text("Tagged “Paris” as Location")
    _drag(page, document, 15, 22)  # "Contoso"
    _message(page).to_contain_text("Tagged “Contoso” as Location")
    assert page.locator("#span-menu").is_hidden()  # brush mode never asks
    assert _spans(document) == [("Location", "Contoso", 15, 22), ("Location", "Paris", 37, 42)]
    assert _reload_marks(page) == [("Location", "Contoso"), ("Location", "Paris")]


def test_keyboard_only_tagging_moves_token_by_token(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    page.keyboard.press("ArrowRight")  # the first token: "Alice"
    page.keyboard.press("Shift+ArrowRight")  # extend to "Smith"
    page.keyboard.press("p")
    _message(page).to_contain_text("Tagged “Alice Smith” as Person")
    for _ in range(2):  # past "of" to "Contoso"
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # "Contoso Ltd."
    page.keyboard.press("o")
    _message(page).to_contain_text("as Organization")
    assert _spans(document) == [("Person", "Alice Smith", 0, 11), ("Organization", "Contoso Ltd.", 15, 27)]
    assert _reload_marks(page) == [("Person", "Alice Smith"), ("Organization", "Contoso Ltd.")]


def test_click_a_span_to_change_its_type(sign_in, team):
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Person"], start=15, end=27)
    page = sign_in(team["annotator"])
    _open(page, document)
    page.locator("#doc-text mark.span").click()
    page.locator("#span-menu").get_by_role("menuitem", name="Organization").click()
    _message(page).to_contain_text("Changed “Contoso Ltd.” to Organization")
    assert _spans(document) == [("Organization", "Contoso Ltd.", 15, 27)]
    assert _reload_marks(page) == [("Organization", "Contoso Ltd.")]


def test_delete_a_span_by_click_and_by_keyboard(sign_in, team):
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Person"], start=0, end=11)
    Span.objects.create(document=document, entity_type=team["types"]["Location"], start=37, end=42)
    page = sign_in(team["annotator"])
    _open(page, document)
    page.locator("#doc-text mark.span", has_text="Paris").click()
    page.locator("#span-menu button", has_text="Delete").click()
    _message(page).to_contain_text("Removed Location “Paris”")
    page.keyboard.press("ArrowRight")  # the cursor on "Alice", inside the Person span
    page.keyboard.press("Delete")
    _message(page).to_contain_text("Removed Person “Alice Smith”")
    assert _spans(document) == []
    assert _reload_marks(page) == []


def test_undo_reverts_create_delete_and_change_on_the_server(sign_in, team):
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Location"], start=37, end=42)
    page = sign_in(team["annotator"])
    _open(page, document)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("p")  # create Person "Alice"
    _message(page).to_contain_text("Tagged “Alice” as Person")
    page.locator("#doc-text mark.span", has_text="Paris").click()
    page.locator("#span-menu").get_by_role("menuitem", name="Organization").click()  # change Paris
    _message(page).to_contain_text("Changed")
    page.locator("#doc-text mark.span", has_text="Alice").click()
    page.locator("#span-menu button", has_text="Delete").click()  # delete Alice
    _message(page).to_contain_text("Removed")
    assert _spans(document) == [("Organization", "Paris", 37, 42)]
    page.keyboard.press("Control+z")  # the deletion: Alice is back (a new row, the same span)
    _message(page).to_contain_text("Undone: removal")
    assert _spans(document) == [("Person", "Alice", 0, 5), ("Organization", "Paris", 37, 42)]
    page.locator("#undo-button").click()  # the type change
    _message(page).to_contain_text("Undone: type change")
    page.keyboard.press("Control+z")  # the creation of Alice (re-created by the first undo, deleted by its new id)
    _message(page).to_contain_text("Undone: tag")
    assert _spans(document) == [("Location", "Paris", 37, 42)]
    assert _reload_marks(page) == [("Location", "Paris")]


def _looks(page, selector: str) -> dict[str, object]:
    return page.eval_on_selector(
        selector,
        "b => ({disabled: b.disabled, opacity: getComputedStyle(b).opacity, cursor: getComputedStyle(b).cursor})",
    )


def test_buttons_with_nothing_to_do_look_disabled_until_there_is(sign_in, team):
    page = sign_in(team["annotator"])
    _open(page, team["doc"])
    for selector in ("#undo-button", "#accept-all-suggestions", "#reject-all-suggestions"):
        assert _looks(page, selector) == {"disabled": True, "opacity": "0.45", "cursor": "not-allowed"}, selector
    page.keyboard.press("ArrowRight")
    page.keyboard.press("p")
    _message(page).to_contain_text("Tagged “Alice” as Person")
    assert _looks(page, "#undo-button") == {"disabled": False, "opacity": "1", "cursor": "pointer"}


def test_mouse_selection_snaps_to_whole_tokens(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    _drag(page, document, 1, 9)  # "lice Smi": half a word at each end
    page.keyboard.press("p")
    _message(page).to_contain_text("Tagged “Alice Smith” as Person")
    _message(page).to_contain_text("Snapped to whole tokens (you selected “lice Smi”)")
    assert _spans(document) == [("Person", "Alice Smith", 0, 11)]


def test_first_tag_moves_the_header_and_the_side_panel_to_in_progress_together(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    from playwright.sync_api import expect

    expect(page.locator("#status-text")).to_have_text("Untagged")
    _drag(page, document, 0, 11)
    page.keyboard.press("p")
    expect(page.locator("#status-badge")).to_have_text("In progress")
    expect(page.locator("#status-text")).to_have_text("In progress")
    page.keyboard.press("Control+z")
    expect(page.locator("#status-badge")).to_have_text("Untagged")
    expect(page.locator("#status-text")).to_have_text("Untagged")


def test_the_badge_shows_the_status_the_server_holds_when_someone_else_changed_it(sign_in, team):
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    from playwright.sync_api import expect

    expect(page.locator("#status-badge")).to_have_text("Untagged")
    # The owner marks the document tagged (an empty answer) while the annotator's page still says "Untagged".
    Document.objects.filter(pk=document.pk).update(status=Document.Status.TAGGED)
    _drag(page, document, 0, 11)
    page.keyboard.press("p")
    _message(page).to_contain_text("Tagged “Alice Smith” as Person")
    expect(page.locator("#status-badge")).to_have_text("Tagged")
    expect(page.locator("#status-text")).to_have_text("Tagged")
    page.keyboard.press("Control+z")
    _message(page).to_contain_text("Undone")
    expect(page.locator("#status-badge")).to_have_text("Tagged")
    assert Document.objects.get(pk=document.pk).status == Document.Status.TAGGED


def test_character_mode_keeps_the_exact_selection(sign_in, team):
    project = team["project"]
    project.label_mode = "character"
    project.save()
    page = sign_in(team["annotator"])
    document = team["doc"]
    _open(page, document)
    _drag(page, document, 15, 22)  # "Contoso" without " Ltd."
    page.keyboard.press("o")
    _message(page).to_contain_text("Tagged “Contoso” as Organization")
    _drag(page, document, 1, 5)  # "lice": a character-precise span
    page.keyboard.press("p")
    _message(page).to_contain_text("Tagged “lice” as Person")
    assert _spans(document) == [("Person", "lice", 1, 5), ("Organization", "Contoso", 15, 22)]


def test_overlapping_span_is_refused_with_the_servers_message(sign_in, team):
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Person"], start=0, end=11)
    page = sign_in(team["annotator"])
    _open(page, document)
    _drag(page, document, 6, 22)  # "Smith of Contoso": overlaps Alice Smith
    page.keyboard.press("o")
    _message(page).to_contain_text("overlaps Person at 0-11; this project does not allow overlapping spans")
    assert page.locator("#annotate-message").get_attribute("class") == "annotate-message error"
    assert _spans(document) == [("Person", "Alice Smith", 0, 11)]
    assert _reload_marks(page) == [("Person", "Alice Smith")]


EMOJI_TEXT = "Hi 👋🏽 from Zoë (combining: Zoe\u0308) in 東京 — שלום עולם — 🚀 Paris and 🇫🇷 Lyon."


def test_offset_conversion_on_emoji_cjk_combining_and_rtl_text(sign_in, team):
    page = sign_in(team["annotator"])
    _open(page, team["doc"])
    for text in (EMOJI_TEXT, "\U0001d54f a", "", "plain ascii", "שלום 👋 עולם"):
        expected = [codepoint_to_utf16(text, offset) for offset in range(len(text) + 1)]
        got = page.evaluate(
            """(text) => { const map = window.nerlabAnnotate.makeOffsetMap(text);
                 const out = []; for (let i = 0; i <= [...text].length; i++) out.push(map.toUtf16(i)); return out; }""",
            text,
        )
        assert got == expected, text
        back = page.evaluate(
            """([text, offsets]) => { const map = window.nerlabAnnotate.makeOffsetMap(text);
                 return offsets.map((o) => map.toCodePoint(o)); }""",
            [text, expected],
        )
        assert back == list(range(len(text) + 1)), text


@pytest.mark.parametrize("label_mode", ["token", "character"])
def test_selection_bounds_are_the_servers_rule_applied_to_its_token_bounds(sign_in, team, label_mode):
    """What a selection becomes before it is saved is ner.spans.selection_bounds, for every selection of a text
    with emoji and the whitespace Python and JavaScript disagree about (NEL, BOM, ideographic space)."""
    project = team["project"]
    project.label_mode = label_mode
    project.save()
    text = "Hi 👋 Zoë\u0085O'Neil\u3000(Contoso,\ufeffInc.)\u00a0 東京\r\n— ok."
    document = DocumentFactory(project=project, name="rule.txt", text=text)
    page = sign_in(team["annotator"])
    _open(page, document)
    bounds = token_bounds(text, project.language)
    pairs = [(start, end) for start in range(len(text)) for end in range(start + 1, len(text) + 1)]
    expected = [selection_bounds(start, end, bounds, whole_tokens=label_mode == "token") for start, end in pairs]
    got = page.evaluate(
        """([pairs, whole]) => pairs.map(([s, e]) => window.nerlabAnnotate.selectionBounds(s, e, whole))""",
        [pairs, label_mode == "token"],
    )
    assert [tuple(b) if b else None for b in got] == expected


def test_emoji_text_tags_at_code_point_offsets(sign_in, team):
    document = DocumentFactory(project=team["project"], name="emoji.txt", text=EMOJI_TEXT)
    page = sign_in(team["annotator"])
    _open(page, document)
    for word, key in (("Paris", "l"), ("東京", "l"), ("עולם", "p"), ("Zoe\u0308", "p")):
        start = EMOJI_TEXT.index(word)
        _drag(page, document, start, start + len(word))
        page.keyboard.press(key)
        _message(page).to_contain_text(f"Tagged “{word}”")
    saved = {covered: (start, end) for _, covered, start, end in _spans(document)}
    for word in ("Paris", "東京", "עולם", "Zoe\u0308"):
        start = EMOJI_TEXT.index(word)
        assert saved[word] == (start, start + len(word)), word
    marks = _reload_marks(page)
    assert sorted(text for _, text in marks) == sorted(["Paris", "東京", "עולם", "Zoe\u0308"])


def test_manual_split_from_the_annotate_page(sign_in, team):
    document = team["doc"]
    page = sign_in(team["owner"])
    _open(page, document)
    page.select_option("#split-select", "test")
    _message(page).to_contain_text("Split saved: Test")
    assert Document.objects.get(pk=document.pk).split == "test"
    page.reload()
    assert page.locator("#split-select").input_value() == "test"
    assert "Test (manual)" in page.locator("#split-effective").inner_text()
    page.select_option("#assign-select", label="anna")
    _message(page).to_contain_text("Assigned to anna")
    assert Document.objects.get(pk=document.pk).assigned_to == team["annotator"]


def test_mark_tagged_then_next_untagged_skips_others_assignments(sign_in, team):
    project = team["project"]
    first = team["doc"]
    taken = DocumentFactory(project=project, name="taken.txt", assigned_to=team["owner"])
    DocumentFactory(project=project, name="done.txt", status=Document.Status.TAGGED)
    mine = DocumentFactory(project=project, name="mine.txt", assigned_to=team["annotator"])
    free = DocumentFactory(project=project, name="free.txt")
    page = sign_in(team["annotator"])
    _open(page, first)
    page.keyboard.press("Control+Enter")  # mark as tagged, then the next untagged document
    page.wait_for_url(f"**{_url(mine)}")  # assigned to me comes first
    first.refresh_from_db()
    assert (first.status, first.tagged_by) == (Document.Status.TAGGED, team["annotator"])
    assert first.tagged_at is not None
    page.wait_for_selector("#doc-text[data-ready=true]")
    page.locator("#mark-tagged").click()
    page.wait_for_url(f"**{_url(free)}")  # then unassigned; never taken.txt (someone else's)
    page.wait_for_selector("#doc-text[data-ready=true]")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/documents/")  # nothing left: back to the list, which says so
    assert "No untagged documents left for you" in page.content()
    assert Document.objects.get(pk=taken.pk).status == Document.Status.UNTAGGED
    # The keys for the previous and next document walk the list in order.
    _open(page, mine)
    page.keyboard.press("[")
    page.wait_for_url(f"**{_url(Document.objects.filter(project=project, pk__lt=mine.pk).order_by('-pk').first())}")


def test_long_document_opens_and_tags(sign_in, team):
    """128,000 characters with 2,000 spans: every span is drawn and a tag lands. How fast is bench/tagging.py's
    question (a timed assertion here would fail on a busy CI machine, not on a slow page)."""
    sentence = "Alice Smith met Bob at Contoso in Paris. "  # 41 characters; a span on "Alice Smith" in each
    text = (sentence * 3200)[:128_000]
    document = DocumentFactory(project=team["project"], name="long.txt", text=text)
    Span.objects.bulk_create(
        Span(document=document, entity_type=team["types"]["Person"], start=i * 41, end=i * 41 + 11) for i in range(2000)
    )
    page = sign_in(team["annotator"])
    _open(page, document)
    assert page.locator("#doc-text mark.span").count() == 2000
    for _ in range(4):  # "Alice", "Smith", "met", "Bob"
        page.keyboard.press("ArrowRight")
    page.keyboard.press("o")
    _message(page).to_contain_text("Tagged “Bob” as Organization")
    assert page.locator("#span-count").inner_text() == "2001"
    assert Span.objects.filter(document=document, start=16, end=19).exists()


def test_viewer_sees_the_page_read_only(sign_in, team):
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Person"], start=0, end=11)
    page = sign_in(team["viewer"])
    _open(page, document)
    assert page.locator(".annotate-toolbar").count() == 0
    _drag(page, document, 37, 42)
    page.keyboard.press("l")
    assert page.locator("#span-menu").is_hidden()
    assert _spans(document) == [("Person", "Alice Smith", 0, 11)]


def test_help_overlay_opens_with_question_mark_scrolled_to_its_top(sign_in, team):
    page = sign_in(team["annotator"], height=500)  # shorter than the dialog: it scrolls
    _open(page, team["doc"])
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert "Next untagged document" in page.locator("#help").inner_text()
    assert page.eval_on_selector("#help", "d => d.scrollHeight > d.clientHeight")
    assert page.eval_on_selector("#help", "d => d.scrollTop") == 0
    assert page.locator("#help-title").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#help").is_hidden()


def test_undo_after_mark_tagged_and_next_takes_the_mark_back(sign_in, team):
    project = team["project"]
    first = team["doc"]
    Span.objects.create(document=first, entity_type=team["types"]["Person"], start=0, end=11)
    Document.objects.filter(pk=first.pk).update(status=Document.Status.IN_PROGRESS)
    following = DocumentFactory(project=project, name="next.txt")
    page = sign_in(team["annotator"])
    _open(page, first)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**{_url(following)}")
    page.wait_for_selector("#doc-text[data-ready=true]")
    _message(page).to_contain_text("Marked “memo.txt” as tagged")
    assert Document.objects.get(pk=first.pk).status == Document.Status.TAGGED

    page.keyboard.press("Control+z")  # the last action was the mark: back to that document, as it was
    page.wait_for_url(f"**{_url(first)}")
    page.wait_for_selector("#doc-text[data-ready=true]")
    first.refresh_from_db()
    assert (first.status, first.tagged_by) == (Document.Status.IN_PROGRESS, None)
    assert page.locator("#status-badge").inner_text() == "In progress"


@pytest.mark.skipif(not os.environ.get("NERLAB_SCREENSHOTS"), reason="set NERLAB_SCREENSHOTS=1 to refresh docs/")
def test_screenshot_of_the_annotate_page_with_demo_data(sign_in):
    from django.core.management import call_command

    from projects.models import Project

    call_command("load_demo", username="demo", password="demo-password-123", verbosity=0)
    project = Project.objects.get(name="LoanAgreements")
    document = Document.objects.filter(project=project).order_by("pk").first()
    page = sign_in(project.memberships.get().user)
    _open(page, document)
    page.locator("#doc-text mark.span").nth(3).click()  # show the span menu too
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_a_touch_selection_opens_the_type_menu_and_a_tap_tags_it(sign_in, team):
    page = sign_in(team["annotator"], width=390, height=844)
    document = team["doc"]
    _open(page, document)
    # What a long press and handle drag leave behind: a touch pointer went down on the text, then the selection
    # changed, and no mouseup came.
    page.evaluate(
        """([start, end]) => {
          const box = document.getElementById("doc-text");
          box.dispatchEvent(new PointerEvent("pointerdown", {pointerType: "touch", bubbles: true}));
          const node = box.firstChild;
          window.getSelection().setBaseAndExtent(node, start, node, end);
        }""",
        [document.text.index("Paris"), document.text.index("Paris") + 5],
    )
    page.wait_for_selector("#span-menu:not([hidden])")
    page.locator("#span-menu .type-chip", has_text="Location").click()
    _message(page).to_contain_text("Tagged “Paris” as Location")
    assert _spans(document) == [("Location", "Paris", 37, 42)]


def _two_annotators_on_one_tag(sign_in, team):
    """An annotator's and the owner's pages open on the team's document, which holds one Person tag (Contoso Ltd.)."""
    document = team["doc"]
    Span.objects.create(document=document, entity_type=team["types"]["Person"], start=15, end=27)
    first, second = sign_in(team["annotator"]), sign_in(team["owner"])
    _open(first, document)
    _open(second, document)
    return first, second


def test_a_type_change_from_a_stale_page_is_refused_and_keeps_the_first_change(sign_in, team):
    """Two annotators on one document: the second, whose page still shows the old type, does not overwrite the
    first's change, and is told why; undoing a change someone else has changed since is refused the same way."""
    document = team["doc"]
    first, second = _two_annotators_on_one_tag(sign_in, team)
    first.locator("#doc-text mark.span").click()
    first.locator("#span-menu").get_by_role("menuitem", name="Organization").click()
    _message(first).to_contain_text("Changed “Contoso Ltd.” to Organization")
    second.locator("#doc-text mark.span").click()  # still drawn as Person there
    second.locator("#span-menu").get_by_role("menuitem", name="Location").click()
    _message(second).to_contain_text("“Contoso Ltd.” was changed to Organization meanwhile")
    assert _spans(document) == [("Organization", "Contoso Ltd.", 15, 27)]
    second.reload()
    second.wait_for_selector("#doc-text[data-ready=true]")
    second.locator("#doc-text mark.span").click()
    second.locator("#span-menu").get_by_role("menuitem", name="Location").click()
    _message(second).to_contain_text("Changed “Contoso Ltd.” to Location")
    first.keyboard.press("Control+z")  # would put Person back over the second annotator's Location
    _message(first).to_contain_text("“Contoso Ltd.” was changed to Location meanwhile")
    assert _spans(document) == [("Location", "Contoso Ltd.", 15, 27)]


def test_deleting_a_tag_someone_removed_meanwhile_says_so_and_drops_its_mark(sign_in, team):
    document = team["doc"]
    first, second = _two_annotators_on_one_tag(sign_in, team)
    first.locator("#doc-text mark.span").click()
    first.locator("#span-menu button", has_text="Delete").click()
    _message(first).to_contain_text("Removed")
    second.locator("#doc-text mark.span").click()  # still drawn there
    second.locator("#span-menu button", has_text="Delete").click()

    from playwright.sync_api import expect

    _message(second).to_contain_text("No such span")
    expect(second.locator("#doc-text mark.span")).to_have_count(0)
    assert _spans(document) == []
