from __future__ import annotations

from django.urls import reverse

from evaluation.models import Evaluation
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span
from tests.evaluation.factories import finished_model
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory


def _report(pairs):
    return evaluate(pairs, resamples=20)


def test_confusion_links_to_merge_page(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person")
    city = EntityTypeFactory(project=project, name="City")
    document = DocumentFactory(project=project, text="Alice met Bob in Paris.")
    model = finished_model(project, document)
    gold = LabeledDoc(text=document.text, spans=(Span(0, 5, "Person"), Span(10, 13, "Person")))
    report = _report([(gold, [Span(0, 5, "City"), Span(10, 13, "City")])])
    Evaluation.objects.filter(model=model).update(report=report.to_dict())
    html = owner_client.get(reverse("evaluation:trained_model_detail", args=[project.name, model.pk])).content.decode()
    merge = reverse("entity_types:merge", args=[project.name])
    assert f"{merge}?source={person.pk}&amp;target={city.pk}" in html
    assert "The model confuses Person with City" in html
