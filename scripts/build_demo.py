"""Rebuild demo/loan-agreements.jsonl from the SEC-filings NER corpus (CC BY 3.0) in ../shared/datasets.

The demo project ships inside the repository, so it uses only licence-clean data: Salinas Alvarado, Verspoor &
Baldwin (2015), loan agreements filed with the SEC, CC BY 3.0 (attribution in demo/ATTRIBUTION.md). Each demo
document is a run of ten consecutive sentences of one agreement with at least four tagged tokens, every such run of
both files: FIN5 (five agreements) is the training side, FIN3 (three other agreements) the test side, as in the
corpus. Tokens are joined by single spaces, so offsets are exact.
Run: python scripts/build_demo.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "datasets" / "sec_filings_fin"
OUTPUT = ROOT / "demo" / "loan-agreements.jsonl"
SENTENCES_PER_DOCUMENT = 10
# Every tagged run, not a sample: with 24 of FIN5's 89 runs the training side held 65 organisations, 39 of them
# "Bank", and a model learnt no other organisation (0 F1 on the test side's companies).
DOCUMENTS = {"FIN5.txt": "train", "FIN3.txt": "test"}
MIN_TAGGED_TOKENS = 4
LABELS = {"PER": "Person", "ORG": "Organization", "LOC": "Location"}


def read_sentences(path: Path) -> list[list[list[tuple[str, str]]]]:
    agreements: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-DOCSTART-"):
            agreements.append([])
            continue
        if not line.strip():
            if sentence:
                agreements[-1].append(sentence)
                sentence = []
            continue
        columns = line.split(" ")
        sentence.append((columns[0], columns[-1]))
    if sentence:
        agreements[-1].append(sentence)
    return agreements


def build_document(sentences: list[list[tuple[str, str]]]) -> tuple[str, list[dict[str, object]]]:
    text_parts: list[str] = []
    spans: list[dict[str, object]] = []
    offset = 0
    for index, sentence in enumerate(sentences):
        if index:
            text_parts.append("\n")
            offset += 1
        open_span: dict[str, object] | None = None
        for position, (token, tag) in enumerate(sentence):
            if position:
                text_parts.append(" ")
                offset += 1
            label = LABELS.get(tag[2:]) if tag != "O" else None
            # IO tagging: consecutive tokens of one type form one entity.
            if open_span is not None and open_span["label"] == label:
                open_span["end"] = offset + len(token)
            else:
                open_span = None
                if label is not None:
                    open_span = {"start": offset, "end": offset + len(token), "label": label}
                    spans.append(open_span)
            text_parts.append(token)
            offset += len(token)
    return "".join(text_parts), spans


def main() -> None:
    lines: list[str] = []
    for file_name, split in DOCUMENTS.items():
        agreements = read_sentences(SOURCE / file_name)
        candidates: list[tuple[str, list[list[tuple[str, str]]]]] = []
        for number, agreement in enumerate(agreements, start=1):
            for start in range(0, len(agreement) - SENTENCES_PER_DOCUMENT + 1, SENTENCES_PER_DOCUMENT):
                chunk = agreement[start : start + SENTENCES_PER_DOCUMENT]
                if sum(tag != "O" for sentence in chunk for _, tag in sentence) >= MIN_TAGGED_TOKENS:
                    candidates.append((f"{file_name[:-4].lower()}-agreement{number}-part{start // 10 + 1}", chunk))
        for name, chunk in candidates:
            text, spans = build_document(chunk)
            lines.append(json.dumps({"name": f"{name}.txt", "text": text, "spans": spans, "split": split}))
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} documents to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
