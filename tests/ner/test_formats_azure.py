"""Azure custom NER labels files: the GA shape, every legacy variant, and errors that name document and field."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from ner.formats import FORMATS, FormatError
from ner.formats.azure import read_azure_labels, read_azure_zip, write_azure, write_azure_labels
from ner.types import LabeledDoc, Span

TEXT = (
    "Date: 6/29/2018 😀\r\n"
    "Borrower: Parker McLean 👩‍💻 of 9876 Fusce Rd, Frederick\r\n"
    "Amount: six hundred Dollars ($623,463.00)\r\n"
)
ENTITIES = [
    ("Date", "6/29/2018"),
    ("BorrowerName", "Parker McLean"),
    ("BorrowerAddress", "9876 Fusce Rd"),
    ("BorrowerCity", "Frederick"),
    ("LoanAmountNumbers", "$623,463.00"),
]


def utf16(text: str) -> int:
    """Length in UTF-16 code units, computed by Python's encoder (independent of ner.offsets)."""
    return len(text.encode("utf-16-le")) // 2


def label(category: str, surface: str, key: str = "category") -> dict[str, Any]:
    start = TEXT.index(surface)
    return {key: category, "offset": utf16(TEXT[:start]), "length": utf16(surface)}


def ga_project(**overrides: Any) -> dict[str, Any]:
    """The reference's §3.3 example shape, over a CRLF text with emoji before the entities."""
    project: dict[str, Any] = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": "LoanAgreement",
            "storageInputContainerName": "example-data",
            "projectKind": "CustomEntityRecognition",
            "description": "Trying out custom named entity recognition",
            "language": "en",
            "multilingual": False,
            "settings": {},
        },
        "assets": {
            "projectKind": "CustomEntityRecognition",
            "entities": [{"category": category} for category, _ in ENTITIES],
            "documents": [
                {
                    "location": "01.txt",
                    "language": "en-us",
                    "dataset": "Train",
                    "entities": [
                        {
                            "regionOffset": 0,
                            "regionLength": utf16(TEXT),
                            # Unsorted, as in Microsoft's own file.
                            "labels": [label(c, s) for c, s in reversed(ENTITIES)],
                        }
                    ],
                }
            ],
        },
    }
    project.update(overrides)
    return project


def read(project: dict[str, Any], texts: dict[str, str] | None = None) -> list[LabeledDoc]:
    data = json.dumps(project).encode()
    return read_azure_labels(data, texts if texts is not None else {"01.txt": TEXT}, file_name="labels.json").documents


def surfaces(doc: LabeledDoc) -> list[tuple[str, str]]:
    return [(span.label, span.text_in(doc.text)) for span in doc.spans]


def test_ga_example_reads_utf16_offsets_over_crlf_text_with_emoji() -> None:
    project = read_azure_labels(json.dumps(ga_project()).encode(), {"01.txt": TEXT}, file_name="labels.json")
    (doc,) = project.documents
    assert sorted(surfaces(doc)) == sorted(ENTITIES)
    assert (doc.name, doc.language, doc.split, doc.text) == ("01.txt", "en-US", "train", TEXT)
    assert project.project_name == "LoanAgreement"
    assert project.entity_types == tuple(category for category, _ in ENTITIES)
    assert project.storage_container == "example-data"


def test_ga_example_round_trips_to_the_same_labels_file() -> None:
    docs = read(ga_project())
    labels, texts = write_azure_labels(
        docs, project_name="LoanAgreement", storage_container="example-data", language="en",
        description="Trying out custom named entity recognition", entity_types=[c for c, _ in ENTITIES],
    )  # fmt: skip
    written = json.loads(labels)
    original = ga_project()
    original_doc = original["assets"]["documents"][0]
    original_doc["language"] = "en-US"
    original_doc["entities"][0]["labels"].sort(key=lambda item: item["offset"])
    assert written == original
    assert texts == {"01.txt": TEXT}
    assert read_azure_labels(labels, texts).documents == docs


def test_zip_round_trip_keeps_crlf_and_a_leading_bom_character() -> None:
    docs = [
        LabeledDoc(TEXT, tuple(sorted(read(ga_project())[0].spans)), "01.txt", "en-US", "train"),
        LabeledDoc("\ufeffBOM first 😀 Ada", (Span(13, 16, "BorrowerName"),), "02.txt", "fr", "test"),
    ]
    data = write_azure(docs)
    assert FORMATS["azure"].reader(data, file_name="export.zip") == docs
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("01.txt") == TEXT.encode("utf-8")  # CRLF kept, no BOM, as Azure's samples
        assert sorted(archive.namelist()) == ["01.txt", "02.txt", "labels.json"]
    assert read_azure_zip(data).multilingual is True


def test_2021_preview_with_extractors_is_read() -> None:
    project = {
        "extractors": [{"name": category} for category, _ in ENTITIES],
        "documents": [
            {
                "location": "01.txt",
                "language": "en-us",
                "extractors": [
                    {
                        "regionOffset": 0,
                        "regionLength": utf16(TEXT),
                        "labels": [label(c, s, key="extractorName") for c, s in ENTITIES],
                    }
                ],
            }
        ],
    }
    (doc,) = read(project)
    assert surfaces(doc) == sorted(ENTITIES, key=lambda item: TEXT.index(item[1]))


def test_jan_2022_preview_with_entity_names_is_read() -> None:
    project = {
        "entityNames": [category for category, _ in ENTITIES],
        "documents": [
            {"location": "01.txt", "language": "en", "entities": [{"labels": [label(c, s) for c, s in ENTITIES]}]}
        ],
    }
    (doc,) = read(project)
    assert len(doc.spans) == len(ENTITIES) and doc.split is None


def test_spec_example_spelling_and_mixed_project_kinds_are_accepted() -> None:
    project = ga_project()
    project["project-file-version"] = project.pop("projectFileVersion")
    project["metadata"]["projectKind"] = "customNamedEntityRecognition"
    project["metadata"]["multilingual"] = "true"
    del project["assets"]["projectKind"]
    result = read_azure_labels(json.dumps(project).encode(), {"data/01.txt": TEXT})  # found by base name
    assert result.file_version == "2022-05-01" and result.multilingual is True
    assert len(result.documents[0].spans) == len(ENTITIES)


def test_labels_directly_under_a_document_and_unlabelled_documents_are_read() -> None:
    project = ga_project()
    project["assets"]["documents"] = [
        {"location": "01.txt", "labels": [label("Date", "6/29/2018")]},
        {"location": "02.txt"},
    ]
    docs = read(project, {"01.txt": TEXT, "02.txt": "nothing here"})
    assert surfaces(docs[0]) == [("Date", "6/29/2018")]
    assert docs[0].language == "en"  # the project's language
    assert docs[1].spans == ()


def test_code_point_and_utf8_index_types_are_converted() -> None:
    start = TEXT.index("Parker McLean")
    for index_type, offset in (("UnicodeCodePoint", start), ("Utf8CodeUnit", len(TEXT[:start].encode()))):
        project = ga_project(stringIndexType=index_type)
        project["assets"]["documents"][0]["entities"] = [
            {"labels": [{"category": "BorrowerName", "offset": offset, "length": 13}]}
        ]
        assert surfaces(read(project)[0]) == [("BorrowerName", "Parker McLean")]


def errors_of(project: dict[str, Any] | bytes, texts: dict[str, str] | None = None) -> list[str]:
    data = project if isinstance(project, bytes) else json.dumps(project).encode()
    with pytest.raises(FormatError) as caught:
        read_azure_labels(data, texts if texts is not None else {"01.txt": TEXT}, file_name="labels.json")
    return caught.value.messages


def test_offsets_counted_with_crlf_over_an_lf_text_say_so() -> None:
    messages = errors_of(ga_project(), {"01.txt": TEXT.replace("\r\n", "\n")})
    assert any(
        message.startswith("labels.json: document 1 ('01.txt'): field 'entities'[0]:")
        and "converted to LF line endings" in message
        for message in messages
    )


def test_code_point_offsets_that_split_an_emoji_are_reported() -> None:
    project = ga_project()
    emoji_at = TEXT.index("😀")
    project["assets"]["documents"][0]["entities"][0]["labels"] = [
        {"category": "Date", "offset": emoji_at + 1, "length": 3}
    ]
    (message,) = errors_of(project)
    assert "field 'entities'[0].'labels'[0]" in message and "surrogate pair" in message


def test_every_problem_is_listed_with_document_and_field() -> None:
    project = ga_project()
    documents = project["assets"]["documents"]
    documents[0]["language"] = "klingon"
    documents[0]["dataset"] = "Validation"
    documents[0]["entities"][0]["labels"][0]["length"] = "5"
    documents.append({"location": "missing.txt"})
    messages = errors_of(project)
    assert (
        "labels.json: document 1 ('01.txt'): field 'language': 'klingon' is not a BCP-47 language code" in messages[0]
    )
    assert any("field 'dataset': the split must be 'train' or 'test', not 'Validation'" in m for m in messages)
    assert any(
        "field 'entities'[0].'labels'[0]: 'length' must be a whole number, not a string '5'" in m for m in messages
    )
    assert any("document 2 ('missing.txt'): field 'location': no file named 'missing.txt'" in m for m in messages)


def test_another_project_kind_is_refused() -> None:
    project = ga_project()
    project["metadata"]["projectKind"] = "CustomSingleLabelClassification"
    (message,) = errors_of(project)
    assert "'metadata'.'projectKind'" in message and "is not custom NER" in message


def test_truncated_json_gives_line_and_column() -> None:
    data = json.dumps(ga_project(), indent=2).encode()[:300]
    (message,) = errors_of(data)
    assert message.startswith("labels.json: line ") and ", column " in message and "ends too early" in message


def test_zip_without_labels_file_or_with_bad_texts_is_explained() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("01.txt", TEXT)
    with pytest.raises(FormatError, match=r"expected exactly one labels \.json file"):
        read_azure_zip(buffer.getvalue(), file_name="export.zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.json", json.dumps(ga_project()))
        archive.writestr("01.txt", b"\xff\xfe\x00bad")
    with pytest.raises(FormatError) as caught:
        read_azure_zip(buffer.getvalue(), file_name="export.zip")
    assert "01.txt" in str(caught.value)
    with pytest.raises(FormatError, match="not a zip file"):
        read_azure_zip(b"PK nope", file_name="export.zip")


def test_truncated_zip_is_refused_with_a_clear_message() -> None:
    data = write_azure([LabeledDoc(TEXT, (), "01.txt", "en")])
    with pytest.raises(FormatError, match="not a zip file"):
        read_azure_zip(data[: len(data) // 2], file_name="export.zip")


def test_azure_export_then_import_keeps_document_names() -> None:
    """A document named "0" used to come back as "0.txt": Azure names documents by their .txt file."""
    docs = [LabeledDoc(text="Ada Lovelace", spans=(Span(0, 12, "PER"),), name=name) for name in ("0", "a.md", "b.txt")]
    docs = [LabeledDoc(text=f"{doc.text} {index}", spans=doc.spans, name=doc.name) for index, doc in enumerate(docs)]
    back = read_azure_zip(write_azure(docs), file_name="project.zip").documents
    assert [doc.name for doc in back] == ["0", "a.md", "b.txt"]
