"""Benchmark: training on a 12.8-million-character corpus, the size Azure's FAQ says takes about 6 hours.

Builds a multilingual corpus from every shared dataset (CoNLL-2003 English, CoNLL-2002 Spanish, WikiANN
en/de/fr/nl, WNUT-17, SEC filings), maps their types onto PER / LOC / ORG / MISC, groups consecutive sentences
into documents of about 2,000 characters, and takes documents until the training side holds 12.8 million
characters. Dev and test documents are the first documents of the datasets' own dev and test files (the rest of
those files joins the training pool); they never appear on the training side. The shared datasets hold fewer
distinct characters than 12.8 million, so the pool is repeated to reach the size (the report gives both figures).

First, training speed against a baseline in the same process: ``--speed-steps`` steps of fixed 1,000-word
batches on the first 1.5 M characters, three times each, with thinc's default BLIS maths on one thread (what
``spacy train`` uses) and with nerlab's OpenBLAS maths (``ner.compute``) on 1 and 2 threads and on 2 processes
(``ner.parallel``); medians.

Then two trainings with nerlab's ``ner.train`` (a multilingual ``xx`` pipeline, as a multilingual project gets),
one after the other so that the fast one has the machine to itself:

- *fast*: the step budget nerlab would use for a corpus this size, expected to finish within 15 minutes on 2 cores;
- *unhurried*: ``--unhurried-factor`` times as many steps with early stopping, the reference the fast run's
  test F1 is compared against (goal: within 1 point).

    .venv/bin/python bench/train_large.py                       # full: ~15 min fast + up to 40 min unhurried
    .venv/bin/python bench/train_large.py --chars 400000 --fast-steps 300 --unhurried-factor 2 --speed-steps 20  # smoke
    .venv/bin/python bench/train_large.py --budget-minutes 10 --budget-repeats 2 --speed-steps 0  # time budget

With ``--budget-minutes N`` the *fast* run is replaced by a run on a time budget, as the app trains one: step limit
and patience from the corpus size (``ner.sizing``), then ``ner.train`` measures the machine and chooses the step
limit that fits N minutes, test-set prediction included (``ner.budget``). It reports the measured words/s, the
steps chosen, wall time (training, and with the test set) and test F1, ``--budget-repeats`` times; compare with the
unhurried run's test F1 (issue 16: within 1.5 points at 10 minutes, within 1 at 15). Written to
``bench/results/train_large_budget.json`` unless ``--output`` says otherwise.

``--fast-batch-words N`` trains the fast run on N-word batches from the first step, as a budget that binds does
(``ner.budget``), to compare batch sizes at equal training time by F1 alone.

Figures are printed and written to bench/results/train_large.json: corpus size, the speed medians, wall time, steps,
words/s and test F1 (exact-match micro, ``ner.metrics``) of both runs, and the F1 difference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402
from thinc.api import use_ops  # noqa: E402

import ner.train  # noqa: E402
from ner.compute import DEFAULT_TRAINING_PROCESSES, DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402
from ner.metrics import evaluate  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.sizing import settings_for_corpus  # noqa: E402
from ner.train import TrainSettings, first_documents, train  # noqa: E402
from ner.types import LabeledDoc, Span  # noqa: E402

DATASETS_DIR = ROOT / ".." / "shared" / "datasets"
TARGET_CHARS = 12_800_000
DOCUMENT_CHARS = 2_000
LABELS = {
    "PER": "PER", "person": "PER",
    "LOC": "LOC", "location": "LOC",
    "ORG": "ORG", "corporation": "ORG", "group": "ORG",
    "MISC": "MISC", "product": "MISC", "creative-work": "MISC",
}  # fmt: skip
# (train file, dev file, test file, WikiANN prefix); the largest sources first is not needed: all are used.
SOURCES = [
    ("conll2003/eng.train.conll", "conll2003/eng.testa.conll", "conll2003/eng.testb.conll", False),
    ("conll2002_es/esp.train.conll", "conll2002_es/esp.testa.conll", "conll2002_es/esp.testb.conll", False),
    ("wikiann/en.train.iob", "wikiann/en.dev.iob", "wikiann/en.test.iob", True),
    ("wikiann/de.train.iob", "wikiann/de.dev.iob", "wikiann/de.test.iob", True),
    ("wikiann/fr.train.iob", "wikiann/fr.dev.iob", "wikiann/fr.test.iob", True),
    ("wikiann/nl.train.iob", "wikiann/nl.dev.iob", "wikiann/nl.test.iob", True),
    ("wnut17/wnut17train.conll", "wnut17/emerging.dev.conll", "wnut17/emerging.test.annotated.conll", False),
    ("sec_filings_fin/FIN5.txt", None, "sec_filings_fin/FIN3.txt", False),
]
# Dev/test sizes per source (characters): enough for stable scores, small enough that evaluation stays cheap.
DEV_CHARS_PER_SOURCE = 15_000
TEST_CHARS_PER_SOURCE = 60_000


def sentences(path: str, wikiann: bool) -> list[LabeledDoc]:
    data = (DATASETS_DIR / path).read_bytes()
    docs = read_conll(data, file_name=path, documents="sentence", strip_language_prefix=wikiann)
    return [
        LabeledDoc(text=doc.text, spans=tuple(Span(s.start, s.end, LABELS[s.label]) for s in doc.spans)) for doc in docs
    ]


def documents(sents: Iterable[LabeledDoc], name: str) -> list[LabeledDoc]:
    """Consecutive sentences joined by newlines into documents of about DOCUMENT_CHARS characters."""
    result: list[LabeledDoc] = []
    texts: list[str] = []
    spans: list[Span] = []
    length = 0

    def flush() -> None:
        nonlocal texts, spans, length
        if texts:
            result.append(LabeledDoc(text="\n".join(texts), spans=tuple(spans), name=f"{name}-{len(result) + 1}"))
        texts, spans, length = [], [], 0

    for sent in sents:
        offset = length + (1 if texts else 0)
        texts.append(sent.text)
        spans.extend(Span(s.start + offset, s.end + offset, s.label) for s in sent.spans)
        length = offset + len(sent.text)
        if length >= DOCUMENT_CHARS:
            flush()
    flush()
    return result


def build_corpus(target_chars: int) -> dict[str, list[LabeledDoc]]:
    per_source_train: list[list[LabeledDoc]] = []
    dev: list[LabeledDoc] = []
    test: list[LabeledDoc] = []
    for train_path, dev_path, test_path, wikiann in SOURCES:
        pool = documents(sentences(train_path, wikiann), train_path)
        # The first documents of each dev and test file are held out; the rest of those files trains too.
        if dev_path:
            dev_docs = documents(sentences(dev_path, wikiann), dev_path)
            held = first_documents(dev_docs, DEV_CHARS_PER_SOURCE)
            dev += held
            pool += dev_docs[len(held) :]
        test_docs = documents(sentences(test_path, wikiann), test_path)
        held = first_documents(test_docs, TEST_CHARS_PER_SOURCE)
        test += held
        pool += test_docs[len(held) :]
        per_source_train.append(pool)
    # Interleave the sources so that any prefix of the corpus mixes every language and domain.
    interleaved: list[LabeledDoc] = []
    for position in range(max(len(docs) for docs in per_source_train)):
        interleaved += [docs[position] for docs in per_source_train if position < len(docs)]
    available = sum(len(doc.text) for doc in interleaved)
    if available < target_chars:
        # The shared datasets hold a little less than 12.8 M characters of training text: repeat from the start
        # (a second pass over the same documents, as a real corpus with near-duplicates would have).
        repeats = -(-target_chars // available)
        interleaved = [
            LabeledDoc(text=doc.text, spans=doc.spans, name=f"{doc.name}-copy{copy}")
            for copy in range(repeats)
            for doc in interleaved
        ]
    train_docs = first_documents(interleaved, target_chars)
    return {"train": train_docs, "dev": dev, "test": test, "available_chars": [available]}  # type: ignore[dict-item]


@contextmanager
def blis_maths() -> Iterator[None]:
    """thinc's default ops (BLIS, one thread): the baseline ``ner.compute`` replaced. Patched in for the speed
    comparison only; nerlab itself has no switch back."""
    original = ner.train.model_ops

    @contextmanager
    def blis_ops() -> Iterator[None]:
        with use_ops("numpy", use_blis=True):
            yield

    ner.train.model_ops = blis_ops  # type: ignore[assignment]
    try:
        yield
    finally:
        ner.train.model_ops = original  # type: ignore[assignment]


def speed(corpus: dict[str, list[LabeledDoc]], steps: int, repeats: int = 3) -> dict[str, object]:
    """Median training words/s of BLIS (1 thread), OpenBLAS on 1 and 2 threads, and on 2 processes, interleaved."""
    docs = first_documents(corpus["train"], 1_500_000)
    dev = corpus["dev"][:2]  # the loop evaluates at step 0; a tiny dev set keeps that out of the words/s
    variants = {  # (BLIS?, processes, threads per process)
        "blis_1_thread": (True, 1, 1),
        "openblas_1_thread": (False, 1, 1),
        "openblas_2_threads": (False, 1, 2),
        "openblas_2_processes": (False, 2, 1),  # ner.parallel, nerlab's default
    }
    measured: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="nerlab-bench-speed-") as temp:
        for repeat in range(repeats):
            for name, (blis, process_count, thread_count) in variants.items():
                settings = TrainSettings(
                    seed=0, max_steps=steps, patience=0, eval_frequency=steps + 1, batch_size_start=1000,
                    batch_size_stop=1000, processes=process_count, threads=thread_count,
                )  # fmt: skip
                output = Path(temp) / f"{name}-{repeat}"
                with blis_maths() if blis else nullcontext():
                    result = train(docs, dev, language="xx", output_dir=output, settings=settings)
                measured[name].append(result.words_per_second)
    medians = {name: round(statistics.median(values)) for name, values in measured.items()}
    baseline = medians["blis_1_thread"]
    report: dict[str, object] = {
        "steps": steps,
        "batch_words": 1000,
        "repeats": repeats,
        "words_per_s_median": medians,
        "words_per_s_all": {name: [round(v) for v in values] for name, values in measured.items()},
        "speedup_over_blis": {name: round(value / baseline, 2) for name, value in medians.items()},
    }
    print(f"   speed: {report}", flush=True)
    return report


def run(name: str, corpus: dict[str, list[LabeledDoc]], settings: TrainSettings, out: Path) -> dict[str, object]:
    print(f"   {name}: {settings.max_steps} steps max, patience {settings.patience} ...", flush=True)
    started = time.perf_counter()
    result = train(corpus["train"], corpus["dev"], language="xx", output_dir=out / name, settings=settings)
    wall = time.perf_counter() - started
    predictor = load(result.model_path)
    predicted = predictor.predict([doc.text for doc in corpus["test"]], batch_size=64)
    report = evaluate(list(zip(corpus["test"], predicted, strict=True)), resamples=200, seed=0)
    figures = {
        "wall_s": round(wall, 1),
        "wall_min": round(wall / 60, 2),
        "steps": result.steps,
        "epochs": result.epochs,
        "words_per_s": round(result.words_per_second),
        "dev_f1": round((result.best_dev_f1 or 0.0) * 100, 2),
        "test_f1": round(report.micro.f1 * 100, 2),
        "test_f1_95ci": [round(report.micro_f1_interval.low * 100, 2), round(report.micro_f1_interval.high * 100, 2)],
    }
    print(f"   {name}: {figures}", flush=True)
    return figures


def budgeted(
    corpus: dict[str, list[LabeledDoc]], minutes: float, processes: int, threads: int, out: Path, repeat: int
) -> dict[str, object]:
    """One training on a time budget, as the app runs it: sized settings, then the budget chooses the steps."""
    sized = settings_for_corpus(characters=sum(len(doc.text) for doc in corpus["train"]))
    settings = TrainSettings(
        seed=0,
        max_steps=sized.max_steps,
        patience=sized.patience,
        eval_frequency=None,
        processes=processes,
        threads=threads,
        time_budget_s=60 * minutes,
        chosen_by=f"{sized.rule}: {sized.reason}",
    )
    print(f"   budget {repeat}: at most {minutes:g} minutes, step limit {sized.max_steps} ...", flush=True)
    test_characters = sum(len(doc.text) for doc in corpus["test"])
    started = time.perf_counter()
    result = train(
        corpus["train"],
        corpus["dev"],
        language="xx",
        output_dir=out / f"budget-{repeat}",
        settings=settings,
        predict_after_characters=test_characters,
    )
    trained = time.perf_counter() - started
    predicted = load(result.model_path).predict([doc.text for doc in corpus["test"]], batch_size=64)
    wall = time.perf_counter() - started
    report = evaluate(list(zip(corpus["test"], predicted, strict=True)), resamples=200, seed=0)
    assert result.budget is not None
    figures: dict[str, object] = {
        "budget_minutes": minutes,
        "measured_words_per_s": round(result.budget.speed.words_per_second),
        "steps_chosen": result.budget.max_steps,
        # The probe's choice before the run re-planned from its own first steps (0: it did not).
        "steps_chosen_by_probe": result.budget.probe_max_steps,
        "measured_step_ms": round(result.budget.measured_step_s * 1000, 1),
        "step_limit_from_corpus_size": sized.max_steps,
        "steps_trained": result.steps,
        "best_step": result.best_step,
        "stopped_at_time_limit": result.stopped_at_time_limit,
        "estimated_s": round(result.budget.estimated_s, 1),
        "wall_s": round(trained, 1),
        "wall_with_test_s": round(wall, 1),
        "wall_min": round(wall / 60, 2),
        "within_budget": wall <= 60 * minutes,
        "words_per_s": round(result.words_per_second),
        "dev_f1": round((result.best_dev_f1 or 0.0) * 100, 2),
        "test_f1": round(report.micro.f1 * 100, 2),
        "test_f1_95ci": [round(report.micro_f1_interval.low * 100, 2), round(report.micro_f1_interval.high * 100, 2)],
        "plan": result.budget.to_dict(),
    }
    print(f"   budget {repeat}: {figures}", flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=TARGET_CHARS, help="training characters (default 12.8 M)")
    parser.add_argument("--fast-steps", type=int, default=21000, help="step budget of the fast run")
    parser.add_argument("--unhurried-factor", type=float, default=2.5, help="unhurried steps = factor x fast steps")
    parser.add_argument("--patience", type=int, default=4000, help="early stopping of the unhurried run, in steps")
    parser.add_argument("--skip-unhurried", action="store_true")
    parser.add_argument(
        "--unhurried-only",
        action="store_true",
        help="train only the unhurried run (its F1 does not depend on the machine's load: run it beside other work)",
    )
    parser.add_argument(
        "--processes", type=int, default=DEFAULT_TRAINING_PROCESSES, help="training processes (nerlab's default)"
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_TRAINING_THREADS, help="threads per process (nerlab's default)"
    )
    parser.add_argument(
        "--fast-batch-words",
        type=int,
        default=0,
        help="train the fast run on batches of this many words from the first step, evaluating as the app's size "
        "rule says, as a budget that binds does (0: the growing batches of an unbudgeted run)",
    )
    parser.add_argument("--speed-steps", type=int, default=150, help="steps per speed measurement (0: skip it)")
    parser.add_argument(
        "--budget-minutes", type=float, default=0, help="replace the fast run by one on this time budget (0: off)"
    )
    parser.add_argument("--budget-repeats", type=int, default=1, help="budgeted runs, one after the other")
    parser.add_argument("--output", type=Path, help="default: bench/results/train_large[_budget].json")
    parser.add_argument("--datasets", type=Path, help="the shared datasets folder (default: ../shared/datasets)")
    args = parser.parse_args(argv)
    global DATASETS_DIR
    DATASETS_DIR = args.datasets or DATASETS_DIR
    if args.budget_minutes < 0 or args.budget_repeats < 1:
        parser.error("--budget-minutes must be positive (0: off) and --budget-repeats at least 1")
    if args.output is None:
        name = "train_large_budget.json" if args.budget_minutes else "train_large.json"
        args.output = ROOT / "bench" / "results" / name
    if not DATASETS_DIR.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS_DIR.resolve()}")

    started = time.perf_counter()
    corpus = build_corpus(args.chars)
    sizes = {
        split: {
            "documents": len(docs),
            "characters": sum(len(d.text) for d in docs),
            "entities": sum(len(d.spans) for d in docs),
        }
        for split, docs in corpus.items()
        if split != "available_chars"
    }
    sizes["distinct_training_characters_available"] = corpus.pop("available_chars")[0]  # type: ignore[assignment]
    print(f"corpus built in {time.perf_counter() - started:.0f} s: {sizes}", flush=True)

    fast = TrainSettings(
        seed=0,
        max_steps=args.fast_steps,
        patience=0,
        eval_frequency=1000,
        batch_size_stop=1000,
        processes=args.processes,
        threads=args.threads,
    )
    if args.fast_batch_words:
        fast = replace(
            fast, batch_size_start=args.fast_batch_words, batch_size_stop=args.fast_batch_words, eval_frequency=None
        )
    unhurried = TrainSettings(
        seed=0,
        max_steps=int(args.fast_steps * args.unhurried_factor),
        patience=args.patience,
        eval_frequency=1000,
        processes=args.processes,
        threads=args.threads,
    )
    load_before = os.getloadavg()
    speed_report = speed(corpus, args.speed_steps) if args.speed_steps > 0 else None
    with tempfile.TemporaryDirectory(prefix="nerlab-bench-large-") as temp:
        results: dict[str, object] = {}
        if args.unhurried_only:
            pass
        elif args.budget_minutes:
            results["budget"] = [
                budgeted(corpus, args.budget_minutes, args.processes, args.threads, Path(temp), repeat)
                for repeat in range(1, args.budget_repeats + 1)
            ]
        else:
            results["fast"] = run("fast", corpus, fast, Path(temp))
        if not args.skip_unhurried:
            results["unhurried"] = run("unhurried", corpus, unhurried, Path(temp))
    report: dict[str, object] = {
        "corpus": sizes,
        "settings": {
            "budget_minutes": args.budget_minutes or None,
            "fast_steps": None if args.budget_minutes else args.fast_steps,
            "fast_batch_words": args.fast_batch_words or None,
            "unhurried_steps": unhurried.max_steps,
            "processes": args.processes,
            "threads": args.threads,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "speed": speed_report,
        "results": results,
    }
    if args.unhurried_only:
        pass
    elif args.budget_minutes:
        budget_runs: list[dict[str, object]] = results["budget"]  # type: ignore[assignment]
        if "unhurried" in results:
            slow_f1 = float(results["unhurried"]["test_f1"])  # type: ignore[index]
            report["test_f1_budget_minus_unhurried"] = [
                round(float(item["test_f1"]) - slow_f1, 2)  # type: ignore[arg-type]
                for item in budget_runs
            ]
        report["goal_budget_within_budget"] = all(item["within_budget"] for item in budget_runs)
    else:
        if "unhurried" in results:
            fast_f1, slow_f1 = results["fast"]["test_f1"], results["unhurried"]["test_f1"]  # type: ignore[index]
            report["test_f1_fast_minus_unhurried"] = round(float(fast_f1) - float(slow_f1), 2)  # type: ignore[arg-type]
        report["goal_fast_within_15_min"] = float(results["fast"]["wall_min"]) <= 15  # type: ignore[arg-type,index]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
