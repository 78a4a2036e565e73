"""factory_boy factories for the models tests need."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from labeling.models import Document, Span
from ner.text import content_hash
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


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"doc{n}.txt")
    text = factory.Sequence(lambda n: f"Document number {n} mentions Alice Smith of Contoso in Paris.")
    content_hash = factory.LazyAttribute(lambda doc: content_hash(doc.text))
    char_count = factory.LazyAttribute(lambda doc: len(doc.text))


class SpanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Span

    document = factory.SubFactory(DocumentFactory)
    entity_type = factory.SubFactory(EntityTypeFactory, project=factory.SelfAttribute("..document.project"))
    start = 0
    end = 8
