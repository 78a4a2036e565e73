"""Import and export of labelled documents in every format of ``ner.formats``, and the jobs that run big imports.

Kept apart from ``services.py``, which holds the writes the tagging pages make one document or span at a time:
import/export is a family of its own — reports, file-level wrappers, the ImportJob lifecycle, storage — that the
clone, the whole-project archive, the Azure authoring API and the command line build on:

- ``labeled_docs_import(project=, user=, docs=, create_missing_types=)`` -> ``ImportReport``: the one path that
  adds documents (``labeling.importing``: validate every document completely, then write all of them in one
  transaction, or nothing), told as a report.
- ``labeled_docs_export(project=, documents=)`` -> ``list[LabeledDoc]``: texts, spans, effective split, language
  (``selectors.documents_labeled``, which training snapshots read too).
- ``project_import_file`` / ``project_export_file``: the same, from and to the bytes of a file in any format.
- ``import_job_start`` / ``import_job_execute`` / ``import_job_retry``: uploads kept in storage, run now when
  small, queued to Celery (after commit) when large; the page polls the ImportJob row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NotRequired, TypedDict, Unpack

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from labeling import selectors
from labeling.importing import Addition, Progress, documents_add, documents_check
from labeling.models import Document, ImportJob
from ner.formats import FORMATS, FormatError, Problem
from ner.formats.azure import read_azure_labels, read_azure_zip, write_azure
from ner.formats.conll import SCHEMES, read_conll, write_conll
from ner.formats.detect import detect_format
from ner.formats.doccano import read_doccano
from ner.formats.jsonl import read_jsonl
from ner.formats.label_studio import read_label_studio, read_label_studio_csv
from ner.formats.prodigy import read_prodigy
from ner.text import read_uploads
from ner.tokens import token_bounds
from ner.types import LabeledDoc
from projects.jobs import job_heartbeat, job_lost_reason, job_recovery_verdict, job_send_on_commit, jobs_sweep
from projects.models import Project
from projects.storage import project_storage_prefix

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# Imports above either figure run in Celery with a progress bar; below, in the request (a second or two).
# A job whose row has not moved for NERLAB_IMPORT_STALE_S lost its worker (import_jobs_recover).
# The report kept on the job row lists at most this many problems (the counts stay exact).
REPORT_PROBLEMS_MAX: Final = 1_000

TOKENIZERS: Final = ("spacy", "whitespace")
CONTENT_TYPES: Final = {
    ".zip": "application/zip",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".conll": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".spacy": "application/octet-stream",
}


def import_async_documents() -> int:
    return int(settings.NERLAB_IMPORT_ASYNC_DOCUMENTS)


def import_async_bytes() -> int:
    return int(settings.NERLAB_IMPORT_ASYNC_BYTES)


# --- the report -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ImportReport:
    """What an import found and did. ``accepted + rejected + duplicates == total``, always.

    ``accepted`` documents passed every check; they were stored only when ``written`` (an import with any
    problem writes nothing). ``duplicates`` are texts already in the project or repeated in the file: never
    stored twice; ``already_present`` names those whose spans differ from the stored ones (nothing is merged).
    ``missing_types`` are labels the project lacks: re-run with ``create_missing_types`` to create them.
    """

    total: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    written: bool = False
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    missing_types: list[str] = field(default_factory=list)
    created_types: list[str] = field(default_factory=list)
    already_present: list[Problem] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    format: str = ""  # the format the file was read in (the detected one for "auto")
    notes: list[str] = field(default_factory=list)  # what the reader skipped or read in a way worth saying

    @property
    def ok(self) -> bool:
        return not self.problem_count

    @property
    def created(self) -> int:
        return self.accepted if self.written else 0

    @property
    def only_missing_types(self) -> bool:
        """Whether ticking "create missing entity types" is all this import needs."""
        return bool(self.missing_types) and all(problem.field == "label" for problem in self.problems)

    def add(self, message: str, *, file: str = "", where: str = "", field: str = "") -> None:
        self.problem_count += 1
        if len(self.problems) < REPORT_PROBLEMS_MAX:
            self.problems.append(Problem(message=message, file=file, where=where, field=field))

    def summary(self) -> str:
        counts = (
            f"{self.total:,} document{'s' if self.total != 1 else ''} in the file: {self.accepted:,} "
            f"{'imported' if self.written else 'valid'}, {self.rejected:,} rejected, "
            f"{self.duplicates:,} already present"
        )
        if self.written:
            return f"{'Imported' if self.accepted else 'Nothing new to import'}. {counts}."
        if self.total == 0 and self.problem_count:
            return "Nothing was imported: the file could not be read."
        return (
            f"Nothing was imported: {self.problem_count:,} problem{'s' if self.problem_count != 1 else ''}. {counts}."
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("created_ids")  # job rows keep the counts; ids are for callers in the same process
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        if not data:
            return cls()
        values = dict(data)
        values["problems"] = [Problem(**problem) for problem in values.get("problems", [])]
        values["already_present"] = [Problem(**problem) for problem in values.get("already_present", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in values.items() if key in known})

    @classmethod
    def unreadable(cls, error: FormatError) -> ImportReport:
        report = cls()
        for problem in error.problems:
            report.add(problem.message, file=problem.file, where=problem.where, field=problem.field)
        return report


DOCUMENT_MODES: Final = ("auto", "docstart", "sentence")


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read a file, and whether to create entity types the project lacks.

    CoNLL: ``scheme`` (None detects it), ``wikiann`` (strip WikiANN's ``en:`` token prefixes and take the
    language from them), ``documents`` (auto: one per ``-DOCSTART-`` block, else per sentence, and one per task
    in Label Studio's CoNLL export; "sentence": one per sentence always),
    ``token_column`` and ``tag_column`` (from 1; a tag column of 0 is the last), ``header`` (skip a first line of
    column names), ``comments`` (skip ``#`` lines). doccano and Label Studio: ``text_key`` (the text's field;
    doccano's default is ``text``, then ``data``). doccano: ``label_key`` (the spans' field) and
    ``skip_missing_text`` (skip records without text, as doccano does, instead of refusing the file).
    """

    create_missing_types: bool = False
    scheme: str | None = None
    wikiann: bool = False
    documents: str = "auto"
    token_column: int = 1
    tag_column: int = 0
    header: bool = False
    comments: bool = False
    text_key: str = ""
    label_key: str = ""
    skip_missing_text: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ImportOptions:
        data = data or {}
        return cls(
            create_missing_types=bool(data.get("create_missing_types", False)),
            scheme=data.get("scheme") or None,
            wikiann=bool(data.get("wikiann", False)),
            documents=str(data.get("documents") or "auto"),
            token_column=int(data.get("token_column") or 1),
            tag_column=int(data.get("tag_column") or 0),
            header=bool(data.get("header", False)),
            comments=bool(data.get("comments", False)),
            text_key=str(data.get("text_key") or ""),
            label_key=str(data.get("label_key") or ""),
            skip_missing_text=bool(data.get("skip_missing_text", False)),
        )


# --- importing LabeledDocs --------------------------------------------------------------------------------------------


def labeled_docs_import(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    docs: Sequence[LabeledDoc],
    create_missing_types: bool = False,
    file_name: str = "",
    progress: Progress | None = None,
    unreadable: FormatError | None = None,
    on_written: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Store ``docs`` with their spans in ``project``: every document valid, or nothing written.

    ``on_written`` hears the report inside the transaction that wrote the documents, so that what it records (an
    import job's outcome) commits with them or not at all; it may raise to write nothing.

    ``unreadable``: the reader's error when some records of the file could not be read; ``docs`` are the others.
    Those records count as rejected, with the reader's problems, so the counts still add up to the file's
    documents — and nothing is written.

    Each document is checked completely first — text rules (empty, NUL, over 128,000 characters), name length,
    language, split, and every span (bounds, length, whitespace, overlap under the project's policy, token
    boundaries when the project labels tokens) — and every problem is reported with its document and field.
    Texts already in the project (or repeated in ``docs``) are duplicates: skipped, and named in
    ``already_present`` when their spans differ from the stored ones. Labels the project lacks are problems unless
    ``create_missing_types``. Then, under the project's lock, the documents and spans are bulk-created.
    """
    report = _report_start(docs, unreadable)
    checked = documents_check(project=project, docs=docs, progress=progress)
    with transaction.atomic():
        addition = documents_add(
            project=project,
            user=user,
            checked=checked,
            create_missing_types=create_missing_types,
            blocked=bool(report.problem_count),
            progress=progress,
        )
        _report_outcome(report, addition, file_name)
        if addition.written and on_written is not None:
            on_written(report)
    if addition.written and progress is not None:
        progress(100)
    return report


def _report_start(docs: Sequence[LabeledDoc], unreadable: FormatError | None) -> ImportReport:
    """The report's count of the file's documents, with the records the reader could not read as rejected."""
    report = ImportReport(total=len(docs))
    if unreadable is not None:
        bad_records = max(1, unreadable.records - len(docs))
        report.total += bad_records
        report.rejected += bad_records
        for problem in unreadable.problems:
            report.add(problem.message, file=problem.file, where=problem.where, field=problem.field)
    return report


def _report_outcome(report: ImportReport, addition: Addition, file_name: str) -> None:
    report.duplicates += len(addition.duplicates)
    report.already_present = [
        Problem(message, file=file_name, where=item.where) for item, message in addition.differing
    ]
    report.missing_types = addition.missing_types
    for item in addition.candidates:
        if item.problems:
            report.rejected += 1
            for problem_field, message in item.problems:
                report.add(message, file=file_name, where=item.where, field=problem_field)
        else:
            report.accepted += 1
    for message in addition.problems:
        report.add(message, file=file_name)
    report.created_types = addition.created_types
    report.created_ids = [document.pk for document in addition.created]
    report.written = addition.written


# --- exporting -------------------------------------------------------------------------------------------------------


def labeled_docs_export(
    *, project: Project, documents: QuerySet[Document] | Iterable[int] | None = None
) -> list[LabeledDoc]:
    """The project's documents (all, or those in ``documents``: a queryset or ids) as LabeledDocs, by id, with
    their spans, metadata, language and effective split (``selectors.documents_labeled``)."""
    return list(selectors.documents_labeled(project=project, documents=documents).values())


@dataclass(frozen=True, slots=True)
class ExportFile:
    data: bytes
    file_name: str
    content_type: str


class ExportError(ValueError):
    """The documents cannot be written in the chosen format; ``problems`` says which and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems[:20]))


def _whitespace_tokens(text: str) -> list[tuple[int, int]]:
    return [(match.start(), match.end()) for match in re.finditer(r"\S+", text)]


def export_file_name(project: Project, format: str) -> str:
    suffix = {"doccano": "-doccano", "label-studio": "-label-studio", "prodigy": "-prodigy"}.get(format, "")
    return f"{project.name}{suffix}{FORMATS[format].extension}"


def project_export_file(
    *,
    project: Project,
    format: str,
    search: str = "",
    status: str = "",
    entity_type_id: int | None = None,
    split: str = "",
    scheme: str = "iob2",
    tokenizer: str = "spacy",
    documents: QuerySet[Document] | Iterable[int] | None = None,
) -> ExportFile:
    """The project's documents — all, those matching the document list's filters, or ``documents`` — as one file.

    Token formats (CoNLL) cut texts with ``ner.tokens.token_bounds`` in each document's language, the tokenizer
    training uses (``tokenizer="whitespace"`` keeps a text's words as they are, which is lossless for texts that
    came from a token file). Azure's zip carries the project's name, language, description and entity types.
    Raises ValidationError for an unknown format or option, ExportError when a document cannot be written.
    """
    if format not in FORMATS:
        raise ValidationError({"format": f"Unknown format {format!r}; choose one of {', '.join(FORMATS)}."})
    if scheme not in SCHEMES:
        raise ValidationError({"scheme": f"Unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}."})
    if tokenizer not in TOKENIZERS:
        raise ValidationError({"tokenizer": f"Unknown tokenizer {tokenizer!r}; choose spacy or whitespace."})
    if documents is None and (search or status or entity_type_id is not None or split):
        documents = selectors.document_list(
            project=project, search=search, status=status, entity_type_id=entity_type_id, split=split
        )
    docs = labeled_docs_export(project=project, documents=documents)
    try:
        if format == "azure":
            data = write_azure(
                docs,
                project_name=project.name,
                language=project.language,
                multilingual=project.multilingual,
                description=project.description,
                entity_types=list(project.entity_types.order_by("name").values_list("name", flat=True)),
            )
        elif format == "conll":
            if tokenizer == "whitespace":
                tokenize: Callable[[str], Sequence[tuple[int, int]]] = _whitespace_tokens
            else:
                # One tokenizer for all documents, each in its own language: texts are unique in a project.
                language_of = {doc.text: doc.language or project.language for doc in docs}

                def tokenize(text: str) -> Sequence[tuple[int, int]]:
                    return token_bounds(text, language_of.get(text, project.language))

            data = write_conll(docs, scheme=scheme, tokenizer=tokenize)  # type: ignore[arg-type]
        else:
            data = FORMATS[format].writer(docs)
    except FormatError as error:
        raise ExportError(error.problems) from None
    extension = FORMATS[format].extension
    return ExportFile(data=data, file_name=export_file_name(project, format), content_type=CONTENT_TYPES[extension])


# --- reading files --------------------------------------------------------------------------------------------------


def _fail(message: str, file_name: str) -> FormatError:
    return FormatError([Problem(message=message, file=file_name)])


AUTO: Final = "auto"


class Upload(TypedDict):
    """An uploaded file, as the keyword arguments of the functions that read it (``labeled_docs_read``) and of
    those that pass it on or keep it (``project_import_file``, ``import_job_start``, ``import_job_create``).
    ``format`` may be ``auto``; Azure's labels JSON may come with its texts in a second file (``texts_data``, a
    zip of .txt files)."""

    format: str
    data: bytes
    file_name: str
    texts_data: NotRequired[bytes | None]
    texts_file_name: NotRequired[str]


@dataclass(slots=True)
class FileReading:
    """A file as read: its documents, the format used (detected for ``auto``) and notes on what was skipped.

    ``error`` is set when the file, or some of its records, could not be read; ``docs`` is then empty.
    """

    format: str
    docs: list[LabeledDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: FormatError | None = None


def _read_format(
    format: str, data: bytes, file_name: str, options: ImportOptions, texts_data: bytes | None,
    texts_file_name: str, notes: list[str],
) -> list[LabeledDoc]:  # fmt: skip
    if format == "azure":
        if data[:4] == b"PK\x03\x04" or texts_data is None:
            if data[:4] != b"PK\x03\x04" and data.lstrip()[:1] == b"{":
                raise _fail(
                    "this is a labels JSON without its texts: upload the .txt files too (as a .zip), or one .zip "
                    "holding both",
                    file_name,
                )
            return read_azure_zip(data, file_name=file_name).documents
        reading = read_uploads([(texts_file_name or "texts.zip", texts_data)])
        if reading.errors:
            raise FormatError([Problem(message=error, file=texts_file_name) for error in reading.errors])
        prefix = f"{texts_file_name}/"
        texts = {text_file.name.removeprefix(prefix): text_file.text for text_file in reading.files}
        return read_azure_labels(data, texts, file_name=file_name).documents
    if format == "conll":
        if options.scheme is not None and options.scheme not in SCHEMES:
            raise _fail(f"unknown tag scheme {options.scheme!r}; choose one of {', '.join(SCHEMES)}", file_name)
        if options.documents not in DOCUMENT_MODES:
            raise _fail(
                f"unknown document mode {options.documents!r}; choose one of auto, docstart, sentence", file_name
            )
        return read_conll(
            data,
            file_name=file_name,
            scheme=options.scheme,  # type: ignore[arg-type]
            strip_language_prefix=options.wikiann,
            documents=options.documents,  # type: ignore[arg-type]
            token_column=options.token_column,
            tag_column=options.tag_column,
            header=options.header,
            comments=options.comments,
            notes=notes,
        )
    if format == "doccano":
        return read_doccano(
            data,
            file_name=file_name,
            notes=notes,
            text_key=options.text_key,
            label_key=options.label_key,
            skip_missing_text=options.skip_missing_text,
        )
    if format == "label-studio":
        return read_label_studio(data, file_name=file_name, notes=notes, data_key=options.text_key or "text")
    if format == "label-studio-csv":
        return read_label_studio_csv(data, file_name=file_name, notes=notes, data_key=options.text_key or "text")
    if format == "jsonl":
        return read_jsonl(data, file_name=file_name, notes=notes)
    if format == "prodigy":
        return read_prodigy(data, file_name=file_name, notes=notes)
    return FORMATS[format].reader(data, file_name=file_name)


def labeled_docs_read(
    *,
    format: str,
    data: bytes,
    file_name: str,
    options: ImportOptions | None = None,
    texts_data: bytes | None = None,
    texts_file_name: str = "",
) -> FileReading:
    """Every document in a file of ``format`` (``auto``: the format its content shows), or why not.

    Azure comes either as one zip (labels ``.json`` and the ``.txt`` files) or as the labels JSON with its texts
    in ``texts_data`` (a zip of ``.txt`` files, or one ``.txt``). A file that cannot be read in the format chosen
    but looks like another says so first ("this looks like a Label Studio export ...").
    """
    options = options or ImportOptions()
    reading = FileReading(format=format)
    try:
        if format != AUTO and format not in FORMATS:
            raise _fail(f"unknown format {format!r}; choose auto or one of {', '.join(FORMATS)}", file_name)
        upload_max = int(settings.NERLAB_UPLOAD_MAX_BYTES)
        for name, payload in ((file_name, data), (texts_file_name, texts_data or b"")):
            if len(payload) > upload_max:
                raise _fail(f"{len(payload):,} bytes; an upload may hold at most {upload_max:,}", name)
        if not data:
            raise _fail("the file is empty (0 bytes)", file_name)
        detection = detect_format(data)
        if detection is not None and not detection.format:
            raise _fail(f"this looks like {detection.looks_like}: it holds no documents to import", file_name)
        if format == AUTO:
            if detection is None:
                raise _fail(
                    "the format could not be told from the content; choose it (one of " + ", ".join(FORMATS) + ")",
                    file_name,
                )
            reading.format = detection.format
            reading.notes.append(f"read as {detection.format}: the file looks like {detection.looks_like}")
        try:
            reading.docs = _read_format(
                reading.format, data, file_name, options, texts_data, texts_file_name, reading.notes
            )
        except FormatError as error:
            if format != AUTO and detection is not None and detection.format != format:
                error.problems.insert(
                    0,
                    Problem(
                        f"this looks like {detection.looks_like}, not {format}: import it as {detection.format} "
                        "(or choose auto)",
                        file=file_name,
                    ),
                )
            raise
        if not reading.docs:
            raise _fail("the file holds no documents", file_name)
    except FormatError as error:
        reading.docs = []
        reading.error = error
    return reading


def _import_reading(
    *, project: Project, user: AbstractBaseUser | None, reading: FileReading, options: ImportOptions,
    file_name: str, progress: Progress | None, on_written: Callable[[ImportReport], None] | None = None,
) -> ImportReport:  # fmt: skip
    """Import what was read; records that could not be read are counted as rejected, and nothing is written.
    ``on_written``: as for ``labeled_docs_import``, with the report's format and notes."""

    def described(report: ImportReport) -> ImportReport:
        report.format = reading.format
        report.notes = reading.notes
        return report

    def written(report: ImportReport) -> None:
        if on_written is not None:
            on_written(described(report))

    if reading.error is not None and not reading.error.records:
        report = ImportReport.unreadable(reading.error)
    else:
        if progress is not None:
            progress(5)
        report = labeled_docs_import(
            project=project,
            user=user,
            docs=reading.error.readable if reading.error is not None else reading.docs,
            create_missing_types=options.create_missing_types,
            file_name=file_name,
            progress=progress,
            unreadable=reading.error,
            on_written=written,
        )
    return described(report)


def project_import_file(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    **upload: Unpack[Upload],
) -> ImportReport:
    """Read an uploaded file and import its documents (``labeled_docs_import``); one report either way."""
    options = options or ImportOptions()
    reading = labeled_docs_read(options=options, **upload)
    return _import_reading(
        project=project, user=user, reading=reading, options=options, file_name=upload["file_name"], progress=progress
    )


# --- import jobs ----------------------------------------------------------------------------------------------------


def _job_folder(job: ImportJob) -> str:
    return f"{project_storage_prefix(job.project_id)}/imports/{job.pk}"


def _safe_file_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "upload")[-1]
    return re.sub(r"[^\w.\-]+", "_", base)[:200] or "upload"


def import_job_create(
    *, project: Project, user: AbstractBaseUser | None, options: ImportOptions | None = None, **upload: Unpack[Upload]
) -> ImportJob:
    """Keep an upload in storage under ``projects/<id>/imports/<job id>/`` with a queued ImportJob row."""
    format, data, file_name = upload["format"], upload["data"], upload["file_name"]
    texts_data, texts_file_name = upload.get("texts_data"), upload.get("texts_file_name", "")
    if format != AUTO and format not in FORMATS:
        raise ValidationError({"format": f"Unknown format {format!r}; choose auto or one of {', '.join(FORMATS)}."})
    options = options or ImportOptions()
    job = ImportJob.objects.create(
        project=project,
        created_by=user,
        format=format,
        file_name=(file_name or "upload")[:500],
        texts_file_name=(texts_file_name or "")[:500] if texts_data is not None else "",
        size_bytes=len(data) + len(texts_data or b""),
        options=options.to_dict(),
    )
    folder = _job_folder(job)
    job.file_path = default_storage.save(f"{folder}/{_safe_file_name(file_name)}", ContentFile(data))
    if texts_data is not None:
        job.texts_file_path = default_storage.save(
            f"{folder}/texts-{_safe_file_name(texts_file_name)}", ContentFile(texts_data)
        )
    job.save(update_fields=["file_path", "texts_file_path", "updated_at"])
    return job


def _send(job_id: int) -> None:
    from labeling.tasks import import_job_task  # the task module imports this one

    import_job_task.delay(job_id)


def _queue(job: ImportJob) -> None:
    job_send_on_commit(_send, job.pk)


def import_jobs_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for imports: a running import silent since ``stale_before`` is queued again (it
    writes all or nothing, so it starts over), or failed after ``NERLAB_JOB_ATTEMPTS`` starts; a queued one whose
    row has not moved since then is sent again."""
    active = ImportJob.objects.filter(status__in=ImportJob.ACTIVE)
    return jobs_sweep(active, sign_of_life="updated_at", stale_before=stale_before, recover=_import_job_recover)


def _import_job_recover(job: ImportJob) -> None:
    if job.status == ImportJob.Status.RUNNING and job_recovery_verdict(attempts=job.attempts) == "fail":
        job.status = ImportJob.Status.FAILED
        job.error = job_lost_reason(what="import", attempts=job.attempts) + " Nothing was written."
        job.finished_at = timezone.now()
    else:
        job.status = ImportJob.Status.QUEUED
        job.progress = 0
        transaction.on_commit(partial(_send, job.pk))
    job.save(update_fields=["status", "error", "finished_at", "progress", "updated_at"])


def import_job_start(
    *, project: Project, user: AbstractBaseUser | None, options: ImportOptions | None = None, **upload: Unpack[Upload]
) -> ImportJob:
    """Store the upload as an ImportJob and run it: now when small, in Celery when large (bytes or documents).

    The returned job is finished (succeeded/failed, with its report) or queued; pages poll it either way.
    """
    job = import_job_create(project=project, user=user, options=options, **upload)
    _run_or_queue(job)
    job.refresh_from_db()
    return job


def _run_or_queue(job: ImportJob) -> None:
    if job.size_bytes > import_async_bytes():
        _queue(job)
    else:
        import_job_execute(job_id=job.pk, inline=True)


def _set_progress(job_id: int) -> Progress:
    last = [-1]

    def update(percent: int) -> None:
        percent = max(0, min(100, percent))
        if percent != last[0]:
            last[0] = percent
            ImportJob.objects.filter(pk=job_id).update(progress=percent, updated_at=timezone.now())

    return update


def _claim(job_id: int) -> ImportJob | str:
    """The job, marked running; or why not: its final status, or "busy" when another worker is on it (a duplicate
    message: should that worker die, ``import_jobs_recover`` queues the job again)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).select_related("project", "created_by").get(pk=job_id)
        if job.finished:
            return job.status
        if job.status == ImportJob.Status.RUNNING:
            return "busy"
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.progress = 0
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "progress", "attempts", "updated_at"])
        return job


def _own(job: ImportJob) -> QuerySet[ImportJob]:
    """The job's row while this attempt still holds it (recovery may have given up on it and queued it again)."""
    return ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING, attempts=job.attempts)


class _Superseded(Exception):
    """Recovery gave up on this attempt (and queued the job again) before it recorded its outcome."""


def _finish(job: ImportJob, report: ImportReport) -> bool:
    """Record the attempt's outcome on the job's row; False (nothing recorded) when it no longer holds the row.
    A written import calls it inside the write's transaction: documents and outcome commit together, so a worker
    killed in between cannot leave them written under a running job that a second attempt would then find to be
    duplicates of themselves."""
    job.status = ImportJob.Status.SUCCEEDED if report.written else ImportJob.Status.FAILED
    job.progress = 100
    job.total, job.accepted, job.rejected, job.duplicates = (
        report.total,
        report.accepted,
        report.rejected,
        report.duplicates,
    )
    job.report = report.to_dict()
    job.finished_at = timezone.now()
    fields = ("status", "progress", "total", "accepted", "rejected", "duplicates", "report", "finished_at")
    return bool(_own(job).update(updated_at=timezone.now(), **{name: getattr(job, name) for name in fields}))


def _finish_written(job: ImportJob, report: ImportReport) -> None:
    if not _finish(job, report):
        raise _Superseded  # rolls the documents back: the attempt that holds the job writes them


def import_job_execute(*, job_id: int, inline: bool = False) -> str:
    """Run one import job (the Celery task and small inline imports call this); returns the job's status.

    Idempotent: a finished job is left alone, one another worker is running says "busy". ``inline`` (in the
    request) hands a file that turns out to hold many documents over to Celery instead of running it there.
    """
    claimed = _claim(job_id)
    if isinstance(claimed, str):
        return claimed
    job = claimed
    progress = _set_progress(job.pk)
    # A sign of life while it reads and checks (on PostgreSQL also while it writes): see projects.jobs.
    with job_heartbeat(partial(_own, job), field="updated_at"):
        try:
            with default_storage.open(job.file_path, "rb") as handle:
                data = handle.read()
            texts_data = None
            if job.texts_file_path:
                with default_storage.open(job.texts_file_path, "rb") as handle:
                    texts_data = handle.read()
            options = ImportOptions.from_dict(job.options)
            reading = labeled_docs_read(
                format=job.format,
                data=data,
                file_name=job.file_name,
                options=options,
                texts_data=texts_data,
                texts_file_name=job.texts_file_name,
            )
            if inline and len(reading.docs) > import_async_documents():
                # Handed over, not started: the request's claim is no start of a worker (projects.jobs).
                ImportJob.objects.filter(pk=job.pk).update(
                    status=ImportJob.Status.QUEUED, progress=0, attempts=F("attempts") - 1
                )
                _queue(job)
                return ImportJob.Status.QUEUED
            report = _import_reading(
                project=job.project,
                user=job.created_by,
                reading=reading,
                options=options,
                file_name=job.file_name,
                progress=progress,
                on_written=partial(_finish_written, job),
            )
        except _Superseded:
            job.refresh_from_db()
            return job.status
        except Exception:
            logger.exception("import job %s failed", job.pk)
            _own(job).update(
                status=ImportJob.Status.FAILED,
                error="The import stopped on an unexpected error; nothing was written. Try again, or report it.",
                finished_at=timezone.now(),
            )
            raise
        if report.written:
            # The data now lives in the project's documents: keeping the upload would be a second copy to delete.
            for path in (job.file_path, job.texts_file_path):
                if path:
                    default_storage.delete(path)
        elif not _finish(job, report):
            job.refresh_from_db()
        return job.status


def import_job_retry(*, job: ImportJob, create_missing_types: bool) -> ImportJob:
    """Run a failed import again from its stored upload, e.g. with "create missing entity types" ticked."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.FAILED:
            raise ValidationError("Only a failed import can be run again.")
        if not locked.file_path or not default_storage.exists(locked.file_path):
            raise ValidationError("The uploaded file is no longer stored; upload it again.")
        options = ImportOptions.from_dict(locked.options)
        locked.options = replace(options, create_missing_types=create_missing_types).to_dict()
        locked.status = ImportJob.Status.QUEUED
        locked.progress = 0
        locked.report = {}
        locked.error = ""
        locked.total = locked.accepted = locked.rejected = locked.duplicates = 0
        locked.started_at = locked.finished_at = None
        locked.attempts = 0  # a fresh run: the last ones' starts are no lost workers (projects.jobs)
        locked.save()
    _run_or_queue(locked)
    locked.refresh_from_db()
    return locked


def import_job_discard_upload(*, job: ImportJob) -> None:
    """Delete a failed import's stored upload (the API's callers keep their own file; nothing is left behind)."""
    for path in (job.file_path, job.texts_file_path):
        if path:
            default_storage.delete(path)
    ImportJob.objects.filter(pk=job.pk).update(file_path="", texts_file_path="")
    job.file_path = job.texts_file_path = ""


def import_job_report(*, job: ImportJob) -> ImportReport:
    return ImportReport.from_dict(job.report)


__all__ = [
    "ExportError",
    "ExportFile",
    "ImportOptions",
    "ImportReport",
    "import_job_create",
    "import_job_discard_upload",
    "import_job_execute",
    "import_job_report",
    "import_job_retry",
    "import_job_start",
    "labeled_docs_export",
    "labeled_docs_import",
    "labeled_docs_read",
    "project_export_file",
    "project_import_file",
]
