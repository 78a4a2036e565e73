from __future__ import annotations

import pytest

from projects.roles import Role
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def project(db, user):
    project = ProjectFactory(name="contracts")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    return project


@pytest.fixture
def member_of(db):
    """Make a user with a given role in a project: ``member_of(project, "annotator")``."""

    def make(project, role: str, username: str | None = None):
        user = UserFactory(username=username or f"{role}-{project.name}")
        MembershipFactory(project=project, user=user, role=role)
        return user

    return make


@pytest.fixture
def owner_client(client, user, project):
    client.force_login(user)
    return client
