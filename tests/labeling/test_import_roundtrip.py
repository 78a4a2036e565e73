"""Round trip: export -> import into a NEW project gives identical documents and spans, in every format.

The shared datasets are imported through the CoNLL reader (subsets, to keep the suite quick), then exported in each
format and imported into a fresh project. Formats that hold names, languages and splits (Azure, doccano, Label
Studio, spaCy, JSONL) must give back all of them; CoNLL holds texts as tokens and their tags only, so with its
whitespace tokenizer the texts and spans come back, and nothing else.
"""

from __future__ import annotations

import json

import pytest

from labeling.imports import ImportOptions, labeled_docs_import, project_export_file, project_import_file
from ner.formats import FORMATS
from ner.formats.conll import read_conll
from projects.models import Project
from tests.labeling.imports_helpers import contents, dataset, zip_of
from tests.projects.factories import MembershipFactory, ProjectFactory

RICH_FORMATS = [name for name in FORMATS if name != "conll"]

DATASETS = {
    # name: (file, language, reader options, how many documents to keep)
    "wnut17": ("wnut17/emerging.dev.conll", "en", {}, 300),
    "conll2003": ("conll2003/eng.testb.conll", "en", {}, 12),
    "sec_filings": ("sec_filings_fin/FIN3.txt", "en", {}, None),
    "wikiann": ("wikiann/en.dev.iob", "en", {"strip_language_prefix": True}, 300),
    "conll2002_es": ("conll2002_es/esp.testb.conll", "es", {}, 200),
}


def _new_project(user, language: str, **fields) -> Project:
    project = ProjectFactory(language=language, **fields)
    MembershipFactory(project=project, user=user)
    return project


def _round_trip(source: Project, user, format: str, **export) -> Project:
    exported = project_export_file(project=source, format=format, **export)
    target = _new_project(user, source.language, label_mode=source.label_mode, overlap_policy=source.overlap_policy)
    report = project_import_file(
        project=target,
        user=user,
        format=format,
        data=exported.data,
        file_name=exported.file_name,
        options=ImportOptions(create_missing_types=True),
    )
    assert report.written, [str(problem) for problem in report.problems[:5]]
    assert (report.accepted, report.rejected, report.duplicates) == (report.total, 0, 0)
    return target


@pytest.fixture(scope="module", params=list(DATASETS))
def source_docs(request):
    relative, language, options, keep = DATASETS[request.param]
    docs = read_conll(dataset(relative), file_name=relative.rsplit("/", 1)[-1], **options)
    return language, docs[:keep] if keep else docs


@pytest.mark.django_db
def test_dataset_round_trips_through_every_format(source_docs, user):
    language, docs = source_docs
    source = _new_project(user, language)
    report = labeled_docs_import(project=source, user=user, docs=docs, create_missing_types=True)
    assert report.written and report.accepted + report.duplicates == len(docs), report.problems[:5]
    expected = contents(source)
    assert sum(len(row[1]) for row in expected) > 0
    for format in RICH_FORMATS:
        # Azure names documents by their .txt file; the zip keeps other names beside it (issue 15 item 8).
        assert contents(_round_trip(source, user, format)) == expected, format
    conll = _round_trip(source, user, "conll", tokenizer="whitespace")
    assert contents(conll, names=False, meta=False) == contents(source, names=False, meta=False)


# --- the reference's Azure example: UTF-16 offsets, emoji, CRLF ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("label_mode", [Project.LabelMode.TOKEN, Project.LabelMode.CHARACTER])
def test_azure_example_round_trips_through_every_format(user, label_mode):
    from tests.ner.test_formats_azure import ENTITIES, TEXT, ga_project

    labels = ga_project()
    second = TEXT.replace("Parker McLean", "Jane Doe 🙂").replace("6/29/2018", "7/01/2019")
    labels["assets"]["documents"].append({"location": "02.txt", "language": "en-GB", "dataset": "Test"})
    upload = zip_of({"labels.json": json.dumps(labels).encode(), "01.txt": TEXT.encode(), "02.txt": second.encode()})
    source = _new_project(user, "en", label_mode=label_mode)
    report = project_import_file(
        project=source,
        user=user,
        format="azure",
        data=upload,
        file_name="LoanAgreement.zip",
        options=ImportOptions(create_missing_types=True),
    )
    assert report.written, report.problems
    expected = contents(source)
    first = expected[0]
    assert first[0] == TEXT and "\r\n" in first[0]  # CRLF kept
    assert [(label, first[0][s.start : s.end]) for s in first[1] for label in [s.label]] == sorted(
        ENTITIES, key=lambda entity: TEXT.index(entity[1])
    )
    assert first[2:] == ("01.txt", "en-US", "train") and expected[1][2:] == ("02.txt", "en-GB", "test")
    for format in RICH_FORMATS:
        assert contents(_round_trip(source, user, format)) == expected, format
