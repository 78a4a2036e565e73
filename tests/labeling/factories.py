"""factory_boy factories for the labeling app: documents and spans."""

from __future__ import annotations

import factory

from labeling.models import Document, Span
from ner.text import content_hash
from tests.projects.factories import EntityTypeFactory, ProjectFactory


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
