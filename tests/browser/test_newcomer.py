"""What a newcomer hits in the first hour, in a real Chromium: the defaults they never touch, the menu they find
their way by, and the numbers and words that must agree from one page to the next."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import EntityType
from projects.roles import Role
from projects.selectors import PALETTE
from tests.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team():
    users = {role: UserFactory(username=f"{role.value}-user") for role in Role}
    project = ProjectFactory(name="first-hour", language="en")
    for role, user in users.items():
        MembershipFactory(project=project, user=user, role=role)
    return {"project": project, **{role.value: user for role, user in users.items()}}


def test_a_new_entity_type_whose_colour_was_not_touched_gets_the_palettes_next_colour(sign_in, team):
    project = team["project"]
    EntityTypeFactory(project=project, name="Person", color=PALETTE[0])
    page = sign_in(team["owner"])
    page.goto(reverse("projects:entity_type_list", args=[project.name]))

    add = page.locator(f'form[action="{reverse("projects:entity_type_list", args=[project.name])}"]')
    add.locator('input[name="name"]').fill("Organization")
    add.locator('button[type="submit"]').click()
    page.wait_for_url("**/entity-types/")

    assert EntityType.objects.get(project=project, name="Organization").color == PALETTE[1]  # never black
