from __future__ import annotations

from django.urls import reverse

from evaluation import selectors
from evaluation.models import Evaluation
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span
from tests.evaluation.objects import finished_model
from tests.factories import DocumentFactory, EntityTypeFactory


def _report(pairs):
    return evaluate(pairs, resamples=20)


def test_guidance_flags_rare_missing_imbalance_drift_and_confusion(project):
    text = "Alice met Bob in Paris and Carol in Rome."
    gold = LabeledDoc(
        text=text,
        spans=(Span(0, 5, "Person"), Span(10, 13, "Person"), Span(17, 22, "City"), Span(27, 32, "Person")),
    )
    # The model calls two of the three people Cities.
    predicted = [Span(0, 5, "City"), Span(10, 13, "City"), Span(17, 22, "City"), Span(27, 32, "Person")]
    report = _report([(gold, predicted)])
    advice = selectors._advice(report, {"Person": 200, "City": 30, "Date": 4}, {"Person": 3, "City": 1}, project)
    kinds = {item.kind: item for item in advice}
    assert set(kinds) == {"few_examples", "missing_in_test", "imbalance", "confusion"} | (
        {"distribution"} if "distribution" in kinds else set()
    )
    assert "Date (4)" in kinds["few_examples"].message
    assert "Date" in kinds["missing_in_test"].message
    assert "Person has 200 training examples, Date only 4" in kinds["imbalance"].message
    assert kinds["confusion"].labels == ("Person", "City")


def test_guidance_distribution_mismatch(project):
    report = _report([([Span(0, 1, "A")], [Span(0, 1, "A")])])
    advice = selectors._advice(report, {"A": 90, "B": 90}, {"A": 50, "B": 2}, project)
    assert any(item.kind == "distribution" and "B" in item.message for item in advice)


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


def test_guidance_flags_a_type_the_model_leaves_unfound(project):
    text = "Contoso and Fabrikam and Litware signed with Alice."
    gold = LabeledDoc(
        text=text,
        spans=(Span(0, 7, "Org"), Span(12, 20, "Org"), Span(25, 32, "Org"), Span(45, 50, "Person")),
    )
    report = _report([(gold, [Span(45, 50, "Person")])])
    advice = selectors._advice(report, {"Org": 60, "Person": 60}, {"Org": 3, "Person": 1}, project)
    missed = [item for item in advice if item.kind == "missed"]
    assert [item.labels for item in missed] == [("Org",)]
    assert "100% of them were not predicted" in missed[0].message
