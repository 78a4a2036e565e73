"""The "next document" flow, most uncertain first (active learning): the order, the session choice, the list."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from labeling import selectors
from labeling.models import Document
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import MembershipFactory, ProjectFactory


def scored(project, name, uncertainty, **fields):
    return DocumentFactory(
        project=project,
        name=name,
        uncertainty=uncertainty,
        uncertainty_model="" if uncertainty is None else "model-2",
        **fields,
    )


def annotate_url(document):
    return reverse("labeling:document_annotate", args=[document.project.name, document.pk])


def next_url(project):
    return reverse("labeling:document_next", args=[project.name])


def test_most_uncertain_first_then_unscored_by_id(project, user):
    unscored_first = scored(project, "unscored-1", None)
    sure = scored(project, "sure", 0.1)
    unsure = scored(project, "unsure", 0.9)
    also_unsure = scored(project, "also-unsure", 0.9)
    scored(project, "tagged-but-unsure", 0.99, status=Document.Status.TAGGED)
    unscored_last = scored(project, "unscored-2", None)

    def next_name(after=None):
        found = selectors.document_next_untagged(project=project, user=user, after_id=after, order="uncertainty")
        return found.name if found else None

    assert next_name() == "unsure"  # ties broken by id; tagged documents never come back
    assert next_name(unsure.pk) == "also-unsure"  # the document just left is skipped
    for document in (unsure, also_unsure, sure):
        Document.objects.filter(pk=document.pk).update(status=Document.Status.TAGGED)
    assert next_name() == "unscored-1"  # unscored ones after all the scored ones, by id
    assert next_name(unscored_first.pk) == "unscored-2"
    Document.objects.filter(pk=unscored_last.pk).update(status=Document.Status.IN_PROGRESS)
    assert next_name(unscored_first.pk) == "unscored-2"  # in progress is still to tag


def test_uncertainty_order_keeps_assignments(project, user, member_of):
    other = member_of(project, "annotator", username="bea")
    scored(project, "others-very-unsure", 0.99, assigned_to=other)
    scored(project, "free-unsure", 0.8)
    mine = scored(project, "mine-sure", 0.2, assigned_to=user)

    def next_name(after=None):
        found = selectors.document_next_untagged(project=project, user=user, after_id=after, order="uncertainty")
        return found.name if found else None

    assert next_name() == "mine-sure"  # my own assignments first, however sure the model is
    assert next_name(mine.pk) == "free-unsure"  # someone else's document is never offered
    assert selectors.document_next_untagged(project=project, user=other, order="uncertainty").name == (
        "others-very-unsure"
    )


def test_sequence_stays_the_default_order(project, user):
    scored(project, "a", 0.1)
    scored(project, "b", 0.9)
    assert selectors.document_next_untagged(project=project, user=user).name == "a"


def test_unknown_order_is_refused(project, user):
    with pytest.raises(ValueError, match="unknown order 'random'"):
        selectors.document_next_untagged(project=project, user=user, order="random")


# --- the view and the session choice ------------------------------------------------------------------------------


def test_choosing_most_uncertain_first_is_remembered(owner_client, project):
    first = scored(project, "first", 0.2)
    unsure = scored(project, "unsure", 0.7)
    response = owner_client.get(next_url(project))
    assert response["Location"] == annotate_url(first)  # nothing chosen yet: in order

    response = owner_client.get(f"{next_url(project)}?order=uncertainty")
    assert response.status_code == 302 and response["Location"] == annotate_url(unsure)
    # "Next untagged" on the tagging page carries no order: the choice is remembered.
    response = owner_client.get(f"{next_url(project)}?after={first.pk}")
    assert response["Location"] == annotate_url(unsure)

    response = owner_client.get(f"{next_url(project)}?order=sequence")
    assert response["Location"] == annotate_url(first)
    assert owner_client.get(next_url(project))["Location"] == annotate_url(first)


def test_an_unknown_order_says_so_and_keeps_the_choice(owner_client, project):
    scored(project, "first", 0.2)
    unsure = scored(project, "unsure", 0.7)
    owner_client.get(f"{next_url(project)}?order=uncertainty")
    response = owner_client.get(f"{next_url(project)}?order=shuffle")
    assert response["Location"] == annotate_url(unsure)
    assert "Unknown order 'shuffle'" in str(next(iter(get_messages(response.wsgi_request))))


def test_nothing_left_in_uncertainty_order(owner_client, project):
    scored(project, "done", 0.9, status=Document.Status.TAGGED)
    response = owner_client.get(f"{next_url(project)}?order=uncertainty")
    assert response["Location"] == reverse("labeling:document_list", args=[project.name])


def test_another_projects_next_document_is_404(owner_client, project):
    foreign = ProjectFactory(name="foreign")
    MembershipFactory(project=foreign)
    scored(foreign, "secret", 0.9)
    assert owner_client.get(f"{next_url(foreign)}?order=uncertainty").status_code == 404


# --- the document list ----------------------------------------------------------------------------------------------


def test_document_list_offers_the_order_and_shows_the_scores(owner_client, project):
    scored(project, "unsure", 0.734)
    scored(project, "tagged", 0.5, status=Document.Status.TAGGED)
    scored(project, "new", None)
    url = reverse("labeling:document_list", args=[project.name])
    body = owner_client.get(url).content.decode()
    assert f'action="{next_url(project)}"' in body
    assert '<option value="sequence">in order</option>' in body
    assert "most uncertain first (scored by model-2)</option>" in body
    assert body.count("(scored by model-2)") == 1
    assert ">0.73</span>" in body  # the open document's score
    assert ">0.50</span>" not in body  # a tagged document's score means nothing any more
    assert '<option value="uncertainty">' in body  # not chosen yet

    owner_client.get(f"{next_url(project)}?order=uncertainty")
    body = owner_client.get(url).content.decode()
    assert '<option value="uncertainty" selected>' in body


def test_document_list_without_scores(owner_client, project):
    DocumentFactory(project=project)
    body = owner_client.get(reverse("labeling:document_list", args=[project.name])).content.decode()
    assert "most uncertain first (no model has scored them yet)</option>" in body and "scored by" not in body


def test_viewers_get_no_order_control(client, project, member_of):
    scored(project, "unsure", 0.7)
    client.force_login(member_of(project, "viewer"))
    body = client.get(reverse("labeling:document_list", args=[project.name])).content.decode()
    assert "most uncertain first" not in body
