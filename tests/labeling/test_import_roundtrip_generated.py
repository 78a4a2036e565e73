"""Hypothesis-generated projects: import, export in every format nerlab writes, import into a new project — the
same documents in the fields each format holds (README, "Formats"), metadata included where the format keeps it."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.imports import ImportOptions, labeled_docs_import, project_export_file, project_import_file
from labeling.models import Document
from ner.formats import FORMATS
from ner.types import LabeledDoc, Span
from projects.models import Project
from tests.labeling.imports_helpers import contents
from tests.projects.factories import MembershipFactory, ProjectFactory

WORDS = st.sampled_from(["Ada", "Lovelace", "met", "Bob", "in", "Paris", "😀", "東京", "naïve", "Zoë", "on", "3", "."])
LABELS = st.sampled_from(["PER", "LOC", "Loan_Amount"])  # a CoNLL tag column holds no spaces
# CSV: "" reads as no value; a NUL is refused (ner.text.check_meta)
VALUES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=8)
META = st.dictionaries(st.from_regex(r"k_[a-z]{1,5}", fullmatch=True), VALUES, max_size=2)
# What each format gives back besides texts and spans (CoNLL: tokens and tags only).
HOLDS_NAMES = {"azure", "doccano", "label-studio", "label-studio-csv", "prodigy", "spacy", "jsonl"}
HOLDS_METADATA = {"doccano", "label-studio", "label-studio-csv", "prodigy", "jsonl"}


@st.composite
def projects(draw: st.DrawFn) -> list[LabeledDoc]:
    """Whole-word spans over texts of words joined by spaces, one sentence per line (so every format holds them)."""
    docs: list[LabeledDoc] = []
    for number in range(draw(st.integers(1, 4))):
        lines = draw(st.lists(st.lists(WORDS, min_size=1, max_size=6), min_size=1, max_size=3))
        text, spans = "", []
        for line_number, words in enumerate(lines):
            if line_number:
                text += "\n"
            for index, word in enumerate(words):
                if index:
                    text += " "
                start = len(text)
                text += word
                if draw(st.integers(0, 3)) == 0 and not (spans and spans[-1].end >= start - 1):
                    spans.append(Span(start, len(text), draw(LABELS)))
        text += f" #{number}"  # texts differ, so none is a duplicate
        docs.append(
            LabeledDoc(
                text=text,
                spans=tuple(spans),
                name=f"doc-{number}",
                language=draw(st.sampled_from([None, "en", "fr"])),
                split=draw(st.sampled_from([None, "train", "test"])),
                meta=draw(META),
            )
        )
    return docs


def _metadata(project: Project) -> list[dict[str, str]]:
    return [
        dict(meta) for meta in Document.objects.filter(project=project).order_by("pk").values_list("meta", flat=True)
    ]


@pytest.mark.django_db
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(docs=projects())
def test_generated_projects_round_trip_through_every_format(user, docs: list[LabeledDoc]) -> None:
    with transaction.atomic():
        source = ProjectFactory(language="en", multilingual=True, label_mode=Project.LabelMode.CHARACTER)
        MembershipFactory(project=source, user=user)
        assert labeled_docs_import(project=source, user=user, docs=docs, create_missing_types=True).written
        want, want_meta = contents(source), _metadata(source)
        for format in FORMATS:
            exported = project_export_file(project=source, format=format, tokenizer="whitespace")
            target = ProjectFactory(language="en", multilingual=True, label_mode=Project.LabelMode.CHARACTER)
            MembershipFactory(project=target, user=user)
            report = project_import_file(
                project=target,
                user=user,
                format="auto",
                data=exported.data,
                file_name=exported.file_name,
                options=ImportOptions(create_missing_types=True),
            )
            assert report.written and report.format == format, (format, [str(p) for p in report.problems[:3]])
            if format in HOLDS_NAMES:
                assert contents(target) == want, format
            else:
                assert contents(target, names=False, meta=False) == contents(source, names=False, meta=False), format
            if format in HOLDS_METADATA:
                assert _metadata(target) == want_meta, format
        transaction.set_rollback(True)
