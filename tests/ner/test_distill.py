"""Teacher → student (issue 11, item 5): silver labels from a teacher's predictions over untagged documents, and the
CNN trained on gold + silver. No database."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import spacy

from ner.distill import DistillError, SilverDoc, SilverSet, model_fingerprint, silver_set_build
from ner.predict import ScoredSpan, load
from ner.train import TrainCancelled, _examples, _SpanReport, train
from ner.types import LabeledDoc, Span
from tests.ner.synthetic_docs import CITIES, PEOPLE, QUICK, labeled_docs, train_quick


@dataclass
class FixedTeacher:
    """A teacher whose predictions the test writes: text -> entities with their confidence."""

    answers: dict[str, list[ScoredSpan]]
    model_dir: Path
    labels: tuple[str, ...] = ("CITY", "PERSON")

    def predict(self, texts, *, with_confidence=False):  # the Predictor.predict the silver set calls
        assert with_confidence
        return [self.answers.get(text, []) for text in texts]


def _fixed_teacher(tmp_path: Path, answers: dict[str, list[ScoredSpan]]) -> FixedTeacher:
    folder = tmp_path / "teacher"
    folder.mkdir(exist_ok=True)
    (folder / "meta.json").write_text("{}")
    return FixedTeacher(answers, folder)


GOLD = [
    LabeledDoc("Alice Smith flew to Paris.", (Span(0, 11, "PERSON"), Span(20, 25, "CITY")), split="train"),
    LabeledDoc("Bob Jones drove to Oslo.", (Span(0, 9, "PERSON"), Span(19, 23, "CITY")), split="test"),
]


def test_confident_entities_become_spans_and_unsure_ones_unknown(tmp_path):
    text = "Carol White met Frank Green in Madrid."
    teacher = _fixed_teacher(
        tmp_path,
        {
            text: [
                ScoredSpan(0, 11, "PERSON", 0.9),
                ScoredSpan(16, 27, "PERSON", 0.3),
                ScoredSpan(31, 37, "CITY", 0.5),  # exactly the threshold: kept
            ]
        },
    )
    silver = silver_set_build(
        teacher=teacher, teacher_name="enc", untagged=[LabeledDoc(text, name="a.txt")], gold=GOLD, threshold=0.5
    )
    (doc,) = silver.docs
    assert doc.spans == (Span(0, 11, "PERSON"), Span(31, 37, "CITY"))
    assert doc.unknown == (Span(16, 27, "PERSON"),)
    assert (silver.span_count, silver.unknown_count, silver.threshold) == (2, 1, 0.5)
    everything = silver_set_build(
        teacher=teacher, teacher_name="enc", untagged=[LabeledDoc(text)], gold=GOLD, threshold=0.0
    )
    assert everything.docs[0].spans == (Span(0, 11, "PERSON"), Span(16, 27, "PERSON"), Span(31, 37, "CITY"))
    # The meta says which silver data: other labels, other hash.
    assert silver.to_meta()["content_hash"] != everything.to_meta()["content_hash"]


def test_gold_and_test_documents_never_become_silver(tmp_path):
    new = "Eve Black moved to Vienna."
    teacher = _fixed_teacher(
        tmp_path,
        {
            GOLD[0].text: [ScoredSpan(0, 5, "CITY", 1.0)],  # a wrong guess about a gold document
            new: [ScoredSpan(0, 9, "PERSON", 0.99)],
        },
    )
    untagged = [
        LabeledDoc(GOLD[0].text),  # the same text as a gold training document: its gold spans stay
        LabeledDoc(GOLD[1].text),  # a test document's text
        LabeledDoc("Lisbon is far.", split="test"),  # would be on the test side once tagged
        LabeledDoc(new),
        LabeledDoc(new),  # twice: labelled once
    ]
    silver = silver_set_build(teacher=teacher, teacher_name="enc", untagged=untagged, gold=GOLD)
    assert [doc.text for doc in silver.docs] == [new]
    assert (silver.offered, silver.excluded_gold, silver.excluded_test) == (5, 1, 2)
    assert silver.to_meta()["documents"] == 1 and silver.to_meta()["spans"] == 1


def test_a_teacher_label_the_gold_documents_lack_is_left_unknown(tmp_path):
    text = "Alice Smith works at Acme."
    teacher = _fixed_teacher(tmp_path, {text: [ScoredSpan(0, 11, "PERSON", 0.9), ScoredSpan(21, 25, "ORG", 0.9)]})
    teacher.labels = ("CITY", "ORG", "PERSON")
    silver = silver_set_build(teacher=teacher, teacher_name="enc", untagged=[LabeledDoc(text)], gold=GOLD)
    assert silver.docs[0].spans == (Span(0, 11, "PERSON"),)
    assert silver.docs[0].unknown == (Span(21, 25, "ORG"),) and silver.unknown_labels == 1


def test_a_teacher_without_the_gold_labels_and_a_bad_threshold_are_refused(tmp_path):
    teacher = _fixed_teacher(tmp_path, {})
    teacher.labels = ("ORG",)
    with pytest.raises(DistillError, match="knows none of the gold documents' labels"):
        silver_set_build(teacher=teacher, teacher_name="enc", untagged=[], gold=GOLD)
    teacher.labels = ("PERSON",)
    with pytest.raises(DistillError, match="threshold must be from 0 to 1"):
        silver_set_build(teacher=teacher, teacher_name="enc", untagged=[], gold=GOLD, threshold=1.5)


def test_progress_is_reported_and_a_cancel_stops_the_teacher(tmp_path, monkeypatch):
    monkeypatch.setattr("ner.distill.TEACHER_BATCH_DOCUMENTS", 2)
    teacher = _fixed_teacher(tmp_path, {})
    untagged = [LabeledDoc(f"Nothing happened on day {day}.") for day in range(5)]
    seen: list[tuple[int, int]] = []
    silver_set_build(
        teacher=teacher, teacher_name="enc", untagged=untagged, gold=GOLD, on_progress=lambda *p: seen.append(p)
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]
    with pytest.raises(TrainCancelled):
        silver_set_build(teacher=teacher, teacher_name="enc", untagged=untagged, gold=GOLD, should_stop=lambda: True)


def test_unsure_tokens_are_missing_in_the_students_example_and_the_rest_outside():
    nlp = spacy.blank("en")
    doc = SilverDoc(
        "Carol White met Frank Green in Madrid.",
        spans=(Span(0, 11, "PERSON"),),
        unknown=(Span(16, 27, "PERSON"),),
    )
    (example,) = _examples(nlp, [doc.as_labeled()], _SpanReport(), unknown=[doc.unknown])
    iob = [token.ent_iob_ for token in example.reference]
    # Carol White | met | Frank Green | in | Madrid | .
    assert iob == ["B", "I", "O", "", "", "O", "O", "O"]
    (gold_example,) = _examples(nlp, [doc.as_labeled()], _SpanReport())
    assert "" not in [token.ent_iob_ for token in gold_example.reference]


def test_a_teachers_fingerprint_ignores_spacys_measured_speed_but_not_its_weights(tmp_path):
    folder = tmp_path / "model"
    (folder / "ner").mkdir(parents=True)
    (folder / "ner" / "model").write_bytes(b"weights")
    meta = {"lang": "en", "performance": {"speed": 1234.5}, "nerlab": {"seed": 0}}
    (folder / "meta.json").write_text(json.dumps(meta))
    first = model_fingerprint(folder)
    (folder / "meta.json").write_text(json.dumps({**meta, "performance": {"speed": 999.0}}))
    assert model_fingerprint(folder) == first
    (folder / "meta.json").write_text(json.dumps({**meta, "nerlab": {"seed": 1}}))
    assert model_fingerprint(folder) != first
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "ner" / "model").write_bytes(b"other weights")
    assert model_fingerprint(folder) != first


def _untagged(count: int) -> list[LabeledDoc]:
    return [
        LabeledDoc(f"Last week {PEOPLE[i % 6]} travelled to {CITIES[(i * 5 + 2) % 6]} on business, trip {i}.")
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def teacher_and_silver(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    result = train_quick(root / "teacher")
    teacher = load(result.model_path)
    gold = [replace(doc, split="train") for doc in labeled_docs()]
    silver = silver_set_build(teacher=teacher, teacher_name="teacher", untagged=_untagged(24), gold=gold)
    return root, result, silver


def test_the_student_trains_on_gold_and_silver_and_records_its_teacher(teacher_and_silver, tmp_path):
    _root, teacher_result, silver = teacher_and_silver
    assert silver.docs and silver.span_count > 0
    assert silver.teacher_fingerprint == model_fingerprint(teacher_result.model_path)
    docs = labeled_docs()
    student = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "student", settings=QUICK, silver=silver)
    meta = json.loads((student.model_path / "meta.json").read_text())["nerlab"]
    assert meta["silver"] == silver.to_meta()
    assert meta["silver"]["teacher"] == "teacher" and meta["silver"]["documents"] == 24
    # Silver goes to the training side only: dev stays the 3 gold documents, and the model still finds people.
    assert (student.train_documents, student.dev_documents) == (27, 3)
    assert student.train_examples == 27 + 24
    found = load(student.model_path).predict(["Yesterday Bob Jones flew to Oslo for meeting number 3."])
    assert Span(10, 19, "PERSON") in [scored.as_span() for scored in found[0]]


def test_the_same_teacher_and_inputs_give_a_byte_identical_student(teacher_and_silver, tmp_path):
    _root, teacher_result, _ = teacher_and_silver
    docs = labeled_docs()
    gold = [replace(doc, split="train") for doc in docs]
    students = []
    for attempt in ("one", "two"):
        silver = silver_set_build(
            teacher=load(teacher_result.model_path), teacher_name="teacher", untagged=_untagged(24), gold=gold
        )
        students.append(
            train(docs[:27], docs[27:], language="en", output_dir=tmp_path / attempt, settings=QUICK, silver=silver)
        )
    one, two = (student.model_path for student in students)
    for part in ("ner/model", "tok2vec/model", "calibration.json", "config.cfg"):
        if (one / part).exists():
            assert (one / part).read_bytes() == (two / part).read_bytes(), part
    # meta.json differs only in spaCy's measured speed; what nerlab records of the run is the same.
    assert (
        json.loads((one / "meta.json").read_text())["nerlab"] == json.loads((two / "meta.json").read_text())["nerlab"]
    )


def test_a_silver_set_with_no_documents_trains_like_gold_alone(tmp_path):
    empty = SilverSet(docs=(), teacher="t", teacher_fingerprint="0" * 64, threshold=0.5)
    docs = labeled_docs()
    with_empty = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "a", settings=QUICK, silver=empty)
    alone = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "b", settings=QUICK)
    assert (with_empty.model_path / "ner" / "model").read_bytes() == (alone.model_path / "ner" / "model").read_bytes()
