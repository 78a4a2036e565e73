"""The consistency page in a real Chromium: one click applies the majority type, and the finding goes away."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeling.consistency.selectors import finding_element_id
from labeling.models import Span, SpanEvent
from projects.roles import Role
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team():
    annotator = UserFactory(username="anna")
    project = ProjectFactory(name="browser-consistency", language="en")
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    person = EntityTypeFactory(project=project, name="Person", color="#f4a3a8")
    place = EntityTypeFactory(project=project, name="Location", color="#90be6d")
    for name, text, entity_type in (
        ("a.txt", "Jordan scored twice.", person),
        ("b.txt", "Jordan won again.", person),
        ("c.txt", "They flew to Jordan.", place),
    ):
        document = DocumentFactory(project=project, name=name, text=text, status="tagged")
        start = text.index("Jordan")
        SpanFactory(document=document, entity_type=entity_type, start=start, end=start + 6)
    return {"annotator": annotator, "project": project}


def test_majority_fix_retypes_the_minority_and_the_finding_disappears(sign_in, team):
    from playwright.sync_api import expect

    project = team["project"]
    page = sign_in(team["annotator"])
    page.goto(reverse("consistency:check", args=[project.name]))
    card = page.locator(f"#{finding_element_id('type', 'Jordan')}")
    expect(card).to_contain_text("Tagged with different types")
    expect(card).to_contain_text("They flew to Jordan")
    expect(card.locator("a", has_text="c.txt")).to_have_attribute(
        "href",
        reverse(
            "labeling:document_annotate",
            args=[project.name, Span.objects.get(entity_type__name="Location").document_id],
        ),
    )
    card.locator("button[data-fix='apply-Person']").click()

    expect(card).to_contain_text("Changed 1 tag.")
    expect(card).to_contain_text("Nothing left to fix here")
    expect(card.locator("button")).to_have_count(0)
    labels = sorted(Span.objects.filter(document__project=project).values_list("entity_type__name", flat=True))
    assert labels == ["Person", "Person", "Person"]
    event = SpanEvent.objects.get()
    assert (event.source, event.previous_entity_type, event.user) == ("consistency", "Location", team["annotator"])

    page.reload()
    expect(page.locator("#findings")).to_contain_text("No inconsistencies found")
