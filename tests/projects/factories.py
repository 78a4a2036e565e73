"""factory_boy factories for the projects app: users, projects, memberships, entity types."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from projects.models import EntityType, Membership, Project
from projects.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project-{n}")
    language = "en"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class EntityTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntityType

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Type{n}")
    color = "#8ecae6"
