"""Pages at the widths of common phones (360 and 375 px) and of a small tablet window: nothing scrolls sideways and
no field hides under a button."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.roles import Role
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def team():
    owner = UserFactory(username="owner-with-a-longish-name")
    annotators = [UserFactory(username=f"annotator-number-{n}") for n in range(2)]
    project = ProjectFactory(name="loan-agreements-eu", language="en")
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    for annotator in annotators:
        MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    EntityTypeFactory(project=project, name="Person")
    return {"project": project, "owner": owner}


@pytest.mark.parametrize("width", [360, 375])
@pytest.mark.parametrize("page_name", ["projects:project_detail", "agreement:assignment_list"])
def test_phone_widths_do_not_scroll_sideways(sign_in, team, page_name, width):
    page = sign_in(team["owner"], width=width, height=800)
    page.goto(reverse(page_name, args=[team["project"].name]))

    assert page.evaluate(_OVERFLOW_JS) <= 0


@pytest.mark.parametrize("width", [375, 600, 800])
def test_the_add_entity_type_form_keeps_the_description_field_clear_of_the_add_button(sign_in, team, width):
    project = team["project"]
    page = sign_in(team["owner"], width=width, height=800)
    page.goto(reverse("projects:entity_type_list", args=[project.name]))
    form = page.locator(f'form[action="{reverse("projects:entity_type_list", args=[project.name])}"]')

    field = form.locator('input[name="description"]').bounding_box()
    button = form.locator('button[type="submit"]').bounding_box()
    assert field is not None and button is not None
    side_by_side = field["y"] < button["y"] + button["height"] and button["y"] < field["y"] + field["height"]
    assert not side_by_side or field["x"] + field["width"] <= button["x"], (field, button)
    assert page.evaluate(_OVERFLOW_JS) <= 0
