"""Training: a usable model, reproducible, cancellable without leftovers, honest about what it changed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import ner.train
from ner.predict import load
from ner.train import Progress, TrainCancelled, TrainError, TrainSettings, train
from ner.types import LabeledDoc, Span
from tests.ner.synthetic_docs import QUICK, labeled_docs, sentence, train_quick

pytestmark = pytest.mark.slow

UNSEEN = [sentence(index)[0] for index in range(100, 106)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    progress: list[Progress] = []
    output = tmp_path_factory.mktemp("run") / "model"
    result = train_quick(output, on_progress=progress.append)
    return result, progress


def test_train_writes_a_model_that_finds_the_entities(trained):
    result, _ = trained
    assert result.model_path.is_dir() and (result.model_path / "meta.json").is_file()
    assert result.labels == ("CITY", "PERSON")
    assert result.best_dev_f1 is not None and result.best_dev_f1 > 0.8
    assert set(result.dev_f1_per_label) == {"CITY", "PERSON"}
    assert result.train_documents == 27 and result.dev_documents == 3
    assert result.steps > 0 and result.words_per_second > 0 and result.duration_s > 0
    found = load(result.model_path).predict(UNSEEN)
    expected = [sorted((span.start, span.end, span.label) for span in sentence(index)[1]) for index in range(100, 106)]
    hits = sum((span.start, span.end, span.label) in expected[i] for i, spans in enumerate(found) for span in spans)
    assert hits >= 10  # of 12 entities


def test_train_reports_monotone_progress_ending_at_100(trained):
    _, progress = trained
    percents = [update.percent for update in progress]
    assert len(progress) > 5
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert all(0 <= update.percent <= 100 for update in progress)
    assert [update.step for update in progress] == sorted(update.step for update in progress)
    assert progress[-1].eta_s == 0.0 and progress[-1].dev_f1 is not None
    assert any(update.eta_s and update.eta_s > 0 for update in progress[:-1])
    assert progress[-1].elapsed_s >= progress[0].elapsed_s


def test_a_run_that_reaches_its_step_limit_did_not_stop_early(trained):
    result, progress = trained
    assert not result.stopped_early
    assert all(update.stop_step is None for update in progress)  # patience (1,600) lies beyond the 60 steps


def test_patience_stops_early_says_so_and_tells_the_step_beforehand(tmp_path):
    docs = labeled_docs()
    progress: list[Progress] = []
    # From scratch the dev score stays at 0 for the first few dozen steps: 30 steps of patience end the run.
    settings = TrainSettings(seed=7, max_steps=2000, patience=30, eval_frequency=10, progress_interval_s=0)

    result = train(
        docs[:27], docs[27:], language="en", output_dir=tmp_path / "m", settings=settings, on_progress=progress.append
    )

    assert result.stopped_early and result.steps < 2000
    announced = [update.stop_step for update in progress if update.stop_step is not None]
    assert announced and announced[-1] == result.steps  # the last announcement is where it stopped
    assert progress[-1].percent == 100.0


def test_train_twice_with_the_same_seed_gives_identical_models(trained, tmp_path):
    first, _ = trained
    second = train_quick(tmp_path / "again")
    assert second.best_dev_f1 == first.best_dev_f1
    assert second.dev_f1_per_label == first.dev_f1_per_label
    assert second.steps == first.steps and second.best_step == first.best_step
    texts = [*UNSEEN, "Carol White drove to Vienna.", "nobody went anywhere"]
    one = load(first.model_path).predict(texts, with_confidence=True)
    two = load(second.model_path).predict(texts, with_confidence=True)
    assert one == two
    assert (first.model_path / "ner" / "model").read_bytes() == (second.model_path / "ner" / "model").read_bytes()


def test_a_saved_model_keeps_its_labels_of_the_training_strings_and_predicts_as_with_them_all(
    trained, tmp_path, monkeypatch
):
    first, _ = trained
    strings = json.loads((first.model_path / "vocab" / "strings.json").read_text())
    assert strings == ["CITY"]  # PERSON is one of spaCy's own symbols, never stored
    # The same run saving every string it saw (spaCy's own to_disk): the same weights and the same predictions.
    monkeypatch.setattr(ner.train, "_strings_kept", lambda nlp: list(nlp.vocab.strings))
    everything = train_quick(tmp_path / "everything")
    assert len(json.loads((everything.model_path / "vocab" / "strings.json").read_text())) > 1_000
    texts = [*UNSEEN, "Carol White drove to Vienna.", "Zyxwv Qplm flew to Ouagadougou.", "nobody went anywhere"]
    assert load(first.model_path).predict(texts, with_confidence=True) == load(everything.model_path).predict(
        texts, with_confidence=True
    )
    assert (first.model_path / "ner" / "model").read_bytes() == (everything.model_path / "ner" / "model").read_bytes()


def test_cancel_stops_within_a_step_and_leaves_no_output(tmp_path):
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 15

    output = tmp_path / "model"
    with pytest.raises(TrainCancelled):
        train_quick(output, should_stop=should_stop)
    assert calls == 15
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written temporary folder either


def test_cancel_keeps_the_previous_model(trained, tmp_path):
    output = tmp_path / "model"
    output.mkdir()
    (output / "meta.json").write_text("{}")
    with pytest.raises(TrainCancelled):
        train_quick(output, should_stop=lambda: True)
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    assert (output / "meta.json").read_text() == "{}"


def test_train_replaces_a_previous_model_in_the_output_folder(tmp_path):
    output = tmp_path / "model"
    output.mkdir()
    (output / "stale.txt").write_text("old run")
    docs = labeled_docs(12)
    train(docs[:10], docs[10:], language="en", output_dir=output, settings=TrainSettings(max_steps=3))
    assert not (output / "stale.txt").exists() and (output / "meta.json").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_misaligned_spans_are_widened_and_reported(tmp_path):
    docs = labeled_docs(12)
    text = "Yesterday Alice Smith flew to Paris."
    # "lice Smit" cuts two words: it is widened to "Alice Smith" and counted, not refused.
    docs[0] = LabeledDoc(text=text, spans=(Span(11, 20, "PERSON"), Span(30, 35, "CITY")), name="cut.txt")
    result = train(docs[:10], docs[10:], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=3))
    assert result.misaligned_spans == 1 and result.dropped_spans == 0
    assert any("'lice Smit' in cut.txt became 'Alice Smith'" in warning for warning in result.warnings)


def test_spans_that_overlap_once_widened_are_dropped_and_reported(tmp_path):
    docs = labeled_docs(12)
    text = "Yesterday Alice Smith flew to Paris."
    docs[0] = LabeledDoc(text=text, spans=(Span(10, 13, "PERSON"), Span(13, 21, "PERSON")), name="split.txt")
    result = train(docs[:10], docs[10:], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=3))
    assert result.dropped_spans == 1 and result.misaligned_spans == 1
    assert any("overlap" in warning for warning in result.warnings)


def test_train_without_dev_documents_holds_out_ten_percent(tmp_path):
    result = train(labeled_docs(30), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=3))
    assert (result.train_documents, result.dev_documents) == (27, 3)
    assert result.best_dev_f1 is not None


def test_a_128k_character_document_trains_in_chunks(tmp_path):
    paragraphs = [sentence(index)[0] for index in range(2400)]
    text, spans, position = "", [], 0
    for index, paragraph in enumerate(paragraphs):
        spans.extend(Span(position + s.start, position + s.end, s.label) for s in sentence(index)[1])
        text += paragraph + "\n\n"
        position = len(text)
    text = text[:128_000]
    spans = [span for span in spans if span.end <= len(text)]
    long_doc = LabeledDoc(text=text, spans=tuple(spans), name="long.txt")
    result = train(
        [long_doc], labeled_docs(3), language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=2)
    )
    assert result.train_examples >= 64  # chunks of at most 2,000 characters
    assert result.misaligned_spans == 0 and result.dropped_spans == 0


def test_train_refuses_documents_without_entities(tmp_path):
    docs = [LabeledDoc(text=f"Nothing tagged here, number {index}.") for index in range(12)]
    with pytest.raises(TrainError, match="no tagged entities"):
        train(docs, [], language="en", output_dir=tmp_path / "m")
    with pytest.raises(TrainError, match="no training documents"):
        train([], [], language="en", output_dir=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_train_refuses_settings_that_never_stop(tmp_path):
    with pytest.raises(TrainError, match="never end"):
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=0))


def test_train_uses_the_multilingual_tokenizer_for_multilingual_projects(tmp_path):
    docs = labeled_docs(12)
    result = train(docs[:10], docs[10:], language="xx", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=2))
    assert load(result.model_path).language == "xx"


def test_a_single_document_trains_without_a_dev_score_and_says_so(tmp_path):
    (doc,) = labeled_docs(1)
    result = train([doc], [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=3))
    assert result.dev_documents == 0 and result.best_dev_f1 is None
    assert (result.model_path / "meta.json").is_file()
    assert any("not checked during training" in warning for warning in result.warnings)
    assert any("Few training examples for: CITY (1), PERSON (1)" in warning for warning in result.warnings)


def test_train_fits_a_confidence_calibration_on_the_dev_set_and_saves_it(tmp_path):
    docs = labeled_docs(60)  # 30 dev documents: 60 dev entities, enough to fit a map
    result = train(docs[:27], docs[30:], language="en", output_dir=tmp_path / "model", settings=QUICK)
    assert result.calibration is not None and result.calibration.entity_count >= 50
    assert (result.model_path / "calibration.json").is_file()
    predictor = load(result.model_path)
    assert predictor.calibration == result.calibration
    texts = UNSEEN[:3]
    raw = predictor.predict(texts, with_confidence=True, calibrated=False)
    mapped = predictor.predict(texts, with_confidence=True)
    for raw_spans, mapped_spans in zip(raw, mapped, strict=True):
        for raw_span, mapped_span in zip(raw_spans, mapped_spans, strict=True):
            assert mapped_span.confidence == pytest.approx(result.calibration.apply(raw_span.confidence or 0.0))
    # Reproducible: the same run writes the same map.
    again = train(docs[:27], docs[30:], language="en", output_dir=tmp_path / "again", settings=QUICK)
    assert (again.model_path / "calibration.json").read_text() == (result.model_path / "calibration.json").read_text()
    assert not any("calibrate" in warning for warning in result.warnings)


def test_train_with_too_few_dev_entities_keeps_raw_scores_and_says_so(trained):
    result, _ = trained  # 3 dev documents, 6 entities
    assert result.calibration is None and not (result.model_path / "calibration.json").exists()
    assert any("too few to calibrate its confidence scores" in warning for warning in result.warnings)


def test_models_multiply_with_openblas_not_blis(trained):
    # ner.compute: OpenBLAS is faster on nerlab's machines; a model keeps the ops it was built or loaded with.
    result, _ = trained
    predictor = load(result.model_path)
    assert {component.model.ops.use_blis for _, component in predictor.nlp.pipeline} == {False}


def test_training_on_two_threads_is_reproducible(tmp_path):
    # Batches of 2,000 words make matrices large enough for OpenBLAS to split them between the threads.
    docs = labeled_docs(240)
    settings = TrainSettings(
        seed=3, max_steps=6, eval_frequency=3, batch_size_start=2000, batch_size_stop=2000, threads=2
    )
    one = train(docs[:220], docs[220:], language="en", output_dir=tmp_path / "one", settings=settings)
    two = train(docs[:220], docs[220:], language="en", output_dir=tmp_path / "two", settings=settings)
    assert one.best_dev_f1 == two.best_dev_f1
    for part in ("tok2vec", "ner"):
        assert (one.model_path / part / "model").read_bytes() == (two.model_path / part / "model").read_bytes()
    assert json.loads((one.model_path / "meta.json").read_text())["nerlab"]["threads"] == 2


def test_train_refuses_a_thread_count_below_one(tmp_path):
    with pytest.raises(TrainError, match="thread count"):
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(threads=0))


def test_the_model_meta_records_which_batcher_made_the_batches(trained, tmp_path):
    result, _ = trained
    meta = json.loads((result.model_path / "meta.json").read_text())
    assert meta["nerlab"]["settings"]["batcher"] == "nerlab"  # the default: ner/batching.py
    docs = labeled_docs()
    settings = TrainSettings(seed=7, max_steps=20, eval_frequency=10, batcher="spacy")
    with_spacys = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "spacy", settings=settings)
    assert json.loads((with_spacys.model_path / "meta.json").read_text())["nerlab"]["settings"]["batcher"] == "spacy"
    assert with_spacys.settings.batcher == "spacy" and with_spacys.best_dev_f1 is not None


def test_train_refuses_an_unknown_batcher(tmp_path):
    with pytest.raises(TrainError, match="Unknown batcher 'padded'"):
        train(
            labeled_docs(),
            [],
            language="en",
            output_dir=tmp_path / "m",
            settings=TrainSettings(batcher="padded"),  # type: ignore[arg-type]
        )


def test_the_last_step_is_scored_when_the_evaluation_frequency_skips_it(tmp_path, monkeypatch):
    scores: list[float] = []
    make_evaluation = ner.train._evaluation

    def counted(*args, **kwargs):
        evaluate = make_evaluation(*args, **kwargs)

        def evaluate_and_count():
            score, other_scores = evaluate()
            scores.append(score)
            return score, other_scores

        return evaluate_and_count

    monkeypatch.setattr(ner.train, "_evaluation", counted)
    docs = labeled_docs()
    settings = TrainSettings(seed=7, max_steps=65, patience=0, eval_frequency=10, progress_interval_s=0)
    result = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "m", settings=settings)
    # Steps 0, 10, ..., 60 and the last, 65; a tie goes to the later model, as at spaCy's own evaluations.
    assert len(scores) == 8 and result.steps == 66
    # The dev score reaches 1.0 by step 20 and stays: the last model ties, so it is the one kept.
    assert scores[-1] == max(scores) and result.best_step == 66 and result.best_dev_f1 == pytest.approx(scores[-1])

    scores.clear()
    on_the_frequency = train(
        docs[:27], docs[27:], language="en", output_dir=tmp_path / "n", settings=replace(settings, max_steps=60)
    )
    assert len(scores) == 7 and on_the_frequency.steps == 61
