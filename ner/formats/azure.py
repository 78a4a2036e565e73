"""Azure AI Language custom NER labels file (``projectFileVersion`` 2022-05-01) and its ``.txt`` documents.

The labels JSON does not hold the texts: each document's ``location`` names a ``.txt`` file, and its label
``offset``/``length`` count UTF-16 code units (``stringIndexType: Utf16CodeUnit``) over the raw file text,
CRLF line endings included. nerlab stores code points, so every offset goes through ``ner.offsets``.

Reading accepts the shapes Azure has shipped (reference §3.5): the 2022-05-01 GA shape with ``metadata`` and
``assets``; the Jan 2022 preview (top-level ``entityNames``, documents with ``entities``); the 2021 preview
(top-level ``extractors`` with ``name``, documents with ``extractors`` holding ``extractorName`` labels); the spec
example's ``project-file-version`` key and ``customNamedEntityRecognition`` project kind; ``projectKind`` in
``metadata``, in ``assets``, in both (the two spellings may differ) or in neither; labels listed directly under a
document instead of inside a region; ``multilingual`` written as a string; and the other string index types
(``UnicodeCodePoint``, ``Utf8CodeUnit``). Writing always emits the GA shape.

Offsets are document-absolute (Microsoft's samples only ever use one region starting at 0); a label outside its
region is reported, because Azure trains only on the region's text.
"""

from __future__ import annotations

import io
import json
import posixpath
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ner.formats.common import decode_input, is_int, parse_json, read_language, read_split, type_name
from ner.formats.errors import Problems
from ner.limits import UPLOAD_COMPRESSION_RATIO_MAX, UPLOAD_FILES_MAX, UPLOAD_UNCOMPRESSED_BYTES_MAX
from ner.offsets import OffsetMapper
from ner.text import read_uploads
from ner.types import LabeledDoc, Span

PROJECT_FILE_VERSION = "2022-05-01"
PROJECT_KIND = "CustomEntityRecognition"
_NER_KINDS = {"customentityrecognition", "customnamedentityrecognition"}
_INDEX_TYPES = {"utf16codeunit": "UTF-16 code units", "unicodecodepoint": "code points", "utf8codeunit": "UTF-8 bytes"}
LABELS_FILE_NAME = "labels.json"
# Azure names a document by its .txt file. A document whose own name is not that file name ("0", "a.md") keeps
# it in this file beside the labels, which Azure ignores and nerlab reads back: export -> import keeps names.
NAMES_FILE_NAME = "nerlab-names.json"
JSON_BYTES_MAX = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AzureProject:
    """A labels file as read: the project's settings as well as its documents."""

    documents: list[LabeledDoc]
    project_name: str = ""
    language: str | None = None
    multilingual: bool = False
    description: str = ""
    storage_container: str = ""
    entity_types: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    file_version: str = ""


def _category_of(item: object) -> object:
    if isinstance(item, dict):
        for key in ("category", "name", "entityName", "extractorName"):
            if key in item:
                return item[key]
    return item


def _text_for(location: str, texts: Mapping[str, str], basenames: Mapping[str, list[str]]) -> str | None:
    if location in texts:
        return texts[location]
    # A zip or folder may keep the files in a sub-folder; the location is then the base name.
    matches = basenames.get(posixpath.basename(location.replace("\\", "/")), [])
    return texts[matches[0]] if len(matches) == 1 else None


class _Units:
    """Converts one document's offsets from the file's unit to code points."""

    def __init__(self, text: str, index_type: str) -> None:
        self.mapper = OffsetMapper(text)
        self.index_type = index_type
        self.name = _INDEX_TYPES[index_type]
        if index_type == "utf16codeunit":
            self.length = self.mapper.utf16_length
        elif index_type == "utf8codeunit":
            self.length = self.mapper.utf8_length()
        else:
            self.length = len(text)

    def to_codepoint(self, offset: int) -> int:
        if self.index_type == "utf16codeunit":
            return self.mapper.from_utf16(offset)
        if self.index_type == "utf8codeunit":
            return self.mapper.from_utf8(offset)
        return offset


def _read_range(
    owner: dict[str, Any], keys: tuple[str, str], units: _Units, problems: Problems, where: str, field: str
) -> tuple[int, int] | None:
    """[offset, offset + length) in the file's units, checked against the text; None after reporting a problem."""
    offset, length = owner.get(keys[0]), owner.get(keys[1])
    for key, value in zip(keys, (offset, length), strict=True):
        if not is_int(value):
            problems.add(f"'{key}' must be a whole number, not {type_name(value)} {value!r}", where=where, field=field)
            return None
    assert isinstance(offset, int) and isinstance(length, int)
    if offset < 0 or length <= 0:
        problems.add(
            f"'{keys[0]}' {offset} and '{keys[1]}' {length}: offset must be >= 0 and length > 0",
            where=where,
            field=field,
        )
        return None
    if offset + length > units.length:
        hint = ""
        text = units.mapper.text
        if "\r\n" not in text and offset + length <= units.length + text.count("\n"):
            hint = " — the offsets count CRLF line endings: was the .txt file converted to LF line endings?"
        problems.add(
            f"{keys[0]} {offset} + {keys[1]} {length} = {offset + length} is past the end of the text "
            f"({units.length} {units.name}){hint}",
            where=where,
            field=field,
        )
        return None
    return offset, offset + length


def read_azure_labels(data: bytes, texts: Mapping[str, str], *, file_name: str = "") -> AzureProject:
    """Read a labels JSON; ``texts`` maps each document's location (file name) to its text, decoded as is."""
    problems = Problems(file_name)
    root, metadata, assets = _read_envelope(data, problems)
    index_type = _read_project_kind_and_index_type(root, metadata, assets, problems)
    project_language = read_language(
        metadata.get("language", root.get("language")), problems, where="project", field="'metadata'.'language'"
    )
    multilingual = _read_multilingual(metadata, problems)
    declared = _read_declared_entity_types(assets, problems)
    documents = _read_documents(assets, texts, index_type, project_language, problems)
    problems.raise_if_any()
    labels_seen = {span.label for doc in documents for span in doc.spans}
    settings = metadata.get("settings")
    version = root.get("projectFileVersion", root.get("project-file-version", ""))
    return AzureProject(
        documents=documents,
        project_name=str(metadata.get("projectName") or root.get("projectName") or ""),
        language=project_language,
        multilingual=multilingual,
        description=str(metadata.get("description") or ""),
        storage_container=str(metadata.get("storageInputContainerName") or ""),
        entity_types=tuple(declared + sorted(labels_seen - set(declared))),
        settings=settings if isinstance(settings, dict) else {},
        file_version=str(version),
    )


def _read_envelope(data: bytes, problems: Problems) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The file's root object, its metadata and its assets (the previews had no "assets": the root holds them)."""
    root = parse_json(decode_input(data, problems), problems)
    if not isinstance(root, dict):
        raise problems.fail(f"a labels file is a JSON object, not {type_name(root)}")
    metadata = root.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise problems.fail(f"'metadata' must be an object, not {type_name(metadata)}", field="'metadata'")
    assets = root.get("assets", root)
    if not isinstance(assets, dict):
        raise problems.fail(f"'assets' must be an object, not {type_name(assets)}", field="'assets'")
    return root, metadata, assets


def _read_project_kind_and_index_type(
    root: dict[str, Any], metadata: dict[str, Any], assets: dict[str, Any], problems: Problems
) -> str:
    """The string index type (lower case), after checking the project is custom NER; raises on either problem."""
    for owner, name in ((metadata, "metadata"), (assets, "assets")):
        kind = owner.get("projectKind")
        if kind is not None and (not isinstance(kind, str) or kind.lower() not in _NER_KINDS):
            problems.add(
                f"project kind {kind!r} is not custom NER ({PROJECT_KIND}); export a custom NER project",
                field=f"'{name}'.'projectKind'",
            )
    index_type = root.get("stringIndexType", "Utf16CodeUnit")
    if not isinstance(index_type, str) or index_type.lower() not in _INDEX_TYPES:
        problems.add(
            f"string index type {index_type!r} is unknown (expected Utf16CodeUnit, UnicodeCodePoint or Utf8CodeUnit)",
            field="'stringIndexType'",
        )
    problems.raise_if_any()
    assert isinstance(index_type, str)
    return index_type.lower()


def _read_multilingual(metadata: dict[str, Any], problems: Problems) -> bool:
    multilingual = metadata.get("multilingual", False)
    if isinstance(multilingual, str) and multilingual.strip().lower() in {"true", "false"}:
        multilingual = multilingual.strip().lower() == "true"
    if not isinstance(multilingual, bool):
        problems.add(f"'multilingual' must be true or false, not {multilingual!r}", field="'metadata'.'multilingual'")
        return False
    return multilingual


def _read_declared_entity_types(assets: dict[str, Any], problems: Problems) -> list[str]:
    """The entity types the project lists, in its order, each once."""
    entity_key = next((key for key in ("entities", "extractors", "entityNames") if key in assets), None)
    if entity_key is None:
        return []
    raw_entities = assets[entity_key]
    if not isinstance(raw_entities, list):
        problems.add(f"must be a list, not {type_name(raw_entities)}", field=f"'{entity_key}'")
        return []
    declared: list[str] = []
    for index, item in enumerate(raw_entities):
        category = _category_of(item)
        if not isinstance(category, str) or not category.strip():
            problems.add(f"an entity type needs a name ('category'), found {item!r}", field=f"'{entity_key}'[{index}]")
        elif category not in declared:
            declared.append(category)
    return declared


def _read_documents(
    assets: dict[str, Any],
    texts: Mapping[str, str],
    index_type: str,
    project_language: str | None,
    problems: Problems,
) -> list[LabeledDoc]:
    """Each listed document with its uploaded text and labels; a document with a problem is reported and skipped."""
    raw_documents = assets.get("documents")
    if not isinstance(raw_documents, list):
        raise problems.fail(f"'documents' must be a list, not {type_name(raw_documents)}", field="'assets'.'documents'")
    reader = _DocumentReader(texts, index_type, project_language, problems)
    found = (reader.read(raw, doc_index) for doc_index, raw in enumerate(raw_documents))
    return [document for document in found if document is not None]


class _DocumentReader:
    """Reads the documents of one labels file, matching each location to an uploaded text once."""

    def __init__(
        self, texts: Mapping[str, str], index_type: str, project_language: str | None, problems: Problems
    ) -> None:
        self.texts = texts
        self.index_type = index_type
        self.project_language = project_language
        self.problems = problems
        self.basenames: dict[str, list[str]] = {}
        for key in texts:
            self.basenames.setdefault(posixpath.basename(key.replace("\\", "/")), []).append(key)
        self.used: set[str] = set()

    def read(self, raw: Any, doc_index: int) -> LabeledDoc | None:
        """One document of the list; None after reporting a problem."""
        problems = self.problems
        where = f"document {doc_index + 1}"
        if not isinstance(raw, dict):
            problems.add(f"a document must be an object, not {type_name(raw)}", where=where)
            return None
        location = raw.get("location")
        if not isinstance(location, str) or not location.strip():
            problems.add(
                f"'location' must be the document's file name, not {location!r}", where=where, field="'location'"
            )
            return None
        where = f"document {doc_index + 1} ({location!r})"
        if location in self.used:
            problems.add("the same location is listed twice", where=where, field="'location'")
            return None
        self.used.add(location)
        text = _text_for(location, self.texts, self.basenames)
        if text is None:
            problems.add(
                f"no file named {location!r} was uploaded with the labels file", where=where, field="'location'"
            )
            return None
        language = read_language(raw.get("language"), problems, where=where, field="'language'")
        split = read_split(raw.get("dataset"), problems, where=where, field="'dataset'")
        spans = _read_document_labels(raw, _Units(text, self.index_type), problems, where)
        return LabeledDoc(
            text=text,
            spans=tuple(sorted(spans)),
            name=location,
            language=language or self.project_language,
            split=split,
        )


def _read_document_labels(raw: dict[str, Any], units: _Units, problems: Problems, where: str) -> list[Span]:
    region_key = next((key for key in ("entities", "extractors", "regions", "labels") if key in raw), None)
    if region_key is None:
        return []  # a document without labels
    regions = raw[region_key]
    if not isinstance(regions, list):
        problems.add(f"must be a list, not {type_name(regions)}", where=where, field=f"'{region_key}'")
        return []
    spans: list[Span] = []
    for region_index, region in enumerate(regions):
        region_field = f"'{region_key}'[{region_index}]"
        if not isinstance(region, dict):
            problems.add(f"must be an object, not {type_name(region)}", where=where, field=region_field)
            continue
        if "labels" not in region:  # a label given directly, without a region around it
            labels: list[Any] = [region]
            label_fields = [region_field]
            bounds: tuple[int, int] | None = (0, units.length)
        else:
            labels = region["labels"] if isinstance(region["labels"], list) else []
            if not isinstance(region["labels"], list):
                problems.add(
                    f"must be a list, not {type_name(region['labels'])}", where=where, field=f"{region_field}.'labels'"
                )
            label_fields = [f"{region_field}.'labels'[{index}]" for index in range(len(labels))]
            bounds = (0, units.length)
            if "regionOffset" in region or "regionLength" in region:
                bounds = _read_range(region, ("regionOffset", "regionLength"), units, problems, where, region_field)
                if bounds is None:
                    continue
        for label, label_field in zip(labels, label_fields, strict=True):
            span = _read_label(label, units, bounds, problems, where, label_field)
            if span is not None:
                spans.append(span)
    return spans


def _read_label(
    label: object, units: _Units, bounds: tuple[int, int] | None, problems: Problems, where: str, field: str
) -> Span | None:
    if not isinstance(label, dict):
        problems.add(f"a label must be an object, not {type_name(label)}", where=where, field=field)
        return None
    category = next((label[key] for key in ("category", "extractorName", "entityName", "entity") if key in label), None)
    if not isinstance(category, str) or not category.strip():
        problems.add(f"'category' must name an entity type, not {category!r}", where=where, field=field)
        return None
    found = _read_range(label, ("offset", "length"), units, problems, where, field)
    if found is None:
        return None
    start, end = found
    if bounds is not None and not (bounds[0] <= start and end <= bounds[1]):
        problems.add(
            f"{category} at offset {start}, length {end - start} lies outside its region "
            f"({bounds[0]}-{bounds[1]}); Azure trains only on the region's text",
            where=where,
            field=field,
        )
        return None
    try:
        return Span(units.to_codepoint(start), units.to_codepoint(end), category)
    except ValueError as error:
        hint = " — are these offsets code points rather than UTF-16 units?" if "surrogate" in str(error) else ""
        problems.add(f"{category}: {error}{hint}", where=where, field=field)
        return None


def write_azure_labels(
    docs: Sequence[LabeledDoc],
    *,
    project_name: str = "nerlab-export",
    language: str | None = None,
    multilingual: bool | None = None,
    description: str = "",
    storage_container: str = "",
    entity_types: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The labels JSON (GA shape) and the texts to store beside it, keyed by location (file name)."""
    languages = [doc.language for doc in docs if doc.language]
    project_language = language or (Counter(languages).most_common(1)[0][0] if languages else "en")
    if multilingual is None:
        multilingual = len(set(languages)) > 1
    locations = _locations(docs)
    categories = list(dict.fromkeys(entity_types))
    categories += sorted({span.label for doc in docs for span in doc.spans} - set(categories))
    documents: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    for doc, location in zip(docs, locations, strict=True):
        mapper = OffsetMapper(doc.text)
        entry: dict[str, Any] = {"location": location, "language": doc.language or project_language}
        if doc.split:
            entry["dataset"] = doc.split.capitalize()
        entry["entities"] = [
            {
                "regionOffset": 0,
                "regionLength": mapper.utf16_length,
                "labels": [
                    {
                        "category": span.label,
                        "offset": mapper.to_utf16(span.start),
                        "length": mapper.to_utf16(span.end) - mapper.to_utf16(span.start),
                    }
                    for span in doc.sorted_spans()
                ],
            }
        ]
        documents.append(entry)
        texts[location] = doc.text
    project = {
        "projectFileVersion": PROJECT_FILE_VERSION,
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": PROJECT_KIND,
            "storageInputContainerName": storage_container,
            "projectName": project_name,
            "multilingual": multilingual,
            "description": description,
            "language": project_language,
            "settings": dict(settings or {}),
        },
        "assets": {
            "projectKind": PROJECT_KIND,
            "entities": [{"category": category} for category in categories],
            "documents": documents,
        },
    }
    return json.dumps(project, ensure_ascii=False, indent=2).encode("utf-8"), texts


def _locations(docs: Sequence[LabeledDoc]) -> list[str]:
    """Each document's file name: its own name when it has a unique one, else docN.txt."""
    taken: set[str] = set()
    locations: list[str] = []
    for number, doc in enumerate(docs, start=1):
        # Azure's container holds .txt files, and its reader accepts nothing else.
        name = doc.name if doc.name.lower().endswith(".txt") else f"{doc.name}.txt" if doc.name else ""
        location = name if name and name not in taken and "/" not in name else ""
        candidate = number
        while not location or location in taken:
            location = f"doc{candidate}.txt"
            candidate += 1
        taken.add(location)
        locations.append(location)
    return locations


# --- the labels file and its texts together, as one zip ------------------------------------------------------------


def encode_text(text: str) -> bytes:
    """UTF-8 as Azure's samples are; a text that itself starts with U+FEFF gets a BOM so that it survives decoding."""
    data = text.encode("utf-8")
    return b"\xef\xbb\xbf" + data if text.startswith("\ufeff") else data


def read_azure(data: bytes, *, file_name: str = "") -> list[LabeledDoc]:
    """A zip holding one labels ``.json`` and the ``.txt`` files it names."""
    return read_azure_zip(data, file_name=file_name).documents


def read_azure_zip(data: bytes, *, file_name: str = "") -> AzureProject:
    problems = Problems(file_name)
    if not data:
        raise problems.fail("the file is empty")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        # A truncated or hand-crafted directory raises more than BadZipFile; all mean the same to the user.
        raise problems.fail("not a zip file; upload a .zip holding the labels .json and the .txt documents") from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > UPLOAD_FILES_MAX:
            raise problems.fail(f"{len(infos):,} files; an upload may hold at most {UPLOAD_FILES_MAX:,}")
        if sum(info.file_size for info in infos) > UPLOAD_UNCOMPRESSED_BYTES_MAX:
            raise problems.fail(f"expands past {UPLOAD_UNCOMPRESSED_BYTES_MAX:,} bytes")
        names_info = next((info for info in infos if info.filename == NAMES_FILE_NAME), None)
        json_infos = [
            info
            for info in infos
            if info.filename.lower().endswith(".json")
            and info is not names_info
            and not info.filename.startswith("__MACOSX/")
            and not posixpath.basename(info.filename).startswith("._")
        ]
        if len(json_infos) != 1:
            found = ", ".join(info.filename for info in json_infos) or "none"
            raise problems.fail(f"expected exactly one labels .json file in the zip, found {found}")
        json_info = json_infos[0]
        if json_info.file_size > JSON_BYTES_MAX or (
            json_info.compress_size and json_info.file_size / json_info.compress_size > UPLOAD_COMPRESSION_RATIO_MAX
        ):
            raise problems.fail(f"{json_info.filename}: too large or too compressed to be read safely")
        try:
            labels = archive.read(json_info)
            names_data = archive.read(names_info) if names_info is not None else b""
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error):
            raise problems.fail(f"{json_info.filename}: the zip entry is damaged and cannot be read") from None
    names = _read_names(names_data, problems) if names_info is not None else {}
    # The .txt files go through the same checks as any uploaded document (size, zip bomb, encoding).
    reading = read_uploads([(file_name or "upload.zip", data)]) if len(infos) > 1 else None
    texts: dict[str, str] = {}
    if reading is not None:
        prefix = f"{file_name or 'upload.zip'}/"
        for text_file in reading.files:
            texts[text_file.name.removeprefix(prefix)] = text_file.text
        for error in reading.errors:
            # The labels file and the names file are not .txt documents.
            if not error.startswith((f"{prefix}{json_info.filename}:", f"{prefix}{NAMES_FILE_NAME}:")):
                problems.add(error.removeprefix(prefix))
    problems.raise_if_any()
    project = read_azure_labels(labels, texts, file_name=json_info.filename)
    if not names:
        return project
    documents = [replace(doc, name=names.get(doc.name, doc.name)) for doc in project.documents]
    return replace(project, documents=documents)


def _read_names(data: bytes, problems: Problems) -> dict[str, str]:
    value = parse_json(decode_input(data, problems), problems)
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise problems.fail(f"{NAMES_FILE_NAME} must map each .txt file to its document's name")
    return {str(key): item for key, item in value.items()}


def write_azure(docs: Sequence[LabeledDoc], **options: Any) -> bytes:
    """A zip with ``labels.json`` and one ``.txt`` per document, ready to import here or into Azure."""
    labels, texts = write_azure_labels(docs, **options)
    names = {
        location: doc.name
        for doc, location in zip(docs, _locations(docs), strict=True)
        if doc.name and doc.name != location
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(LABELS_FILE_NAME, labels)
        if names:
            archive.writestr(NAMES_FILE_NAME, json.dumps(names, ensure_ascii=False, indent=1))
        for location, text in texts.items():
            archive.writestr(location, encode_text(text))
    return buffer.getvalue()
