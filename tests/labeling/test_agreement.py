"""Inter-annotator agreement: assignments, annotators' own copies, the API the tagging page calls, the agreement
report and adjudication into the gold tags."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from labeling.agreement import selectors as agreement_selectors
from labeling.agreement import services as agreement_services
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, Span, SpanEvent
from projects.roles import Role
from projects.selectors import project_stats
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

TEXT = "Alice Smith of Contoso met Bob in Paris."
#       0    5 7  11 14     22  26  30 33   39


@pytest.fixture
def team(db, project, user, member_of):
    """The owner (alice), two annotators, an editor and a viewer, three entity types and one untagged document."""
    ann = member_of(project, Role.ANNOTATOR, "ann")
    ben = member_of(project, Role.ANNOTATOR, "ben")
    return {
        "owner": user,
        "ann": ann,
        "ben": ben,
        "editor": member_of(project, Role.EDITOR, "eddie"),
        "viewer": member_of(project, Role.VIEWER, "vic"),
        "project": project,
        "Person": EntityTypeFactory(project=project, name="Person"),
        "Org": EntityTypeFactory(project=project, name="Org"),
        "Place": EntityTypeFactory(project=project, name="Place"),
        "doc": DocumentFactory(project=project, name="memo.txt", text=TEXT),
    }


def _assign(team, *names: str, documents=None):
    return agreement_services.assignments_create(
        project=team["project"],
        document_ids=[d.pk for d in documents or [team["doc"]]],
        annotators=[team[name] for name in names or ("ann", "ben")],
        user=team["owner"],
    )


def _copy(team, name: str) -> AnnotationAssignment:
    return AnnotationAssignment.objects.get(document=team["doc"], annotator=team[name])


def _tag(team, name: str, type_name: str, start: int, end: int) -> AnnotatorSpan:
    return agreement_services.annotator_span_create(
        assignment=_copy(team, name), entity_type=team[type_name], start=start, end=end, user=team[name]
    )


def _layer(team, name: str) -> list[tuple[str, int, int]]:
    return [
        (s.entity_type.name, s.start, s.end)
        for s in agreement_selectors.annotator_span_list(assignment=_copy(team, name))
    ]


def _gold(document: Document) -> list[tuple[str, str]]:
    return [
        (s.entity_type.name, document.text[s.start : s.end])
        for s in Span.objects.filter(document=document).select_related("entity_type").order_by("start")
    ]


# --- assigning -----------------------------------------------------------------------------------------------------


def test_assignments_create_gives_each_annotator_a_copy_and_is_idempotent(team):
    first = _assign(team)
    assert len(first.created) == 2 and first.already == 0
    again = _assign(team)
    assert again.created == [] and again.already == 2
    assert AnnotationAssignment.objects.filter(document=team["doc"]).count() == 2
    assert {a.status for a in AnnotationAssignment.objects.all()} == {"open"}


def test_assignment_to_a_non_member_or_a_viewer_is_refused(team, db):
    outsider = UserFactory(username="outsider")
    with pytest.raises(ValidationError, match="outsider"):
        agreement_services.assignments_create(
            project=team["project"],
            document_ids=[team["doc"].pk],
            annotators=[team["ann"], outsider],
            user=team["owner"],
        )
    with pytest.raises(ValidationError, match="vic"):
        _assign(team, "ann", "viewer")
    assert not AnnotationAssignment.objects.exists()


def test_assignment_needs_two_annotators_and_the_projects_documents(team):
    with pytest.raises(ValidationError, match="at least two annotators"):
        _assign(team, "ann")
    foreign = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    with pytest.raises(ValidationError, match=str(foreign.pk)):
        _assign(team, documents=[team["doc"], foreign])
    assert not AnnotationAssignment.objects.exists()


def test_adjudicated_documents_are_refused_unless_reopened(team):
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    for name in ("ann", "ben"):
        agreement_services.assignment_submit(assignment=_copy(team, name), user=team[name])
    agreement_services.adjudicate(
        document=team["doc"], decisions={f"0-11-{team['Person'].pk}": True}, user=team["owner"]
    )
    with pytest.raises(ValidationError, match=r"Already adjudicated: memo\.txt"):
        _assign(team)
    fresh = agreement_services.assignments_create(
        project=team["project"],
        document_ids=[team["doc"].pk],
        annotators=[team["ann"], team["ben"]],
        user=team["owner"],
        reopen=True,
    )
    assert len(fresh.created) == 2
    assert _layer(team, "ann") == []  # a new round starts from an empty copy
    assert _gold(team["doc"]) == [("Person", "Alice Smith")]  # the earlier merge stays in the tags


def test_random_pick_takes_only_untagged_unassigned_documents(team):
    project = team["project"]
    free = [DocumentFactory(project=project) for _ in range(3)]
    DocumentFactory(project=project, status=Document.Status.TAGGED)
    _assign(team)  # team["doc"] is taken
    picked = agreement_selectors.documents_pick_random(project=project, count=10, seed=1)
    assert picked == sorted(d.pk for d in free)
    assert len(agreement_selectors.documents_pick_random(project=project, count=2, seed=1)) == 2
    with pytest.raises(ValidationError):
        agreement_selectors.documents_pick_random(project=project, count=0)


# --- an annotator's own copy ---------------------------------------------------------------------------------------


def test_layer_tags_snap_to_tokens_like_gold_tags(team):
    _assign(team)
    span = _tag(team, "ann", "Person", 2, 9)  # "ice Smi" -> "Alice Smith"
    assert (span.start, span.end) == (0, 11)


def test_layer_tags_follow_the_overlap_policy_within_the_copy_only(team):
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    with pytest.raises(ValidationError, match="overlaps Person at 0-11"):
        _tag(team, "ann", "Org", 6, 11)
    with pytest.raises(ValidationError, match="already tagged"):
        _tag(team, "ann", "Person", 0, 11)
    # Another annotator's copy and the gold tags are separate: the same region is free there.
    _tag(team, "ben", "Org", 6, 11)
    Span.objects.create(document=team["doc"], entity_type=team["Place"], start=0, end=5)
    _tag(team, "ann", "Place", 34, 39)
    assert _layer(team, "ann") == [("Person", 0, 11), ("Place", 34, 39)]
    assert _layer(team, "ben") == [("Org", 6, 11)]


def test_layer_allows_overlaps_when_the_project_does(team):
    team["project"].overlap_policy = "allow"
    team["project"].save()
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    _tag(team, "ann", "Org", 6, 11)
    assert len(_layer(team, "ann")) == 2


def test_layer_refuses_bad_regions_and_foreign_types(team):
    _assign(team)
    with pytest.raises(ValidationError, match="outside the document"):
        _tag(team, "ann", "Person", 30, 400)
    foreign_type = EntityTypeFactory(project=ProjectFactory(name="other"), name="Alien")
    with pytest.raises(ValidationError, match="does not belong"):
        agreement_services.annotator_span_create(
            assignment=_copy(team, "ann"), entity_type=foreign_type, start=0, end=5, user=team["ann"]
        )


def test_only_the_annotator_changes_their_copy(team):
    _assign(team)
    span = _tag(team, "ann", "Person", 0, 11)
    for intruder in (team["ben"], team["owner"]):
        with pytest.raises(PermissionDenied, match="ann's own copy"):
            agreement_services.annotator_span_create(
                assignment=_copy(team, "ann"), entity_type=team["Org"], start=15, end=22, user=intruder
            )
        with pytest.raises(PermissionDenied):
            agreement_services.annotator_span_delete(span=span, user=intruder)
        with pytest.raises(PermissionDenied):
            agreement_services.assignment_submit(assignment=_copy(team, "ann"), user=intruder)


def test_layer_retype_and_delete(team):
    _assign(team)
    alice = _tag(team, "ann", "Person", 0, 11)
    _tag(team, "ann", "Org", 15, 22)
    agreement_services.annotator_span_update_type(span=alice, entity_type=team["Place"], user=team["ann"])
    assert _layer(team, "ann") == [("Place", 0, 11), ("Org", 15, 22)]
    contoso = AnnotatorSpan.objects.get(start=15)
    agreement_services.annotator_span_delete(span=contoso, user=team["ann"])
    assert _layer(team, "ann") == [("Place", 0, 11)]


def test_private_tags_leave_gold_status_stats_and_audit_alone(team):
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    document = Document.objects.get(pk=team["doc"].pk)
    assert document.status == Document.Status.UNTAGGED
    assert not Span.objects.exists()
    assert not SpanEvent.objects.exists()
    stats = project_stats(project=team["project"])
    assert stats.spans == 0 and all(t.spans == 0 for t in stats.per_type)


def test_submit_marks_the_copy_finished_and_is_idempotent(team):
    _assign(team)
    copy = agreement_services.assignment_submit(assignment=_copy(team, "ann"), user=team["ann"])
    assert copy.status == "submitted" and copy.submitted_at is not None
    when = copy.submitted_at
    again = agreement_services.assignment_submit(assignment=_copy(team, "ann"), user=team["ann"])
    assert again.submitted_at == when
    _tag(team, "ann", "Person", 0, 11)  # a slip can still be fixed until adjudication
    assert _copy(team, "ben").status == "open"


def test_tagging_page_switches_to_the_copy_until_adjudicated(team):
    _assign(team)
    assert agreement_selectors.annotation_layer_for(document=team["doc"], user=team["ann"]) == _copy(team, "ann")
    assert agreement_selectors.annotation_layer_for(document=team["doc"], user=team["owner"]) is None
    for name in ("ann", "ben"):
        agreement_services.assignment_submit(assignment=_copy(team, name), user=team[name])
    agreement_services.adjudicate(document=team["doc"], decisions={}, user=team["owner"])
    assert agreement_selectors.annotation_layer_for(document=team["doc"], user=team["ann"]) is None


# --- adjudication --------------------------------------------------------------------------------------------------


def _disagreeing_round(team) -> None:
    """ann and ben agree on Alice; ann calls Contoso an Org, ben a Place; only ben tagged Paris."""
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    _tag(team, "ben", "Person", 0, 11)
    _tag(team, "ann", "Org", 15, 22)
    _tag(team, "ben", "Place", 15, 22)
    _tag(team, "ben", "Place", 34, 39)
    for name in ("ann", "ben"):
        agreement_services.assignment_submit(assignment=_copy(team, name), user=team[name])


def _key(team, type_name: str, start: int, end: int) -> str:
    return f"{start}-{end}-{team[type_name].pk}"


def test_adjudication_candidates_mark_agreement_and_conflicts(team):
    _disagreeing_round(team)
    adjudication = agreement_selectors.adjudication_get(document=team["doc"])
    rows = [[(c.entity_type.name, c.text, c.annotators, c.agreed) for c in group] for group in adjudication.groups]
    assert rows == [
        [("Person", "Alice Smith", ("ann", "ben"), True)],
        [("Org", "Contoso", ("ann",), False), ("Place", "Contoso", ("ben",), False)],
        [("Place", "Paris", ("ben",), False)],
    ]


def test_adjudicate_writes_the_chosen_spans_as_gold_with_an_audit_trail(team):
    _disagreeing_round(team)
    old = Span.objects.create(document=team["doc"], entity_type=team["Org"], start=27, end=30)  # "Bob", rejected
    decisions = {
        _key(team, "Person", 0, 11): True,
        _key(team, "Org", 15, 22): True,
        _key(team, "Place", 15, 22): False,
        _key(team, "Place", 34, 39): True,
        _key(team, "Org", 27, 30): False,
    }
    result = agreement_services.adjudicate(document=team["doc"], decisions=decisions, user=team["owner"])
    assert (result.created, result.deleted, result.kept) == (3, 1, 0)
    document = Document.objects.get(pk=team["doc"].pk)
    assert _gold(document) == [("Person", "Alice Smith"), ("Org", "Contoso"), ("Place", "Paris")]
    assert document.status == Document.Status.TAGGED and document.tagged_by == team["owner"]
    events = SpanEvent.objects.filter(document=document)
    assert {(e.action, e.entity_type, e.surface) for e in events} == {
        ("created", "Person", "Alice Smith"),
        ("created", "Org", "Contoso"),
        ("created", "Place", "Paris"),
        ("deleted", "Org", "Bob"),
    }
    assert {e.source for e in events} == {SpanEvent.Source.ADJUDICATION}
    assert {e.user for e in events} == {team["owner"]}
    assert not Span.objects.filter(pk=old.pk).exists()
    copies = AnnotationAssignment.objects.filter(document=document)
    assert {(c.status, c.adjudicated_by) for c in copies} == {("adjudicated", team["owner"])}


def test_adjudicate_refuses_overlapping_choices_under_the_none_policy(team):
    _disagreeing_round(team)
    decisions = {
        key: True for key in (c.key for c in agreement_selectors.adjudication_get(document=team["doc"]).candidates)
    }
    with pytest.raises(ValidationError, match="Place at 15-22 overlaps Org at 15-22"):
        agreement_services.adjudicate(document=team["doc"], decisions=decisions, user=team["owner"])
    assert not Span.objects.exists()
    assert set(AnnotationAssignment.objects.values_list("status", flat=True)) == {"submitted"}


def test_adjudicate_accepts_both_alternatives_when_overlaps_are_allowed(team):
    team["project"].overlap_policy = "allow"
    team["project"].save()
    _disagreeing_round(team)
    decisions = {c.key: True for c in agreement_selectors.adjudication_get(document=team["doc"]).candidates}
    agreement_services.adjudicate(document=team["doc"], decisions=decisions, user=team["owner"])
    assert len(_gold(team["doc"])) == 4


def test_adjudicate_refuses_decisions_made_on_stale_tags(team):
    _disagreeing_round(team)
    decisions = {c.key: True for c in agreement_selectors.adjudication_get(document=team["doc"]).candidates}
    _tag(team, "ann", "Person", 27, 30)  # ann adds Bob after the adjudicator opened the page
    with pytest.raises(ValidationError, match="changed since this page was opened"):
        agreement_services.adjudicate(document=team["doc"], decisions=decisions, user=team["owner"])


def test_adjudicate_needs_a_submitted_copy(team):
    _assign(team)
    with pytest.raises(ValidationError, match="No annotator has submitted"):
        agreement_services.adjudicate(document=team["doc"], decisions={}, user=team["owner"])


def test_open_copies_are_left_out_and_closed_by_the_merge(team):
    _assign(team)
    _tag(team, "ann", "Person", 0, 11)
    _tag(team, "ben", "Org", 15, 22)  # never submitted
    agreement_services.assignment_submit(assignment=_copy(team, "ann"), user=team["ann"])
    adjudication = agreement_selectors.adjudication_get(document=team["doc"])
    assert [str(a.annotator) for a in adjudication.unfinished] == ["ben"]
    assert [c.text for c in adjudication.candidates] == ["Alice Smith"]
    agreement_services.adjudicate(
        document=team["doc"], decisions={_key(team, "Person", 0, 11): True}, user=team["owner"]
    )
    assert _copy(team, "ben").status == "adjudicated"


# --- the report ----------------------------------------------------------------------------------------------------


def test_project_agreement_compares_submitted_copies_only(team):
    _disagreeing_round(team)
    calm = DocumentFactory(project=team["project"], name="calm.txt", text="Bob went to Paris.")
    _assign(team, documents=[calm])
    for name in ("ann", "ben"):
        copy = AnnotationAssignment.objects.get(document=calm, annotator=team[name])
        agreement_services.annotator_span_create(
            assignment=copy, entity_type=team["Place"], start=12, end=17, user=team[name]
        )
        agreement_services.assignment_submit(assignment=copy, user=team[name])
    open_doc = DocumentFactory(project=team["project"], name="open.txt")
    _assign(team, documents=[open_doc])  # nobody submitted: not compared
    result = agreement_selectors.project_agreement(project=team["project"])
    report = result.report
    assert [document.name for document, _ in result.worst_documents()] == ["memo.txt", "calm.txt"]
    pair = report.pair("ben", "ann")
    assert pair is not None
    # memo: Alice agreed, Contoso differs, Paris only ben; calm: Paris agreed -> tp 2, fn 1, fp 2
    assert (pair.overall.tp, pair.overall.fn, pair.overall.fp) == (2, 1, 2)
    assert pair.f1 == pytest.approx(4 / 7)
    assert result.matrix() == [("ann", [None, pair.f1]), ("ben", [pair.f1, None])]
    assert report.type_f1("Person") == 1.0 and report.type_f1("Org") == 0.0


def test_snapshot_and_export_ignore_annotators_private_tags(team):
    from evaluation.services import snapshot_create
    from labeling.imports import project_export_file
    from tests.evaluation.conftest import make_trainable

    project = team["project"]
    documents = make_trainable(project, team["owner"])
    before = snapshot_create(project=project)
    exported_before = project_export_file(project=project, format="jsonl").data
    tagged = documents[1]
    agreement_services.assignments_create(
        project=project, document_ids=[tagged.pk], annotators=[team["ann"], team["ben"]], user=team["owner"]
    )
    copy = AnnotationAssignment.objects.get(document=tagged, annotator=team["ann"])
    agreement_services.annotator_span_create(assignment=copy, entity_type=team["Org"], start=0, end=3, user=team["ann"])
    agreement_services.assignment_submit(assignment=copy, user=team["ann"])
    after = snapshot_create(project=project)
    assert after.pk == before.pk and after.content_hash == before.content_hash
    assert project_export_file(project=project, format="jsonl").data == exported_before


# --- the API the tagging page calls --------------------------------------------------------------------------------


def _api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _send(client: Client, method: str, url: str, body: dict | None = None):
    data = json.dumps(body) if body is not None else None
    return client.generic(
        method, url, data or "", content_type="application/json", headers={"accept": "application/json"}
    )


def _urls(team, name: str = "ann") -> dict[str, str]:
    project, document, copy = team["project"], team["doc"], _copy(team, name)
    return {
        "spans": reverse("api-annotator-span-list", args=[project.name, document.pk, copy.pk]),
        "submit": reverse("api-assignment-submit", args=[project.name, document.pk, copy.pk]),
        "gold": reverse("api-span-list", args=[project.name, document.pk]),
    }


def test_api_answers_in_the_gold_span_shape(team):
    _assign(team)
    urls = _urls(team)
    body = {"entity_type": team["Person"].pk, "start": 2, "end": 9}
    created = _send(_api(team["ann"]), "POST", urls["spans"], body)
    assert created.status_code == 201, created.content
    gold = _send(_api(team["owner"]), "POST", urls["gold"], body)
    assert gold.status_code == 201
    assert set(created.json()) == set(gold.json())
    assert {
        k: created.json()[k] for k in ("entity_type", "entity_type_name", "start", "end", "text", "created_by")
    } == {
        "entity_type": team["Person"].pk,
        "entity_type_name": "Person",
        "start": 0,
        "end": 11,
        "text": "Alice Smith",
        "created_by": team["ann"].pk,
    }
    span_url = f"{urls['spans']}{created.json()['id']}/"  # what the tagging page builds for PATCH and DELETE
    changed = _send(_api(team["ann"]), "PATCH", span_url, {"entity_type": team["Org"].pk})
    assert changed.status_code == 200 and changed.json()["entity_type_name"] == "Org"
    assert _send(_api(team["ann"]), "DELETE", span_url).status_code == 204
    assert _layer(team, "ann") == []
    assert _gold(team["doc"]) == [("Person", "Alice Smith")]  # the owner's gold tag, untouched


def test_api_errors_read_like_the_gold_api(team):
    _assign(team)
    urls = _urls(team)
    client = _api(team["ann"])
    _send(client, "POST", urls["spans"], {"entity_type": team["Person"].pk, "start": 0, "end": 11})
    clash = _send(client, "POST", urls["spans"], {"entity_type": team["Org"].pk, "start": 6, "end": 11})
    assert clash.status_code == 400
    assert "overlaps Person at 0-11" in clash.json()["non_field_errors"][0]
    missing_type = _send(client, "POST", urls["spans"], {"entity_type": 99999, "start": 0, "end": 5})
    assert missing_type.status_code == 400 and "no entity type with id 99999" in missing_type.json()["entity_type"][0]


def test_api_submit_and_refusals(team):
    _assign(team)
    urls = _urls(team)
    intruder = _send(_api(team["ben"]), "POST", urls["spans"], {"entity_type": team["Person"].pk, "start": 0, "end": 5})
    assert intruder.status_code == 403 and "ann's own copy" in intruder.json()["detail"]
    assert _send(_api(team["viewer"]), "POST", urls["submit"], {}).status_code == 403
    submitted = _send(_api(team["ann"]), "POST", urls["submit"], {})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"


def test_api_foreign_ids_are_404(team):
    _assign(team)
    project, document = team["project"], team["doc"]
    other_doc = DocumentFactory(project=project, name="other.txt")
    copy = _copy(team, "ann")
    client = _api(team["ann"])
    body = {"entity_type": team["Person"].pk, "start": 0, "end": 5}
    # an assignment of another document of the same project, in this document's URL
    wrong_doc = reverse("api-annotator-span-list", args=[project.name, other_doc.pk, copy.pk])
    assert _send(client, "POST", wrong_doc, body).status_code == 404
    # a tag of ben's copy under ann's copy
    ben_tag = _tag(team, "ben", "Person", 0, 11)
    url = reverse("api-annotator-span-detail", args=[project.name, document.pk, copy.pk, ben_tag.pk])
    assert _send(client, "DELETE", url).status_code == 404
    # another project's assignment, owned by a user who is owner of both projects
    foreign = ProjectFactory(name="foreign")
    MembershipFactory(project=foreign, user=team["ann"], role=Role.OWNER)
    MembershipFactory(project=foreign, user=team["ben"], role=Role.ANNOTATOR)
    foreign_doc = DocumentFactory(project=foreign)
    foreign_copy = agreement_services.assignments_create(
        project=foreign, document_ids=[foreign_doc.pk], annotators=[team["ann"], team["ben"]], user=team["ann"]
    ).created[0]
    url = reverse("api-annotator-span-list", args=[project.name, document.pk, foreign_copy.pk])
    assert _send(client, "POST", url, body).status_code == 404
    url = reverse("api-assignment-submit", args=[project.name, document.pk, foreign_copy.pk])
    assert _send(client, "POST", url, {}).status_code == 404
    assert _send(_api(UserFactory(username="stranger")), "POST", _urls(team)["submit"], {}).status_code == 404


# --- pages ---------------------------------------------------------------------------------------------------------


def test_tagging_page_points_an_annotator_at_their_copy(team):
    _assign(team)
    page = _api(team["ann"]).get(reverse("labeling:document_annotate", args=[team["project"].name, team["doc"].pk]))
    config = page.context["config"]
    assert config["urls"]["spans"] == _urls(team)["spans"]
    assert config["urls"]["submit"] == _urls(team)["submit"]


def test_assign_page_creates_assignments(team):
    url = reverse("agreement:assignment_list", args=[team["project"].name])
    client = _api(team["owner"])
    page = client.get(url)
    assert page.status_code == 200 and "memo.txt" in page.content.decode()
    response = client.post(url, {"documents": [team["doc"].pk], "annotators": [team["ann"].pk, team["ben"].pk]})
    assert response.status_code == 302
    assert AnnotationAssignment.objects.filter(document=team["doc"]).count() == 2
    listed = client.get(url).content.decode()
    assert "ann" in listed and "Open" in listed


def test_assign_page_explains_bad_input(team):
    url = reverse("agreement:assignment_list", args=[team["project"].name])
    client = _api(team["owner"])
    nothing = client.post(url, {"annotators": [team["ann"].pk, team["ben"].pk]})
    assert nothing.status_code == 400 and "Tick some documents" in nothing.content.decode()
    one = client.post(url, {"documents": [team["doc"].pk], "annotators": [team["ann"].pk]})
    assert one.status_code == 400 and "at least two annotators" in one.content.decode()
    viewer = client.post(url, {"documents": [team["doc"].pk], "annotators": [team["ann"].pk, team["viewer"].pk]})
    assert viewer.status_code == 400 and "not a member of this project who may tag" in viewer.content.decode()
    foreign = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    other = client.post(url, {"documents": [foreign.pk], "annotators": [team["ann"].pk, team["ben"].pk]})
    assert other.status_code == 400
    assert not AnnotationAssignment.objects.exists()


def test_assign_page_shows_a_service_error_without_a_field(team, monkeypatch):
    """A ValidationError that names no field (a list of messages) is shown on the form, not a server error."""
    from labeling.agreement import views

    def refuse(**kwargs: object) -> None:
        raise ValidationError(["The project is being archived; assign later."])

    monkeypatch.setattr(views.services, "assignments_create", refuse)
    url = reverse("agreement:assignment_list", args=[team["project"].name])
    response = _api(team["owner"]).post(
        url, {"documents": [team["doc"].pk], "annotators": [team["ann"].pk, team["ben"].pk]}
    )
    assert response.status_code == 400
    assert "being archived; assign later" in response.content.decode()


def test_only_the_owner_assigns(team):
    url = reverse("agreement:assignment_list", args=[team["project"].name])
    assert _api(team["editor"]).get(url).status_code == 403
    assert _api(team["ann"]).get(url).status_code == 403


def test_report_page_shows_the_matrix_and_worst_documents(team):
    _disagreeing_round(team)
    page = _api(team["viewer"]).get(reverse("agreement:report", args=[team["project"].name]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="pair-matrix"' in html and "memo.txt" in html
    assert "Adjudicate" not in html  # a viewer cannot adjudicate
    owner_html = _api(team["owner"]).get(reverse("agreement:report", args=[team["project"].name])).content.decode()
    assert reverse("agreement:adjudicate", args=[team["project"].name, team["doc"].pk]) in owner_html


def test_annotator_cannot_adjudicate_and_foreign_ids_are_404(team):
    _disagreeing_round(team)
    url = reverse("agreement:adjudicate", args=[team["project"].name, team["doc"].pk])
    assert _api(team["ann"]).get(url).status_code == 403
    assert _api(team["ann"]).post(url, {}).status_code == 403
    foreign_doc = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    MembershipFactory(project=foreign_doc.project, user=team["owner"], role=Role.OWNER)
    foreign_url = reverse("agreement:adjudicate", args=[team["project"].name, foreign_doc.pk])
    assert _api(team["owner"]).get(foreign_url).status_code == 404
    stranger = _api(UserFactory(username="stranger"))
    assert stranger.get(url).status_code == 404
    assert stranger.get(reverse("agreement:report", args=[team["project"].name])).status_code == 404


def test_adjudication_page_merges_the_ticked_tags(team):
    _disagreeing_round(team)
    url = reverse("agreement:adjudicate", args=[team["project"].name, team["doc"].pk])
    client = _api(team["editor"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    agreed = _key(team, "Person", 0, 11)
    ticked = re.findall(r'<input type="checkbox" name="accept" value="([^"]+)"[^>]*\bchecked>', html)
    assert ticked == [agreed]  # only what everyone agreed on is pre-selected
    shown = [c.key for c in page.context["adjudication"].candidates]
    clash = client.post(url, {"shown": shown, "accept": shown})
    assert clash.status_code == 400 and "overlaps" in clash.content.decode()
    response = client.post(url, {"shown": shown, "accept": [agreed, _key(team, "Place", 15, 22)]})
    assert response.status_code == 302
    assert _gold(team["doc"]) == [("Person", "Alice Smith"), ("Place", "Contoso")]
    after = client.get(url).content.decode()
    assert "already merged" in after
