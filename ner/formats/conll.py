"""Token-per-line files: CoNLL-2003 and its tag schemes IOB1, IOB2 (BIO), BIOES (also BILOU) and IO.

Reading rebuilds each document's text from its tokens — tokens joined by one space, sentences by ``\\n`` — so
every span's offsets are exact in that text. A line's other columns (POS, chunk...) are kept in the document's
metadata and written back on export. The tag is the last column and the token the first, so 2-column
(WNUT, WikiANN) and 4-column (CoNLL-2003, SEC filings) files read the same way. ``-DOCSTART-`` lines (both
``-DOCSTART- -X- O O`` and CoNLL-2003 testb's ``-DOCSTART- -X- -X- O``) start a new document; a file without
them is read as one document per sentence. Whitespace-only lines separate sentences (WNUT-17 uses a lone TAB).

Decoding is the same for every scheme and forgiving, as seqeval's default mode is: ``B-``/``S-``/``U-`` start an
entity, ``I-``/``E-``/``L-`` continue an open entity of the same type or start one, ``E-``/``L-``/``S-``/``U-``
close it. A scheme given by the caller restricts which prefixes are allowed.

Writing needs tokens: the simple tokenizer below, or the caller's (``tokenizer``: text -> [(start, end)]). A span
that does not start and end on token boundaries is an error, never moved silently.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from ner.formats.common import decode_input
from ner.formats.errors import FormatError, Problems
from ner.json_input import JsonInputError, load_json
from ner.names import InvalidName, normalize_language
from ner.types import LabeledDoc, Span

Scheme = Literal["iob1", "iob2", "bioes", "io"]
SCHEMES: tuple[Scheme, ...] = ("iob1", "iob2", "bioes", "io")
DocumentMode = Literal["auto", "docstart", "sentence"]
Layout = Literal["conll2003", "two-column"]
Tokenizer = Callable[[str], Sequence[tuple[int, int]]]

ALLOWED_PREFIXES: dict[Scheme, frozenset[str]] = {
    "io": frozenset("I"),
    "iob1": frozenset("IB"),
    "iob2": frozenset("IB"),
    "bioes": frozenset("BIESLUM"),  # BILOU's L and U are BIOES's E and S; BMES's M (NCRF++) is its I
}
_TAG = re.compile(r"(?P<prefix>[BIESLUM])-(?P<type>.+)")
# WikiANN writes every token as "en:token".
_LANGUAGE_PREFIX = re.compile(r"(?P<language>[a-z]{2,3}):(?=.)")
DOCSTART = "-DOCSTART-"
LABEL_STUDIO_DOCSTART = "-DOCSTART- -X- O"
# Columns that hold nothing: nerlab's own export writes "_", Label Studio's converter "-X- _".
_PLACEHOLDERS = {"_", "-X-"}
# The metadata key holding a document's other token columns (POS, chunk...) as JSON: one list per token.
CONLL_COLUMNS = "conll_columns"


@dataclass(slots=True)
class _Token:
    text: str
    prefix: str  # "" for O
    type: str
    line: int
    extra: tuple[str, ...] = ()  # the line's other columns (POS, chunk...), kept in the document's metadata


def _split_columns(line: str) -> list[str]:
    stripped = line.strip()
    # A TAB-separated file may hold tokens with spaces in them; otherwise any whitespace separates columns.
    return stripped.split("\t") if "\t" in stripped else stripped.split()


def detect_scheme(prefix_sequences: Sequence[Sequence[tuple[str, str]]]) -> Scheme:
    """The scheme a file's (prefix, type) tag sequences are written in, one sequence per sentence."""
    prefixes = {prefix for sentence in prefix_sequences for prefix, _ in sentence}
    if prefixes & set("ESLUM"):
        return "bioes"
    if "B" not in prefixes:
        return "io"
    # IOB1 uses B- only right after an entity of the same type; IOB2 starts every entity with B-.
    for sentence in prefix_sequences:
        previous = ("", "")
        for prefix, type_ in sentence:
            if prefix == "B" and not (previous[0] in {"B", "I"} and previous[1] == type_):
                return "iob2"
            previous = (prefix, type_)
    return "iob1"


def _decode(tokens: Sequence[_Token], offsets: Sequence[tuple[int, int]]) -> list[Span]:
    spans: list[Span] = []
    open_start: int | None = None
    open_type = ""
    open_end = 0
    for token, (start, end) in zip(tokens, offsets, strict=True):
        if token.prefix and (token.prefix in "BSU" or open_start is None or open_type != token.type):
            # I-, M-, E-, L- continue an open entity of the same type, or start one (seqeval's lenient mode)
            if open_start is not None:
                spans.append(Span(open_start, open_end, open_type))
            open_start, open_type = start, token.type
        elif not token.prefix and open_start is not None:
            spans.append(Span(open_start, open_end, open_type))
            open_start = None
        open_end = end
        if token.prefix in {"E", "L", "S", "U"} and open_start is not None:
            spans.append(Span(open_start, open_end, open_type))
            open_start = None
    if open_start is not None:
        spans.append(Span(open_start, open_end, open_type))
    return spans


def _token_lines(lines: list[str]) -> list[str]:
    """spaCy's sentence-per-line ``word|POS|TAG`` lines as token-per-line lines (other files unchanged)."""
    content_lines = [line for line in lines if line.strip() and not line.lstrip().startswith(DOCSTART)]
    if not content_lines or any("\t" in line for line in content_lines):
        return lines
    if not all(all("|" in part for part in line.split()) for line in content_lines):
        return lines
    if not any(len(line.split()) > 1 for line in content_lines):
        return lines  # one token a line with a "|" in it is an ordinary file with odd tokens
    converted: list[str] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith(DOCSTART):
            converted.append(line)
            continue
        converted.extend("\t".join(part.split("|")) for part in line.split())
        converted.append("")
    return converted


_BARE_LABEL = re.compile(r"[^\W\d_][\w.\-/:]*")
# A first line whose "tag" is one of these names the columns; read as a token, it would become an entity.
_HEADER_TAGS = {"tag", "tags", "label", "labels", "ner", "ne", "iob", "bio", "ner_tag", "ner_tags", "entity"}


def _bare_labels(lines: Sequence[str], tag_column: int) -> bool:
    """Whether the file tags with bare labels (``LOC``): no tag has a prefix, and every other one is a name."""
    saw_label = False
    for line in lines:
        columns = _split_columns(line)
        if len(columns) < 2 or columns[0] == DOCSTART or len(columns) < tag_column:
            continue
        tag = columns[tag_column - 1 if tag_column else -1]
        if tag == "O":
            continue
        if _TAG.fullmatch(tag) or not _BARE_LABEL.fullmatch(tag):
            return False
        saw_label = True
    return saw_label


def _header_line(lines: Sequence[str], tag_column: int) -> int | None:
    """The number of a first line that names the columns (``WORD TAG``), if there is one."""
    for number, line in enumerate(lines, start=1):
        columns = _split_columns(line)
        if not columns:
            continue
        tag = columns[tag_column - 1 if tag_column else -1] if len(columns) >= max(2, tag_column) else ""
        return number if tag.lower() in _HEADER_TAGS else None
    return None


def read_conll(
    data: bytes,
    *,
    file_name: str = "",
    scheme: Scheme | None = None,
    documents: DocumentMode = "auto",
    strip_language_prefix: bool = False,
    token_column: int = 1,
    tag_column: int = 0,
    header: bool = False,
    comments: bool = False,
    notes: list[str] | None = None,
) -> list[LabeledDoc]:
    """Read a token-per-line file; ``strip_language_prefix`` removes WikiANN's ``xx:`` and sets the language.

    ``token_column``/``tag_column`` count from 1 (``tag_column`` 0: the last column), for files such as flair's
    with the tag in column 2 of 3 or GermEval's (index, token, tag, nested tag). ``header`` skips a first line of
    column names; ``comments`` skips lines starting with ``#`` (GermEval's source lines). Tags without a prefix
    (``LOC`` rather than ``I-LOC``) are read as IO when the whole file is written so; a file mixing both is
    refused. spaCy's sentence-per-line ``.iob`` (``word|POS|TAG`` tokens, one sentence a line) is recognised.
    """
    problems = Problems(file_name)
    lines = _content_lines(decode_input(data, problems), header=header, comments=comments)
    if token_column < 1 or tag_column < 0:
        raise problems.fail("columns count from 1 (the tag column 0 means the last one)")
    header_line = None if header else _header_line(lines, tag_column)
    if header_line is not None:
        raise problems.fail(
            "this line names the columns (a header row); tick “the first line names the columns” to skip it",
            where=f"line {header_line}",
        )
    reader = _LineReader(
        problems=problems,
        scheme=scheme,
        token_column=token_column,
        tag_column=tag_column,
        strip_language_prefix=strip_language_prefix,
        bare=_bare_labels(lines, tag_column),
    )
    grouped = _group_tokens(lines, reader, by_docstart=_by_docstart(lines, documents, notes))
    problems.raise_if_any()
    if not grouped:
        raise problems.fail("the file holds no tokens")
    language = _single_language(reader.languages)
    base = PurePath(file_name).name or "document"
    width = len(str(len(grouped)))
    return [
        _document(sentences, name=f"{base}-{index:0{width}d}", language=language)
        for index, sentences in enumerate(grouped, start=1)
    ]


def _content_lines(content: str, *, header: bool, comments: bool) -> list[str]:
    """The file's lines as token-per-line lines, a skipped header and skipped comments blanked."""
    # Split on "\n" only: str.splitlines would also break inside tokens at \x1c, \x85, \u2028 and friends.
    lines = _token_lines(content.split("\n"))
    if header:
        first = next((index for index, line in enumerate(lines) if line.strip()), None)
        if first is not None:
            lines[first] = ""
    if comments:
        lines = ["" if line.lstrip().startswith("#") else line for line in lines]
    return lines


def _by_docstart(lines: Sequence[str], documents: DocumentMode, notes: list[str] | None) -> bool:
    """Whether ``-DOCSTART-`` lines separate the documents (otherwise each sentence is one)."""
    docstarts = [line.strip() for line in lines if line.lstrip().startswith(DOCSTART)]
    # Label Studio's converter writes one "-DOCSTART- -X- O" line and then every task as a blank-line separated
    # block: read as one document, all its tasks would become one. In "auto", those blocks are the documents.
    label_studio = docstarts == [LABEL_STUDIO_DOCSTART]
    if label_studio and documents == "auto" and notes is not None:
        notes.append(
            "one '-DOCSTART- -X- O' line, as Label Studio's CoNLL export writes: each blank-line separated block "
            "(a task) read as one document"
        )
    return documents == "docstart" or (documents == "auto" and bool(docstarts) and not label_studio)


@dataclass
class _LineReader:
    """Reads one token line by the file's column layout and tag scheme; remembers WikiANN language prefixes."""

    problems: Problems
    scheme: Scheme | None
    token_column: int
    tag_column: int
    strip_language_prefix: bool
    bare: bool  # the file tags with bare labels (LOC): each is read as I-LOC
    languages: set[str] = field(default_factory=set)

    def read(self, columns: list[str], line: str, number: int) -> _Token | None:
        """The line's token; None after reporting a problem."""
        token_column, tag_column = self.token_column, self.tag_column
        if len(columns) < max(2, token_column, tag_column):
            where_columns = (
                f" (token in column {token_column}, tag in {f'column {tag_column}' if tag_column else 'the last'})"
                if token_column != 1 or tag_column
                else ""
            )
            self.problems.add(
                f"expected a token and a tag separated by whitespace{where_columns}, found {line.strip()!r}",
                where=f"line {number}",
            )
            return None
        tag_index = tag_column - 1 if tag_column else len(columns) - 1
        token, tag = self._token(columns[token_column - 1]), columns[tag_index]
        extra = tuple(column for place, column in enumerate(columns) if place not in (token_column - 1, tag_index))
        if tag == "O":
            return _Token(token, "", "", number, extra)
        if self.bare:
            return _Token(token, "I", tag, number, extra)
        prefix_and_type = self._prefix_and_type(tag, number)
        return None if prefix_and_type is None else _Token(token, *prefix_and_type, number, extra)

    def _token(self, token: str) -> str:
        if self.strip_language_prefix:
            match = _LANGUAGE_PREFIX.match(token)
            if match:
                self.languages.add(match["language"])
                return token[match.end() :]
        return token

    def _prefix_and_type(self, tag: str, number: int) -> tuple[str, str] | None:
        tag_match = _TAG.fullmatch(tag)
        if tag_match is None:
            self.problems.add(
                f"tag {tag!r} is not O or a B-/I-/E-/S- tag such as B-PER (a file may use bare labels such as "
                "LOC only throughout; is the tag in another column?)",
                where=f"line {number}",
                field="tag",
            )
            return None
        prefix = tag_match["prefix"]
        if self.scheme is not None and prefix not in ALLOWED_PREFIXES[self.scheme]:
            allowed = "/".join(sorted(ALLOWED_PREFIXES[self.scheme]))
            self.problems.add(
                f"tag {tag!r} is not allowed in {self.scheme.upper()} (only O and {allowed}- tags)",
                where=f"line {number}",
                field="tag",
            )
            return None
        return prefix, tag_match["type"]


def _group_tokens(lines: Sequence[str], reader: _LineReader, *, by_docstart: bool) -> list[list[list[_Token]]]:
    """The file's tokens as documents -> sentences -> tokens (documents without a sentence left out)."""
    grouped: list[list[list[_Token]]] = [[]]
    sentence: list[_Token] = []

    def end_sentence() -> None:
        nonlocal sentence
        if sentence:
            grouped[-1].append(sentence)
            if not by_docstart:
                grouped.append([])
            sentence = []

    for number, line in enumerate(lines, start=1):
        columns = _split_columns(line)
        if not columns:
            end_sentence()
        elif columns[0] == DOCSTART:
            end_sentence()
            if grouped[-1]:
                grouped.append([])
        else:
            token = reader.read(columns, line, number)
            if token is not None:
                sentence.append(token)
    end_sentence()
    return [document for document in grouped if document]


def _single_language(languages: set[str]) -> str | None:
    """The language every prefixed token names, when they all name the same valid one."""
    if len(languages) != 1:
        return None
    try:
        return normalize_language(next(iter(languages)))
    except InvalidName:
        return None


def _document(sentences: Sequence[Sequence[_Token]], *, name: str, language: str | None) -> LabeledDoc:
    """The document's text (tokens joined by a space, sentences by a line break), its spans and other columns."""
    parts: list[str] = []
    spans: list[Span] = []
    position = 0
    for sentence_tokens in sentences:
        if parts:
            parts.append("\n")
            position += 1
        offsets: list[tuple[int, int]] = []
        for token_index, item in enumerate(sentence_tokens):
            if token_index:
                parts.append(" ")
                position += 1
            offsets.append((position, position + len(item.text)))
            parts.append(item.text)
            position += len(item.text)
        spans.extend(_decode(sentence_tokens, offsets))
    extras = [list(item.extra) for sentence_tokens in sentences for item in sentence_tokens]
    keep = any(column not in _PLACEHOLDERS for columns in extras for column in columns)
    return LabeledDoc(
        text="".join(parts),
        spans=tuple(sorted(spans)),
        name=name,
        language=language,
        meta={CONLL_COLUMNS: json.dumps(extras, ensure_ascii=False)} if keep else {},
    )


def _extra_columns(doc: LabeledDoc, tokens: int) -> list[list[str]] | None:
    """The document's other token columns as read (``conll_columns`` in its metadata), when they still fit its
    tokens one for one; otherwise None (the writer then puts ``_`` in those columns)."""
    try:
        extras = load_json(doc.meta.get(CONLL_COLUMNS, "null"))
    except (json.JSONDecodeError, JsonInputError):
        return None
    if not isinstance(extras, list) or len(extras) != tokens:
        return None
    for columns in extras:
        if not isinstance(columns, list) or not all(
            isinstance(column, str) and column and not any(character.isspace() for character in column)
            for column in columns
        ):
            return None
    return extras


def read_conll_scheme(data: bytes) -> Scheme:
    """The scheme a file is written in (for showing the user what was detected)."""
    problems = Problems()
    sequences: list[list[tuple[str, str]]] = [[]]
    for line in decode_input(data, problems).split("\n"):
        columns = _split_columns(line)
        if not columns or columns[0] == DOCSTART:
            sequences.append([])
            continue
        match = _TAG.fullmatch(columns[-1])
        sequences[-1].append((match["prefix"], match["type"]) if match else ("", ""))
    return detect_scheme(sequences)


# --- writing -----------------------------------------------------------------------------------------------------


def _is_cjk(character: str) -> bool:
    code = ord(character)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
    )


def _attaches(character: str) -> bool:
    """Marks, variation selectors, joiners and emoji modifiers belong to the character before them."""
    category = unicodedata.category(character)
    return category[0] == "M" or category == "Cf" or 0x1F3FB <= ord(character) <= 0x1F3FF


def simple_tokenize(text: str) -> list[tuple[int, int]]:
    """Words (letters, digits, ``_``), single punctuation/symbol characters, and single CJK characters.

    Unlike a plain whitespace split, punctuation is its own token ("Paris," -> "Paris" ","), and Chinese or
    Japanese text is one token per character rather than one token per sentence (Label Studio #1250).
    """
    tokens: list[tuple[int, int]] = []
    index, length = 0, len(text)
    while index < length:
        character = text[index]
        if character.isspace():
            index += 1
            continue
        start = index
        index += 1
        if (character.isalnum() or character == "_") and not _is_cjk(character):
            while index < length and (
                ((text[index].isalnum() or text[index] == "_") and not _is_cjk(text[index])) or _attaches(text[index])
            ):
                index += 1
        while index < length and (_attaches(text[index]) or text[index - 1] == "\u200d") and not text[index].isspace():
            index += 1
        tokens.append((start, index))
    return tokens


def _tags_for(spans: Sequence[Span], bounds: Sequence[tuple[int, int]], scheme: Scheme) -> list[str]:
    starts = {start: index for index, (start, _) in enumerate(bounds)}
    ends = {end: index for index, (_, end) in enumerate(bounds)}
    tags = ["O"] * len(bounds)
    previous_last = -2
    previous_type = ""
    for span in spans:
        first, last = starts[span.start], ends[span.end]
        for position in range(first, last + 1):
            tags[position] = f"I-{span.label}"
        if scheme == "iob2":
            tags[first] = f"B-{span.label}"
        elif scheme == "bioes":
            if first == last:
                tags[first] = f"S-{span.label}"
            else:
                tags[first], tags[last] = f"B-{span.label}", f"E-{span.label}"
        elif scheme == "iob1" and previous_last == first - 1 and previous_type == span.label:
            tags[first] = f"B-{span.label}"
        previous_last, previous_type = last, span.label
    return tags


def write_conll(
    docs: Sequence[LabeledDoc],
    *,
    scheme: Scheme = "iob2",
    tokenizer: Tokenizer | None = None,
    layout: Layout = "conll2003",
) -> bytes:
    """One ``-DOCSTART-`` block per document, one sentence per line of the text, one token per line.

    ``layout`` "conll2003" writes ``token _ _ TAG`` — or, for a document read from a file with more columns,
    ``token POS chunk TAG`` with the columns kept in its metadata (``conll_columns``) while its tokens still
    match them one for one; "two-column" writes ``token<TAB>TAG``. Raises FormatError listing every span that
    cannot be written.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    tokenize = tokenizer or simple_tokenize
    problems = Problems()
    out: list[str] = []
    for doc_index, doc in enumerate(docs, start=1):
        where = f"document {doc_index}" + (f" ({doc.name!r})" if doc.name else "")
        bounds = [(int(start), int(end)) for start, end in tokenize(doc.text)]
        if not _check_tokens(doc.text, bounds, problems, where):
            continue
        if not bounds:
            problems.add("the document has no tokens", where=where)
            continue
        tokens = _WrittenTokens(doc.text, bounds)
        good: list[Span] = []
        for span in sorted(doc.spans):
            problem = tokens.span_problem(span, good[-1] if good else None, scheme=scheme, layout=layout)
            if problem:
                problems.add(problem, where=where)
            else:
                good.append(span)
        out.append(_document_block(doc, tokens, _tags_for(good, bounds, scheme), layout))
    if problems:
        raise FormatError(problems.items)
    return "".join(out).encode("utf-8")


class _WrittenTokens:
    """A document's tokens as they will be written: where each starts and ends, and the sentence (line) of each."""

    def __init__(self, text: str, bounds: Sequence[tuple[int, int]]) -> None:
        self.text = text
        self.bounds = bounds
        self.sentence_of = _sentence_numbers(text, bounds)
        self.token_index = {start: index for index, (start, _) in enumerate(bounds)}
        self.end_index = {end: index for index, (_, end) in enumerate(bounds)}

    def span_problem(self, span: Span, previous: Span | None, *, scheme: Scheme, layout: Layout) -> str | None:
        """Why ``span`` cannot be written after ``previous`` (the last span kept), or None when it can."""
        shown = f"{span.label} at {span.start}-{span.end} ({span.text_in(self.text)!r})"
        if any(character.isspace() for character in span.label) and (
            layout == "conll2003" or any(character.isspace() and character != " " for character in span.label)
        ):
            return f"{shown}: the label {span.label!r} holds whitespace, which would split the tag column" + (
                " (the two-column layout allows spaces)" if layout == "conll2003" else ""
            )
        if span.start not in self.token_index or span.end not in self.end_index or span.end <= span.start:
            side = "start" if span.start not in self.token_index else "end"
            return f"{shown} does not {side} on a token boundary; CoNLL can hold only whole tokens"
        first, last = self.token_index[span.start], self.end_index[span.end]
        if self.sentence_of[first] != self.sentence_of[last]:
            return f"{shown} crosses a line break; a CoNLL entity must stay within one sentence"
        if previous is None:
            return None
        if previous.end > span.start:
            return (
                f"{shown} overlaps {previous.label} at {previous.start}-{previous.end}; CoNLL tags one entity per token"
            )
        previous_last = self.end_index[previous.end]
        if (
            scheme == "io"
            and previous.label == span.label
            and previous_last == first - 1
            and self.sentence_of[first] == self.sentence_of[previous_last]
        ):
            return f"{shown} directly follows another {span.label}; IO tags cannot keep them apart"
        return None


def _document_block(doc: LabeledDoc, tokens: _WrittenTokens, tags: Sequence[str], layout: Layout) -> str:
    """The document's ``-DOCSTART-`` line, then each sentence after a blank line, one token a line."""
    extras = _extra_columns(doc, len(tokens.bounds)) if layout == "conll2003" else None
    out = [f"{DOCSTART} -X- -X- O\n" if layout == "conll2003" else f"{DOCSTART}\tO\n"]
    previous_sentence = -1
    for index, (start, end) in enumerate(tokens.bounds):
        if tokens.sentence_of[index] != previous_sentence:
            out.append("\n")
            previous_sentence = tokens.sentence_of[index]
        token = doc.text[start:end]
        if layout == "two-column":
            out.append(f"{token}\t{tags[index]}\n")
        else:
            out.append(" ".join([token, *(extras[index] if extras else ("_", "_")), tags[index]]) + "\n")
    out.append("\n")
    return "".join(out)


def _check_tokens(text: str, bounds: Sequence[tuple[int, int]], problems: Problems, where: str) -> bool:
    previous_end = 0
    for start, end in bounds:
        if not 0 <= start < end <= len(text) or start < previous_end:
            problems.add(
                f"the tokenizer returned {start}-{end}, which is empty, out of order or outside the text", where=where
            )
            return False
        token = text[start:end]
        if any(character.isspace() for character in token) or token == DOCSTART:
            problems.add(f"token {token!r} at {start}-{end} cannot be written on a CoNLL line", where=where)
            return False
        previous_end = end
    return True


def _sentence_numbers(text: str, bounds: Sequence[tuple[int, int]]) -> list[int]:
    """A new sentence starts after every gap between tokens that holds a line break."""
    numbers: list[int] = []
    sentence = 0
    previous_end: int | None = None
    for start, end in bounds:
        if previous_end is not None and "\n" in text[previous_end:start]:
            sentence += 1
        numbers.append(sentence)
        previous_end = end
    return numbers
