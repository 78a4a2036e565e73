"""Builders for the files a user uploads: encodings, zips, and the hostile zips the reader must refuse.

Plain Python (no Django), so tests/ner/test_text.py uses them too.
"""

from __future__ import annotations

import codecs
import io
import zipfile

SAMPLE = "Alice Smith joined Contoso in Paris.\r\nBob Jones left Fabrikam.\r\n"


def utf8(text: str = SAMPLE) -> bytes:
    return text.encode("utf-8")


def utf8_bom(text: str = SAMPLE) -> bytes:
    return codecs.BOM_UTF8 + text.encode("utf-8")


def utf16_le_bom(text: str = SAMPLE) -> bytes:
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def utf16_be_bom(text: str = SAMPLE) -> bytes:
    return codecs.BOM_UTF16_BE + text.encode("utf-16-be")


def latin1(text: str = "Café in Zürich, naïve résumé.") -> bytes:
    return text.encode("latin-1")


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_slip() -> bytes:
    return zip_of({"fine.txt": utf8("A fine document."), "../../etc/evil.txt": utf8("I escape the folder.")})


def zip_bomb() -> bytes:
    # 500,000 identical bytes compress about a thousandfold: under the size limit, far over the ratio limit.
    return zip_of({"bomb.txt": b"a" * 500_000})


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.txt")
        link.external_attr = (0o120777 & 0xFFFF) << 16  # S_IFLNK | rwxrwxrwx
        archive.writestr(link, "/etc/passwd")
        archive.writestr("real.txt", utf8("A real document."))
    return buffer.getvalue()


def zip_with_lying_size() -> bytes:
    """A member whose directory entry claims 10 bytes but which expands to much more."""
    data = bytearray(zip_of({"liar.txt": b"word " * 2_000}))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.infolist()[0]
    central = data.rfind(b"PK\x01\x02")
    # Central directory: uncompressed size at offset 24; local header: uncompressed size at offset 22.
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    data[info.header_offset + 22 : info.header_offset + 26] = (10).to_bytes(4, "little")
    return bytes(data)
