"""Reading uploaded text files: decoding, limits, and zip archives checked before anything is extracted."""

from __future__ import annotations

import codecs
import hashlib
import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ner.limits import (
    DOCUMENT_CHARS_MAX,
    TXT_FILE_BYTES_MAX,
    UPLOAD_COMPRESSION_RATIO_MAX,
    UPLOAD_FILES_MAX,
    UPLOAD_UNCOMPRESSED_BYTES_MAX,
)


class UploadError(ValueError):
    """An uploaded file cannot be accepted; the message names the file and the rule."""


@dataclass(frozen=True, slots=True)
class TextFile:
    name: str
    text: str

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


@dataclass(slots=True)
class UploadReading:
    """What a set of uploaded files holds: the texts, and every problem found (all of them, not the first)."""

    files: list[TextFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def content_hash(text: str) -> str:
    """The identity of a document's text; two uploads with the same hash are the same document."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class DecodeError(ValueError):
    """Bytes that are not text in an accepted encoding; ``line`` is where the first bad byte is, if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def decode_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else raises DecodeError saying why.

    The one decoding rule for every file nerlab reads (uploads and every import format). The text is kept exactly
    as decoded: CRLF stays CRLF, because stored offsets count the raw text.
    """
    if not data:
        raise DecodeError("the file is empty")
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith(codecs.BOM_UTF16_LE):
        encoding, body = "utf-16-le", data[2:]
    elif data.startswith(codecs.BOM_UTF16_BE):
        encoding, body = "utf-16-be", data[2:]
    else:
        encoding, body = "utf-8", data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        bad = body[error.start : error.start + 1].hex()
        raise DecodeError(
            f"not valid {encoding.upper()} (bad byte 0x{bad} at offset {error.start}, line {line}); "
            "save the file as UTF-8, or as UTF-16 with a byte order mark",
            line,
        ) from None
    if "\x00" in text:
        raise DecodeError(
            "contains NUL characters; it is probably UTF-16 without a byte order mark — "
            "save it as UTF-8, or as UTF-16 with a byte order mark"
        )
    return text


def decode_text(data: bytes, name: str) -> str:
    """Decode an uploaded document and apply the document rules; errors name the file."""
    try:
        text = decode_bytes(data)
    except DecodeError as error:
        raise UploadError(f"{name}: {error}") from None
    return check_text(text, name)


def check_meta(meta: Mapping[str, str]) -> str | None:
    """Why a document's metadata cannot be kept, or None. Like a document's text it may hold no NUL character: the
    formats that carry metadata back out (CSV, JSONL) are text files, and a NUL makes a text file read as binary."""
    for key, value in meta.items():
        if "\x00" in key or "\x00" in value:
            return f"metadata {key!r} contains NUL characters, which a document's metadata may not hold"
    return None


def check_text(text: str, name: str) -> str:
    """The rules every document's text meets, however it arrived (a .txt file, an import, the API)."""
    if not text:
        raise UploadError(f"{name}: the document is empty")
    if "\x00" in text:
        raise UploadError(f"{name}: contains NUL characters, which a document may not hold")
    if not text.strip():
        raise UploadError(f"{name}: the document holds no text (only whitespace)")
    if len(text) > DOCUMENT_CHARS_MAX:
        raise UploadError(f"{name}: {len(text):,} characters; a document may hold at most {DOCUMENT_CHARS_MAX:,}")
    return text


def _safe_member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    normalised = posixpath.normpath(name)
    if (
        name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or normalised == ".."
        or normalised.startswith("../")
        or "/../" in f"/{name}/"
    ):
        raise UploadError(f"{info.filename}: unsafe path in the zip (absolute or leaving the archive)")
    # The high bits of external_attr hold the Unix mode; 0o120000 is a symbolic link.
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise UploadError(f"{info.filename}: the zip holds a symbolic link, which is not accepted")
    return normalised


def _is_junk(name: str) -> bool:
    base = posixpath.basename(name)
    return name.startswith("__MACOSX/") or base in {".DS_Store", "Thumbs.db"} or base.startswith("._")


def _zip_members(archive_name: str, data: bytes, reading: UploadReading) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        # A truncated or hand-crafted directory raises more than BadZipFile; all mean the same to the user.
        reading.errors.append(f"{archive_name}: not a valid zip file")
        return []
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > UPLOAD_FILES_MAX:
            reading.errors.append(
                f"{archive_name}: {len(infos):,} files; an upload may hold at most {UPLOAD_FILES_MAX:,}"
            )
            return []
        declared = sum(info.file_size for info in infos)
        if declared > UPLOAD_UNCOMPRESSED_BYTES_MAX:
            reading.errors.append(
                f"{archive_name}: expands to {declared:,} bytes; the limit is {UPLOAD_UNCOMPRESSED_BYTES_MAX:,}"
            )
            return []
        members: list[tuple[str, bytes]] = []
        for info in infos:
            label = f"{archive_name}/{info.filename}"
            try:
                name = _safe_member_name(info)
            except UploadError as error:
                reading.errors.append(f"{archive_name}: {error}")
                continue
            if _is_junk(name):
                continue
            if not name.lower().endswith(".txt"):
                reading.errors.append(f"{label}: only .txt files are accepted")
                continue
            if info.file_size > TXT_FILE_BYTES_MAX:
                reading.errors.append(
                    f"{label}: {info.file_size:,} bytes; a document may hold at most {DOCUMENT_CHARS_MAX:,} characters"
                )
                continue
            if info.compress_size and info.file_size / info.compress_size > UPLOAD_COMPRESSION_RATIO_MAX:
                reading.errors.append(
                    f"{label}: compressed {info.file_size / info.compress_size:,.0f}:1, "
                    f"more than {UPLOAD_COMPRESSION_RATIO_MAX}:1 — refused as a possible zip bomb"
                )
                continue
            # The sizes in the directory can lie: read at most one byte past the limit to be sure. zipfile stops at
            # the declared size and then fails the CRC check, so a lying entry usually surfaces as BadZipFile.
            try:
                with archive.open(info) as member:
                    content = member.read(TXT_FILE_BYTES_MAX + 1)
            except RuntimeError:  # zipfile's way of saying "encrypted, password required"
                reading.errors.append(f"{label}: the entry is encrypted; upload an unencrypted zip")
                continue
            except NotImplementedError:  # e.g. Deflate64 or another method Python cannot read
                reading.errors.append(f"{label}: compressed with a method that cannot be read; use plain Deflate")
                continue
            except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError):
                reading.errors.append(
                    f"{label}: damaged or inconsistent with its zip entry (bad checksum or size) — refused"
                )
                continue
            if len(content) > TXT_FILE_BYTES_MAX:
                reading.errors.append(f"{label}: larger than its zip entry says — refused as a possible zip bomb")
                continue
            members.append((label, content))
        return members


def read_uploads(uploads: Iterable[tuple[str, bytes]]) -> UploadReading:
    """Read ``.txt`` files and ``.zip`` archives of them; collect every problem instead of stopping at one."""
    reading = UploadReading()
    for upload_name, data in uploads:
        lower = upload_name.lower()
        if lower.endswith(".zip"):
            members = _zip_members(upload_name, data, reading)
        elif lower.endswith(".txt"):
            if len(data) > TXT_FILE_BYTES_MAX:
                reading.errors.append(
                    f"{upload_name}: {len(data):,} bytes; a document may hold at most {DOCUMENT_CHARS_MAX:,} characters"
                )
                continue
            members = [(upload_name, data)]
        else:
            reading.errors.append(f"{upload_name}: only .txt files or a .zip of them are accepted")
            continue
        for name, content in members:
            try:
                reading.files.append(TextFile(name=name, text=decode_text(content, name)))
            except UploadError as error:
                reading.errors.append(str(error))
    return reading
