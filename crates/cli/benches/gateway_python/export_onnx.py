"""Exports one of our MLP model files (safetensors, `dense.{i}.weight` [in, out] and
`dense.{i}.bias`, ReLU between layers, one output logit) to ONNX: Gemm, Relu, ..., Gemm, with a
symbolic batch dimension, opset 13. The gateway and onnxruntime then serve the same weights.

    python export_onnx.py model.safetensors out.onnx
"""
import sys

import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


def main(source, target):
    tensors = load_file(source)
    layers = sorted({int(name.split(".")[1]) for name in tensors if name.startswith("dense.")})
    nodes, weights, current = [], [], "x"
    for i in layers:
        w, b = tensors[f"dense.{i}.weight"], tensors[f"dense.{i}.bias"]
        weights += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "logits" if i == layers[-1] else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [out]))
        current = out
        if i != layers[-1]:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            current = f"r{i}"
    inputs = tensors[f"dense.{layers[0]}.weight"].shape[0]
    outputs = tensors[f"dense.{layers[-1]}.weight"].shape[1]
    graph = helper.make_graph(
        nodes,
        "aifactory_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", inputs])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", outputs])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="aifactory-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
