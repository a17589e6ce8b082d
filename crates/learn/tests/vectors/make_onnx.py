"""Writes a small ONNX model and reference outputs for the tract import test.

A 6 -> 5 -> 3 MLP (Gemm, Relu, Gemm) with seeded weights, opset 13, a symbolic batch
dimension; the expected logits are computed with numpy in float64 and rounded to float32.
Run (not in CI; the test reads the committed files):
    /tmp/dpvenv/bin/pip install onnx numpy
    /tmp/dpvenv/bin/python crates/learn/tests/vectors/make_onnx.py crates/learn/tests/vectors
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out_dir):
    rng = np.random.default_rng(42)
    w1 = rng.normal(size=(5, 6)).astype(np.float32)  # Gemm with transB=1: [out, in]
    b1 = rng.normal(size=(5,)).astype(np.float32)
    w2 = rng.normal(size=(3, 5)).astype(np.float32)
    b2 = rng.normal(size=(3,)).astype(np.float32)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], transB=1),
        ],
        "tiny_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="aifactory-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, f"{out_dir}/tiny_mlp.onnx")
    h = np.maximum(x.astype(np.float64) @ w1.T.astype(np.float64) + b1, 0)
    logits = h @ w2.T.astype(np.float64) + b2
    with open(f"{out_dir}/tiny_mlp.json", "w") as f:
        json.dump({"x": x.flatten().tolist(), "logits": logits.astype(np.float32).flatten().tolist()}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
