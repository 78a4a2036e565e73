"""BERT's WordPiece tokenizer, with the character offsets of every piece in the original text.

This is the tokenizer of Hugging Face's ``tokenizers`` (BertNormalizer, BertPreTokenizer, WordPiece) written out in
Python, read from ``tokenizer.json`` or, without one, from ``vocab.txt`` (+ ``tokenizer_config.json`` for
``do_lower_case``). Written here rather than installed because the pieces' offsets in the *original* text are what
aligning them to spaCy tokens needs, and because each distinct word is cut once and cached, which keeps it fast
enough. ``bench/encoder_reference.py`` checks that it gives the same ids as ``tokenizers`` on tricky text.

The normalizer, in the reference's order, character by character: drop NUL, U+FFFD and control/format characters,
make every other whitespace a plain space (clean_text); put spaces around CJK ideographs (handle_chinese_chars);
decompose and drop combining marks (strip_accents, which follows lowercase when unset); lowercase. Words are then
split at whitespace and every punctuation character stands alone; each word is cut into the longest pieces in the
vocabulary, left to right, continuation pieces prefixed with ``##``. A word with a part no piece covers, or longer
than ``max_input_chars_per_word``, becomes one ``[UNK]``.

One deliberate difference: text that spells a special token (``[SEP]``) is read as ordinary text, not as that token,
so a document cannot inject structure into the encoder's input.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ner.encoders.files import EncoderFileError, read_json

TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

_WORD_CACHE_MAX = 200_000
# Unicode blocks BERT treats as CJK ideographs (the reference's list; Hangul and kana are not among them).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


@dataclass(frozen=True, slots=True)
class Pieces:
    """A text's wordpieces: vocabulary ids and (start, end) code point offsets in the text, in text order."""

    ids: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Cn", "Co", "Cs")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    # ASCII symbols such as $ + < = > ^ ` | ~ count as punctuation for BERT although Unicode calls them symbols.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


class WordPieceTokenizer:
    def __init__(
        self,
        vocab: dict[str, int],
        *,
        lowercase: bool,
        strip_accents: bool | None,
        clean_text: bool = True,
        handle_chinese_chars: bool = True,
        unk_token: str = "[UNK]",
        prefix: str = "##",
        max_input_chars_per_word: int = 100,
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        source: Path,
    ) -> None:
        for role, token in (("unk_token", unk_token), ("cls_token", cls_token), ("sep_token", sep_token)):
            if token not in vocab:
                raise EncoderFileError(source, f"{role} {token!r} is not in the vocabulary")
        self.vocab = vocab
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.unk_id = vocab[unk_token]
        self.cls_id = vocab[cls_token]
        self.sep_id = vocab[sep_token]
        self.prefix = prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self._chars: dict[str, str] = {}
        self._words: dict[str, tuple[tuple[int, int, int], ...]] = {}

    def settings(self) -> dict[str, Any]:
        """What decides the pieces besides the vocabulary (part of the encoder's fingerprint)."""
        return {
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "clean_text": self.clean_text,
            "handle_chinese_chars": self.handle_chinese_chars,
            "unk_id": self.unk_id,
            "cls_id": self.cls_id,
            "sep_id": self.sep_id,
            "prefix": self.prefix,
            "max_input_chars_per_word": self.max_input_chars_per_word,
        }

    def _normal(self, char: str) -> str:
        """What one original character becomes after normalization (empty when dropped)."""
        if self.clean_text:
            if char in ("\x00", "\ufffd") or _is_control(char):
                return ""
            if char.isspace():
                return " "
        if self.handle_chinese_chars and _is_cjk(char):
            return f" {char} "
        result = char
        if self.strip_accents:
            result = "".join(c for c in unicodedata.normalize("NFD", result) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            result = result.lower()
        return result

    def _word_pieces(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """(id, start, end) of each piece of ``word``, offsets relative to the word."""
        cached = self._words.get(word)
        if cached is not None:
            return cached
        pieces: list[tuple[int, int, int]] = []
        if len(word) > self.max_input_chars_per_word:
            pieces.append((self.unk_id, 0, len(word)))
        else:
            start = 0
            while start < len(word):
                end = len(word)
                found = -1
                while start < end:
                    candidate = word[start:end] if start == 0 else self.prefix + word[start:end]
                    found = self.vocab.get(candidate, -1)
                    if found >= 0:
                        break
                    end -= 1
                if found < 0:
                    pieces = [(self.unk_id, 0, len(word))]
                    break
                pieces.append((found, start, end))
                start = end
        result = tuple(pieces)
        if len(self._words) >= _WORD_CACHE_MAX:
            self._words.clear()
        self._words[word] = result
        return result

    def __call__(self, text: str) -> Pieces:
        normal: list[str] = []
        origin: list[int] = []
        chars = self._chars
        for index, char in enumerate(text):
            converted = chars.get(char)
            if converted is None:
                converted = chars[char] = self._normal(char)
            for out in converted:
                normal.append(out)
                origin.append(index)
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []

        def add_word(first: int, last: int) -> None:
            for piece_id, start, end in self._word_pieces("".join(normal[first:last])):
                ids.append(piece_id)
                starts.append(origin[first + start])
                ends.append(origin[first + end - 1] + 1)

        word_start = -1
        for position, char in enumerate(normal):
            if char.isspace() or _is_punctuation(char):
                if word_start >= 0:
                    add_word(word_start, position)
                    word_start = -1
                if not char.isspace():
                    add_word(position, position + 1)
            elif word_start < 0:
                word_start = position
        if word_start >= 0:
            add_word(word_start, len(normal))
        return Pieces(
            ids=np.asarray(ids, dtype=np.int64),
            starts=np.asarray(starts, dtype=np.int64),
            ends=np.asarray(ends, dtype=np.int64),
        )


def load_tokenizer(folder: Path) -> tuple[WordPieceTokenizer, Path]:
    """The folder's tokenizer (from ``tokenizer.json``, else ``vocab.txt``) and the file it was read from."""
    path = folder / TOKENIZER_FILE
    if path.is_file():
        return _from_tokenizer_json(path), path
    vocab_path = folder / VOCAB_FILE
    if vocab_path.is_file():
        return _from_vocab_txt(vocab_path, folder / TOKENIZER_CONFIG_FILE), vocab_path
    raise EncoderFileError(path, f"file not found, and no {VOCAB_FILE} beside it either (one of them is needed)")


def _section(path: Path, data: dict[str, Any], key: str, expected_type: str) -> dict[str, Any]:
    section = data.get(key)
    if not isinstance(section, dict):
        raise EncoderFileError(path, f"field {key!r} must be an object with type {expected_type!r}")
    if section.get("type") != expected_type:
        raise EncoderFileError(
            path, f"field '{key}.type' is {section.get('type')!r}; only {expected_type!r} (BERT's) is supported"
        )
    return section


def _from_tokenizer_json(path: Path) -> WordPieceTokenizer:
    data = read_json(path)
    model = _section(path, data, "model", "WordPiece")
    normalizer = _section(path, data, "normalizer", "BertNormalizer")
    _section(path, data, "pre_tokenizer", "BertPreTokenizer")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise EncoderFileError(path, "field 'model.vocab' must be a non-empty object of piece -> id")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocab.values()):
        raise EncoderFileError(path, "field 'model.vocab' holds an id that is not a non-negative integer")
    flags: dict[str, bool | None] = {}
    for key in ("lowercase", "clean_text", "handle_chinese_chars", "strip_accents"):
        value = normalizer.get(key, None if key == "strip_accents" else True)
        if not (isinstance(value, bool) or (value is None and key == "strip_accents")):
            raise EncoderFileError(path, f"field 'normalizer.{key}' must be true or false (got {value!r})")
        flags[key] = value
    max_chars = model.get("max_input_chars_per_word", 100)
    if not isinstance(max_chars, int) or max_chars <= 0:
        raise EncoderFileError(path, "field 'model.max_input_chars_per_word' must be a positive integer")
    cls_token, sep_token = _special_tokens(path, data.get("post_processor"))
    return WordPieceTokenizer(
        vocab,
        lowercase=bool(flags["lowercase"]),
        strip_accents=flags["strip_accents"],
        clean_text=bool(flags["clean_text"]),
        handle_chinese_chars=bool(flags["handle_chinese_chars"]),
        unk_token=str(model.get("unk_token", "[UNK]")),
        prefix=str(model.get("continuing_subword_prefix", "##")),
        max_input_chars_per_word=max_chars,
        cls_token=cls_token,
        sep_token=sep_token,
        source=path,
    )


def _special_tokens(path: Path, processor: Any) -> tuple[str, str]:
    """[CLS] and [SEP] as the post-processor names them (BERT's defaults when it names none)."""
    try:
        if isinstance(processor, dict) and processor.get("type") == "TemplateProcessing":
            single = processor["single"]
            return str(single[0]["SpecialToken"]["id"]), str(single[-1]["SpecialToken"]["id"])
        if isinstance(processor, dict) and processor.get("type") == "BertProcessing":
            return str(processor["cls"][0]), str(processor["sep"][0])
    except (KeyError, IndexError, TypeError) as error:
        raise EncoderFileError(path, "field 'post_processor' does not start and end with a special token") from error
    return "[CLS]", "[SEP]"


def _from_vocab_txt(path: Path, config_path: Path) -> WordPieceTokenizer:
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise EncoderFileError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    if lines and lines[-1] == "":
        lines.pop()
    vocab: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        piece = line.rstrip("\r")
        if not piece:
            raise EncoderFileError(path, f"line {number} is empty (each line holds one piece)")
        vocab.setdefault(piece, number - 1)
    if not vocab:
        raise EncoderFileError(path, "the vocabulary is empty")
    # BERT's own default when a folder says nothing: uncased.
    lowercase: bool = True
    strip_accents: bool | None = None
    if config_path.is_file():
        config = read_json(config_path)
        value = config.get("do_lower_case", True)
        if not isinstance(value, bool):
            raise EncoderFileError(config_path, f"field 'do_lower_case' must be true or false (got {value!r})")
        lowercase = value
        accents = config.get("strip_accents")
        if accents is not None and not isinstance(accents, bool):
            raise EncoderFileError(config_path, f"field 'strip_accents' must be true, false or null (got {accents!r})")
        strip_accents = accents
    return WordPieceTokenizer(vocab, lowercase=lowercase, strip_accents=strip_accents, source=path)
