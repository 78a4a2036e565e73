"""The consistency page and its fixes: what a user sees, what a click changes, and who may click."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from labeling.consistency import selectors as consistency_selectors
from labeling.consistency import services as consistency_services
from labeling.models import Document, Span, SpanEvent
from labeling.services import span_delete
from projects.roles import Role
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def make_doc(project, text, *tags, status=Document.Status.TAGGED, name=None):
    """A document with tags given as (surface, entity type) or (surface, entity type, nth occurrence)."""
    document = DocumentFactory(project=project, text=text, status=status, **({"name": name} if name else {}))
    for tag in tags:
        surface, entity_type = tag[0], tag[1]
        start = -1
        for _ in range((tag[2] if len(tag) == 3 else 0) + 1):
            start = text.index(surface, start + 1)
        SpanFactory(document=document, entity_type=entity_type, start=start, end=start + len(surface))
    return document


def tags(project, surface=None):
    rows = Span.objects.filter(document__project=project).select_related("entity_type", "document")
    found = sorted(
        (span.document.name, span.document.text[span.start : span.end], span.entity_type.name, span.start)
        for span in rows
    )
    return [row for row in found if surface is None or row[1] == surface]


@pytest.fixture
def types(project):
    return {name: EntityTypeFactory(project=project, name=name) for name in ("Person", "Location", "Organization")}


@pytest.fixture
def jordan(project, types):
    """ "Jordan" is a Person twice and a Location once; it also appears untagged in a started document."""
    make_doc(project, "Jordan scored twice.", ("Jordan", types["Person"]), name="a.txt")
    make_doc(project, "Jordan won again.", ("Jordan", types["Person"]), name="b.txt")
    make_doc(project, "They flew to Jordan.", ("Jordan", types["Location"]), name="c.txt")
    make_doc(project, "Later Jordan retired.", status=Document.Status.IN_PROGRESS, name="d.txt")
    make_doc(project, "Nobody has opened this: Jordan.", status=Document.Status.UNTAGGED, name="e.txt")


# --- reads -----------------------------------------------------------------------------------------------------


def test_report_finds_each_kind_and_leaves_out_documents_nobody_started(project, jordan):
    report = consistency_selectors.consistency_report(project=project)
    found = {(finding.kind, finding.surface): finding for finding in report.findings}
    assert found[("type", "Jordan")].label_counts == (("Person", 2), ("Location", 1))
    # d.txt is in progress and counts; e.txt was never started and does not.
    assert found[("untagged", "Jordan")].other_count == 1
    assert report.counts == {"type": 1, "untagged": 1, "boundary": 0}
    assert (report.checked, report.searched) == (4, 4)


def test_report_filters_by_kind_and_type(project, jordan, types):
    assert [f.kind for f in consistency_selectors.consistency_report(project=project, kind="untagged").findings] == [
        "untagged"
    ]
    assert consistency_selectors.consistency_report(project=project, entity_type="Organization").findings == []


def test_report_is_recomputed_after_a_change(project, jordan, types, user):
    before = consistency_selectors.consistency_report(project=project)
    assert len(before.findings) == 2
    span = Span.objects.get(document__name="c.txt")
    from labeling.services import span_update_type

    span_update_type(span=span, entity_type=types["Person"], user=user)
    after = consistency_selectors.consistency_report(project=project)
    assert [f.kind for f in after.findings] == ["untagged"]


def test_rows_quote_a_few_words_around_each_occurrence(project, types):
    text = "Before the meeting, " + "padding words here " * 10 + "Acme Corp announced profits at noon."
    make_doc(project, text, name="long.txt")
    make_doc(project, "Acme Corp grew.", ("Acme Corp", types["Organization"]))
    report = consistency_selectors.consistency_report(project=project)
    (row,) = consistency_selectors.consistency_rows(project=project, report=report, findings=report.findings)
    example = next(example for example in row.examples if example.label is None)
    assert example.document_name == "long.txt"
    assert example.surface == "Acme Corp"
    assert example.before.startswith("…") and example.before.endswith("here ")
    assert example.after == " announced profits at noon."


# --- fixes ------------------------------------------------------------------------------------------------------


def test_apply_majority_retypes_the_minority_and_writes_audit_events(project, jordan, types, user):
    result = consistency_services.consistency_apply_type(
        project=project, user=user, kind="type", surface="Jordan", entity_type=types["Person"]
    )
    assert result.changed == ["c.txt at 13-19: Location → Person"]
    assert result.skipped == []
    assert [row[2] for row in tags(project, "Jordan")] == ["Person", "Person", "Person"]
    event = SpanEvent.objects.get(action=SpanEvent.Action.RETYPED)
    assert (event.source, event.previous_entity_type, event.entity_type, event.user) == (
        SpanEvent.Source.CONSISTENCY,
        "Location",
        "Person",
        user,
    )


def test_apply_to_untagged_creates_tags_with_consistency_source(project, jordan, types, user):
    result = consistency_services.consistency_apply_type(
        project=project, user=user, kind="untagged", surface="Jordan", entity_type=types["Person"]
    )
    assert result.changed == ["d.txt at 6-12: tagged as Person"]
    assert ("d.txt", "Jordan", "Person", 6) in tags(project)
    assert ("e.txt", "Jordan", "Person", 24) not in tags(project)  # never-started documents stay untouched
    event = SpanEvent.objects.get(action=SpanEvent.Action.CREATED)
    assert event.source == SpanEvent.Source.CONSISTENCY and event.document_name == "d.txt"
    assert Document.objects.get(name="d.txt").status == Document.Status.IN_PROGRESS


def test_a_collision_refused_by_the_overlap_policy_is_skipped_and_reported(project, types, user):
    # Overlapping tags are allowed when the document was imported, then the project forbids them: retyping one
    # of two same-region tags to the other's type would duplicate it, which the span rules refuse.
    project.overlap_policy = "allow"
    project.save()
    make_doc(project, "Acme sued Acme.", ("Acme", types["Organization"]), ("Acme", types["Person"]), name="x.txt")
    make_doc(project, "Acme won.", ("Acme", types["Organization"]), name="y.txt")
    result = consistency_services.consistency_apply_type(
        project=project, user=user, kind="type", surface="Acme", entity_type=types["Organization"]
    )
    assert result.changed == []
    assert len(result.skipped) == 1
    assert "x.txt at 0-4" in result.skipped[0] and "already tagged" in result.skipped[0]
    assert "skipped 1" in result.summary


def test_untagged_fix_skips_a_place_the_overlap_policy_refuses(project, types, user):
    # The project tags whole tokens: "Acme" in "Acme.com" widens to the token "Acme.com", which overlaps the
    # (imported) ".com" tag next to it. That place is skipped and reported; the other one is tagged.
    make_doc(project, "Acme sells.", ("Acme", types["Organization"]), name="a.txt")
    make_doc(project, "Visit Acme.com today.", (".com", types["Location"]), name="b.txt")
    make_doc(project, "Ask Acme first.", status=Document.Status.IN_PROGRESS, name="c.txt")
    result = consistency_services.consistency_apply_type(
        project=project, user=user, kind="untagged", surface="Acme", entity_type=types["Organization"]
    )
    assert result.changed == ["c.txt at 4-8: tagged as Organization"]
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("b.txt at 6-10: ") and "does not allow overlapping spans" in result.skipped[0]
    assert result.summary == "Changed 1 tag; skipped 1."
    assert tags(project, ".com") == [("b.txt", ".com", "Location", 10)]
    assert SpanEvent.objects.filter(source=SpanEvent.Source.CONSISTENCY).count() == 1


def test_boundary_fix_replaces_the_part_by_the_whole(project, types, user):
    make_doc(project, "Bank of America reported.", ("Bank of America", types["Organization"]), name="a.txt")
    make_doc(project, "Bank of America again.", ("America", types["Location"]), name="b.txt")
    result = consistency_services.consistency_apply_type(
        project=project, user=user, kind="boundary", surface="Bank of America", entity_type=types["Organization"]
    )
    assert result.changed == ["b.txt at 0-15: tagged as Organization instead of Location “America”"]
    assert tags(project) == [
        ("a.txt", "Bank of America", "Organization", 0),
        ("b.txt", "Bank of America", "Organization", 0),
    ]
    actions = sorted(SpanEvent.objects.values_list("action", "source"))
    assert actions == [("created", "consistency"), ("deleted", "consistency")]


def test_remove_deletes_the_tags_of_a_string_or_of_one_type(project, jordan, types, user):
    result = consistency_services.consistency_remove(
        project=project, user=user, surface="Jordan", entity_type=types["Location"]
    )
    assert result.changed == ["c.txt at 13-19: removed Location"]
    assert [row[2] for row in tags(project, "Jordan")] == ["Person", "Person"]
    result = consistency_services.consistency_remove(project=project, user=user, surface="Jordan")
    assert len(result.changed) == 2 and tags(project, "Jordan") == []
    assert set(SpanEvent.objects.values_list("action", "source")) == {("deleted", "consistency")}


def test_remove_skips_a_tag_someone_deleted_between_the_fix_reading_it_and_deleting_it(
    project, jordan, types, user, monkeypatch
):
    deleted_by_someone_else = []

    def delete_after_someone_else(*, span, **kwargs):
        if not deleted_by_someone_else:  # the first tag goes just before this fix takes the document's lock
            Span.objects.filter(pk=span.pk).delete()
            deleted_by_someone_else.append(span.pk)
        return span_delete(span=span, **kwargs)

    monkeypatch.setattr(consistency_services, "span_delete", delete_after_someone_else)
    result = consistency_services.consistency_remove(project=project, user=user, surface="Jordan")

    assert len(result.skipped) == 1 and result.skipped[0].endswith("the tag was deleted meanwhile")
    assert len(result.changed) == 2 and tags(project, "Jordan") == []
    assert SpanEvent.objects.filter(action="deleted").count() == 2  # none recorded for the tag this fix did not delete


def test_fix_rejects_bad_input_with_a_clear_message(project, jordan, types, user):
    other = EntityTypeFactory(project=ProjectFactory(name="elsewhere"), name="Person")
    with pytest.raises(Exception, match="does not belong"):
        consistency_services.consistency_apply_type(
            project=project, user=user, kind="type", surface="Jordan", entity_type=other
        )
    with pytest.raises(Exception, match="Unknown kind"):
        consistency_services.consistency_apply_type(
            project=project, user=user, kind="odd", surface="Jordan", entity_type=types["Person"]
        )
    with pytest.raises(Exception, match="string is empty"):
        consistency_services.consistency_remove(project=project, user=user, surface="  ")


# --- the page ---------------------------------------------------------------------------------------------------


def _page(project):
    return reverse("consistency:check", args=[project.name])


def _fix(project):
    return reverse("consistency:fix", args=[project.name])


def test_page_lists_findings_with_shares_examples_and_links(owner_client, project, jordan):
    response = owner_client.get(_page(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tagged with different types (1)" in html and "Tagged in some places, untagged in others (1)" in html
    assert "<q>Jordan</q>" in html
    assert "Person</strong>\n      2 (67%)" in html
    assert "They flew to <mark" in html
    document = Document.objects.get(name="c.txt")
    assert reverse("labeling:document_annotate", args=[project.name, document.pk]) in html
    assert 'data-fix="apply-Person"' in html and "Make all “Jordan” Person (retype 1)" in html


def test_page_filters_by_kind_with_an_htmx_partial(owner_client, project, jordan):
    response = owner_client.get(_page(project), {"kind": "untagged"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="findings">')
    assert 'data-kind="untagged"' in html and 'data-kind="type" data-surface' not in html


def test_viewer_sees_no_fix_buttons_and_gets_403_on_post(client, project, jordan, types, member_of):
    viewer = member_of(project, Role.VIEWER)
    client.force_login(viewer)
    assert "data-fix=" not in client.get(_page(project)).content.decode()
    response = client.post(
        _fix(project), {"action": "apply", "kind": "type", "surface": "Jordan", "entity_type": types["Person"].pk}
    )
    assert response.status_code == 403
    assert [row[2] for row in tags(project, "Jordan")] == ["Person", "Person", "Location"]


def test_annotator_fixes_with_htmx_and_the_finding_is_redrawn(client, project, jordan, types, member_of):
    annotator = member_of(project, Role.ANNOTATOR)
    client.force_login(annotator)
    response = client.post(
        _fix(project),
        {"action": "apply", "kind": "type", "surface": "Jordan", "entity_type": types["Person"].pk},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert consistency_selectors.finding_element_id("type", "Jordan") in html
    assert "Changed 1 tag." in html and "Nothing left to fix here" in html
    assert SpanEvent.objects.get().user == annotator


def test_fix_without_htmx_redirects_with_a_message(owner_client, project, jordan, types):
    response = owner_client.post(
        _fix(project),
        {
            "action": "apply",
            "kind": "untagged",
            "surface": "Jordan",
            "entity_type": types["Person"].pk,
            "next": _page(project) + "?kind=untagged",
        },
    )
    assert response.status_code == 302 and response["Location"] == _page(project) + "?kind=untagged"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["“Jordan”: Changed 1 tag."]


def test_fix_with_bad_input_says_what_is_missing(owner_client, project, jordan):
    response = owner_client.post(_fix(project), {"action": "apply", "kind": "type", "surface": "Jordan"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Choose the entity type to apply."]
    response = owner_client.post(
        _fix(project), {"action": "apply", "kind": "type", "surface": "Jordan"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and "Choose the entity type" in response.content.decode()


def test_next_pointing_elsewhere_is_ignored(owner_client, project, jordan, types):
    response = owner_client.post(
        _fix(project), {"action": "remove", "kind": "type", "surface": "Jordan", "next": "https://evil.example/"}
    )
    assert response["Location"] == _page(project)


def test_foreign_project_and_foreign_entity_type_give_404(owner_client, project, jordan, user, types):
    foreign = ProjectFactory(name="foreign")
    assert owner_client.get(_page(foreign)).status_code == 404
    assert (
        owner_client.post(_fix(foreign), {"action": "remove", "kind": "type", "surface": "Jordan"}).status_code == 404
    )
    # The owner also owns another project: its entity type id in this project's form is still a 404.
    from tests.projects.factories import MembershipFactory

    MembershipFactory(project=foreign, user=user, role=Role.OWNER)
    foreign_type = EntityTypeFactory(project=foreign, name="Person")
    response = owner_client.post(
        _fix(project), {"action": "apply", "kind": "type", "surface": "Jordan", "entity_type": foreign_type.pk}
    )
    assert response.status_code == 404
    assert [row[2] for row in tags(project, "Jordan")] == ["Person", "Person", "Location"]


def test_anonymous_visitor_is_sent_to_sign_in(client, project):
    response = client.get(_page(project))
    assert response.status_code == 302 and reverse("login") in response["Location"]
