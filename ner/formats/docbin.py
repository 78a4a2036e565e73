"""spaCy's binary training format (``.spacy``, a serialised ``DocBin``).

Documents are tokenised by a blank pipeline of their language (``xx``, spaCy's multi-language one, when the
language is unknown or unsupported); spaCy keeps each token's trailing whitespace, so the text survives exactly.
Entities become ``doc.ents`` through ``Doc.char_span(..., alignment_mode="strict")``: a span that does not fall on
spaCy's token boundaries, or that overlaps another, is an error rather than silently widened or dropped. nerlab's
name, language and split travel in ``doc.user_data``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ner.formats.errors import FormatError, Problems
from ner.names import InvalidName, primary_language
from ner.types import SPLITS, LabeledDoc, Span

_USER_KEYS = ("nerlab_name", "nerlab_language", "nerlab_split")


@lru_cache(maxsize=16)
def _blank(language: str) -> Any:
    import spacy  # imported here: reading other formats must not pay for loading spaCy

    try:
        return spacy.blank(language)
    except (ImportError, KeyError, ValueError, OSError):
        return spacy.blank("xx")


def _pipeline_for(language: str | None) -> Any:
    if not language:
        return _blank("xx")
    try:
        return _blank(primary_language(language))
    except InvalidName:
        return _blank("xx")


def read_docbin(data: bytes, *, file_name: str = "") -> list[LabeledDoc]:
    from spacy.tokens import DocBin

    problems = Problems(file_name)
    if not data:
        raise problems.fail("the file is empty")
    try:
        doc_bin = DocBin(store_user_data=True).from_bytes(data)
        spacy_docs = list(doc_bin.get_docs(_blank("xx").vocab))
    except (zlib.error, ValueError, KeyError, TypeError) as error:
        raise problems.fail(f"not a spaCy .spacy (DocBin) file: {error}") from None
    docs: list[LabeledDoc] = []
    for spacy_doc in spacy_docs:
        user = spacy_doc.user_data if isinstance(spacy_doc.user_data, dict) else {}
        name, language, split = (user.get(key) for key in _USER_KEYS)
        docs.append(
            LabeledDoc(
                text=spacy_doc.text,
                spans=tuple(sorted(Span(ent.start_char, ent.end_char, ent.label_) for ent in spacy_doc.ents)),
                name=name if isinstance(name, str) else "",
                language=language if isinstance(language, str) and language else None,
                split=next((s for s in SPLITS if s == split), None),
            )
        )
    if not docs:
        raise problems.fail("the file holds no documents")
    return docs


def write_docbin(docs: Sequence[LabeledDoc]) -> bytes:
    from spacy.tokens import DocBin

    problems = Problems()
    doc_bin = DocBin(attrs=["ORTH", "SPACY", "ENT_IOB", "ENT_TYPE"], store_user_data=True)
    for index, doc in enumerate(docs, start=1):
        where = f"document {index}" + (f" ({doc.name!r})" if doc.name else "")
        nlp = _pipeline_for(doc.language)
        spacy_doc = nlp.make_doc(doc.text)
        ents: list[Any] = []
        for span in sorted(doc.spans):
            shown = f"{span.label} at {span.start}-{span.end} ({span.text_in(doc.text)!r})"
            ent = spacy_doc.char_span(span.start, span.end, label=span.label, alignment_mode="strict")
            if ent is None:
                tokens = " | ".join(
                    t.text for t in spacy_doc.char_span(span.start, span.end, alignment_mode="expand") or []
                )
                problems.add(f"{shown} does not fall on spaCy's token boundaries (tokens: {tokens})", where=where)
                continue
            if ents and ents[-1].end_char > span.start:
                problems.add(
                    f"{shown} overlaps another entity; spaCy's doc.ents cannot hold overlapping spans", where=where
                )
                continue
            ents.append(ent)
        spacy_doc.ents = ents
        spacy_doc.user_data.update(zip(_USER_KEYS, (doc.name, doc.language or "", doc.split or ""), strict=True))
        doc_bin.add(spacy_doc)
    if problems:
        raise FormatError(problems.items)
    return bytes(doc_bin.to_bytes())
