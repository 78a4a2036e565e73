"""Tiny synthetic training data shared by the training and prediction tests (trains in a couple of seconds)."""

from __future__ import annotations

from pathlib import Path

from ner.train import TrainResult, TrainSettings, train
from ner.types import LabeledDoc, Span

PEOPLE = ["Alice Smith", "Bob Jones", "Carol White", "David Brown", "Eve Black", "Frank Green"]
CITIES = ["Paris", "Berlin", "Madrid", "Lisbon", "Vienna", "Oslo"]
VERBS = ["flew to", "drove to", "moved to"]
# Emoji are one code point in Python but two UTF-16 units: some sentences carry them so offsets get tested.
OPENINGS = ["", "🎉 ", "", "😀😀 "]
ENDINGS = ["", " 🇩🇪", " 👍🏽", ""]

# Few steps, frequent evaluation: enough for the model to learn the pattern, and checkpoints to choose from.
QUICK = TrainSettings(seed=7, max_steps=60, eval_frequency=10, progress_interval_s=0)


def sentence(index: int) -> tuple[str, tuple[Span, ...]]:
    person, city, verb = PEOPLE[index % 6], CITIES[(index * 5 + 1) % 6], VERBS[index % 3]
    opening = OPENINGS[index % 4] + "Yesterday "
    before = f"{opening}{person} {verb} "
    text = f"{before}{city} for meeting number {index}.{ENDINGS[index % 4]}"
    spans = (
        Span(len(opening), len(opening) + len(person), "PERSON"),
        Span(len(before), len(before) + len(city), "CITY"),
    )
    return text, spans


def labeled_docs(count: int = 30) -> list[LabeledDoc]:
    docs = []
    for index in range(count):
        text, spans = sentence(index)
        docs.append(LabeledDoc(text=text, spans=spans, name=f"doc{index}.txt"))
    return docs


def train_quick(output_dir: Path, settings: TrainSettings = QUICK, **kwargs: object) -> TrainResult:
    docs = labeled_docs()
    return train(docs[:27], docs[27:], language="en", output_dir=output_dir, settings=settings, **kwargs)  # type: ignore[arg-type]
