"""ner.text: decoding uploads and reading zips safely. No database."""

from __future__ import annotations

import zipfile

import pytest

from ner.limits import DOCUMENT_CHARS_MAX, UPLOAD_FILES_MAX
from ner.text import UploadError, check_text, content_hash, decode_text, read_uploads
from tests.labeling import uploads as files


@pytest.mark.parametrize(
    "data",
    [files.utf8(), files.utf8_bom(), files.utf16_le_bom(), files.utf16_be_bom()],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_decode_text_accepts_utf8_and_utf16_with_bom_keeping_crlf(data):
    text = decode_text(data, "a.txt")
    assert text == files.SAMPLE  # BOM gone, CRLF kept byte for byte
    assert "\r\n" in text and not text.startswith("\ufeff")


def test_decode_text_keeps_astral_characters_as_one_code_point():
    text = decode_text(files.utf16_le_bom("Emoji 😀 here"), "e.txt")
    assert text == "Emoji 😀 here" and len(text) == 12


def test_decode_text_rejects_latin1_naming_file_and_position():
    with pytest.raises(UploadError) as error:
        decode_text(files.latin1(), "notes.txt")
    message = str(error.value)
    assert message.startswith("notes.txt: not valid UTF-8")
    assert "offset 3" in message and "line 1" in message


def test_decode_text_rejects_utf16_without_bom():
    with pytest.raises(UploadError, match=r"NUL characters.*byte order mark"):
        decode_text("plain".encode("utf-16-le"), "u16.txt")


@pytest.mark.parametrize(("data", "rule"), [(b"", "empty"), (b" \r\n\t ", "only whitespace")])
def test_decode_text_rejects_empty_and_blank_files(data, rule):
    with pytest.raises(UploadError, match=rule):
        decode_text(data, "blank.txt")


def test_decode_text_limit_is_exact():
    assert len(decode_text(b"x" * DOCUMENT_CHARS_MAX, "max.txt")) == DOCUMENT_CHARS_MAX
    with pytest.raises(UploadError, match=r"big\.txt: 128,001 characters; a document may hold at most 128,000"):
        decode_text(b"x" * (DOCUMENT_CHARS_MAX + 1), "big.txt")


def test_check_text_applies_the_same_rules_to_imported_text():
    assert check_text("fine", "doc") == "fine"
    with pytest.raises(UploadError, match="doc: the document is empty"):
        check_text("", "doc")
    with pytest.raises(UploadError, match="NUL"):
        check_text("a\x00b", "doc")


def test_content_hash_is_stable_and_distinguishes_line_endings():
    assert content_hash("a\nb") == content_hash("a\nb")
    assert content_hash("a\nb") != content_hash("a\r\nb")


def test_read_uploads_reads_txt_and_zip_members_with_archive_prefix():
    reading = read_uploads(
        [("one.txt", files.utf8("One.")), ("bundle.zip", files.zip_of({"dir/two.txt": files.utf8_bom("Two.")}))]
    )
    assert reading.errors == []
    assert [(f.name, f.text) for f in reading.files] == [("one.txt", "One."), ("bundle.zip/dir/two.txt", "Two.")]


def test_read_uploads_collects_every_error_not_just_the_first():
    reading = read_uploads(
        [("a.txt", b""), ("b.txt", files.latin1()), ("c.pdf", b"%PDF"), ("ok.txt", files.utf8("Fine."))]
    )
    assert [error.split(":")[0] for error in reading.errors] == ["a.txt", "b.txt", "c.pdf"]
    assert [f.name for f in reading.files] == ["ok.txt"]


def test_read_uploads_rejects_zip_slip_but_reads_the_safe_member():
    reading = read_uploads([("evil.zip", files.zip_slip())])
    assert len(reading.errors) == 1
    assert "../../etc/evil.txt" in reading.errors[0] and "unsafe path" in reading.errors[0]
    assert [f.name for f in reading.files] == ["evil.zip/fine.txt"]


@pytest.mark.parametrize("name", ["/abs/path.txt", "C:/windows/x.txt", "a/../../b.txt", "..\\up.txt"])
def test_read_uploads_rejects_absolute_and_escaping_paths(name):
    reading = read_uploads([("z.zip", files.zip_of({name: b"text"}))])
    assert len(reading.errors) == 1 and "unsafe path" in reading.errors[0]


def test_read_uploads_rejects_zip_bomb_by_compression_ratio():
    reading = read_uploads([("bomb.zip", files.zip_bomb())])
    assert reading.files == []
    assert reading.errors[0].startswith("bomb.zip/bomb.txt: compressed")
    assert "zip bomb" in reading.errors[0]


def test_read_uploads_rejects_member_that_is_larger_than_it_claims():
    reading = read_uploads([("liar.zip", files.zip_with_lying_size())])
    assert reading.files == []
    assert len(reading.errors) == 1 and reading.errors[0].startswith("liar.zip/liar.txt: damaged or inconsistent")


def test_read_uploads_rejects_symlink_entries():
    reading = read_uploads([("links.zip", files.zip_with_symlink())])
    assert len(reading.errors) == 1 and "symbolic link" in reading.errors[0]
    assert [f.name for f in reading.files] == ["links.zip/real.txt"]


def test_read_uploads_rejects_encrypted_entries_without_crashing():
    data = bytearray(files.zip_of({"secret.txt": b"hidden text"}, compression=zipfile.ZIP_STORED))
    # Set the "encrypted" flag bit in the local header and central directory, as an encrypting zip tool would.
    data[6] |= 0x01
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x01
    reading = read_uploads([("locked.zip", bytes(data))])
    assert reading.errors == ["locked.zip/secret.txt: the entry is encrypted; upload an unencrypted zip"]


def test_read_uploads_rejects_damaged_zip_and_non_txt_members():
    reading = read_uploads([("broken.zip", b"PK\x03\x04 not really"), ("mixed.zip", files.zip_of({"x.csv": b"a,b"}))])
    assert reading.errors == ["broken.zip: not a valid zip file", "mixed.zip/x.csv: only .txt files are accepted"]


def test_read_uploads_skips_os_junk_in_zips():
    archive = files.zip_of({"__MACOSX/._a.txt": b"\x00\x05", ".DS_Store": b"\x00", "a.txt": b"Real text."})
    reading = read_uploads([("mac.zip", archive)])
    assert reading.errors == [] and [f.name for f in reading.files] == ["mac.zip/a.txt"]


def test_read_uploads_refuses_zip_with_too_many_files(monkeypatch):
    monkeypatch.setattr("ner.text.UPLOAD_FILES_MAX", 3)
    reading = read_uploads([("many.zip", files.zip_of({f"{i}.txt": b"text %d" % i for i in range(4)}))])
    assert reading.errors == ["many.zip: 4 files; an upload may hold at most 3"]
    assert UPLOAD_FILES_MAX == 10_000  # the real limit is untouched


def test_read_uploads_rejects_oversized_txt_before_decoding():
    reading = read_uploads([("huge.txt", b"x" * (DOCUMENT_CHARS_MAX * 4 + 5))])
    assert reading.errors[0].startswith("huge.txt: 512,005 bytes")
