"""The encoder's transformer layers run by ONNX Runtime, when it is installed.

Why: on the 2-core AMD EPYC machines nerlab is measured on, ONNX Runtime's CPU kernels (MLAS) ran all-MiniLM-L6-v2
for a 1,000-character document in 58 ms against numpy's 79 (OpenBLAS at its peak for the products, but a dozen numpy
passes for each softmax and GELU), multilingual-e5-small in 148 against 207, for the same states to within 4.3e-6
(``bench/encoder_runtime.py``; docs/encoders.md, "Runtime"). No PyTorch is involved: the graph is written here, node
by node, from the weights ``ner.encoders.bert`` already read, and handed to ONNX Runtime as bytes; nothing is
written to disk or fetched.

One thread, run in the calling thread, as numpy's products run on one OpenBLAS thread (``ner.compute``): the
states of a sequence are then a function of its pieces, the files and the runtime's version, whatever else the
process does. The fingerprint of an encoder run here names the runtime and its version, so features cached by
the numpy forward pass (or another version) are never mixed with these.

``onnxruntime`` is imported by the first session, not with this module: importing it starts a thread, and a process
forked after that (gunicorn's workers from its preloading master, Celery's pool) hung at its exit, waiting for the
thread it never had.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ner.encoders.bert import Floats, _Layer
    from ner.encoders.files import BertConfig

OPSET = 20  # Gelu's first version


@cache
def runtime_name() -> str | None:
    """The runtime and version that runs the layers here (part of the encoder's fingerprint), or None: numpy."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return None
    return f"onnxruntime {importlib.metadata.version('onnxruntime')}"


class _Graph:
    """Nodes and constant tensors, each output named once."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.constants: list[Any] = []
        self._count = 0

    def constant(self, name: str, value: Any) -> str:
        self.constants.append(self._numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: Sequence[str], outputs: int = 1, **attributes: Any) -> list[str]:
        names = [f"{op.lower()}{self._count}_{index}" for index in range(outputs)]
        self._count += 1
        self.nodes.append(self._helper.make_node(op, list(inputs), names, **attributes))
        return names

    def one(self, op: str, inputs: Sequence[str], **attributes: Any) -> str:
        return self.node(op, inputs, **attributes)[0]

    def linear(self, x: str, weight: Any, bias: Any, name: str) -> str:
        product = self.one("MatMul", [x, self.constant(f"{name}.weight", weight)])
        return self.one("Add", [product, self.constant(f"{name}.bias", bias)])

    def layer_norm(self, x: str, norm: Any, eps: float, name: str) -> str:
        gamma, beta = self.constant(f"{name}.weight", norm.weight), self.constant(f"{name}.bias", norm.bias)
        return self.one("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    def activation(self, name: str, x: str) -> str:
        # As ner.encoders.bert._activation: exact GELU, its tanh approximation, otherwise ReLU.
        if name == "gelu":
            return self.one("Gelu", [x])
        if name in ("gelu_new", "gelu_pytorch_tanh"):
            return self.one("Gelu", [x], approximate="tanh")
        return self.one("Relu", [x])


def _model_bytes(layers: Sequence[_Layer], config: BertConfig) -> bytes:
    """BertModel's layers as ``ner.encoders.bert`` computes them: input ``x`` (pieces x hidden, after the embeddings'
    layer norm); outputs every layer's hidden states, first layer first."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    heads = config.num_attention_heads
    size = config.hidden_size // heads
    eps = config.layer_norm_eps
    split_shape = g.constant("split_shape", np.array([0, 3, heads, size], dtype=np.int64))
    joined_shape = g.constant("joined_shape", np.array([0, config.hidden_size], dtype=np.int64))
    scale = g.constant("scale", np.array(1 / math.sqrt(size), dtype=np.float32))
    first_axis = g.constant("first_axis", np.array([0], dtype=np.int64))
    x = "x"
    outputs = []
    for number, layer in enumerate(layers):
        name = f"layer{number}"
        qkv = g.linear(x, layer.qkv_weight, layer.qkv_bias, f"{name}.qkv")
        # pieces x (3 * hidden) -> 3 x heads x pieces x size: query, key, value.
        stacked = g.one("Transpose", [g.one("Reshape", [qkv, split_shape])], perm=[1, 2, 0, 3])
        query, key, value = (
            g.one("Squeeze", [part, first_axis]) for part in g.node("Split", [stacked], 3, axis=0, num_outputs=3)
        )
        scores = g.one("Mul", [g.one("MatMul", [query, g.one("Transpose", [key], perm=[0, 2, 1])]), scale])
        context = g.one("MatMul", [g.one("Softmax", [scores], axis=-1), value])
        joined = g.one("Reshape", [g.one("Transpose", [context], perm=[1, 0, 2]), joined_shape])
        attended = g.linear(joined, layer.attention_out_weight, layer.attention_out_bias, f"{name}.attention_out")
        x = g.layer_norm(g.one("Add", [attended, x]), layer.attention_norm, eps, f"{name}.attention_norm")
        inner = g.activation(
            config.hidden_act, g.linear(x, layer.intermediate_weight, layer.intermediate_bias, f"{name}.intermediate")
        )
        out = g.linear(inner, layer.output_weight, layer.output_bias, f"{name}.output")
        x = g.layer_norm(g.one("Add", [out, x]), layer.output_norm, eps, f"{name}.output_norm")
        outputs.append(g.one("Identity", [x]))
    width = config.hidden_size
    graph = helper.make_graph(
        g.nodes,
        "encoder_layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["pieces", width])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["pieces", width]) for output in outputs],
        g.constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10  # what ONNX Runtime 1.20 and later read
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


class OnnxLayers:
    """Every layer's hidden states for a sequence's embeddings, computed by ONNX Runtime on one thread."""

    def __init__(self, layers: Sequence[_Layer], config: BertConfig) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: its warnings name graph details a user cannot act on
        self._session = onnxruntime.InferenceSession(
            _model_bytes(layers, config), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, x: Floats) -> list[Floats]:
        states: list[Floats] = self._session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})
        return states
