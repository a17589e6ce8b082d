//! An ONNX model (written by `vectors/make_onnx.py`) imported with tract predicts what
//! numpy computed for it, through the same `Predictor` interface as native models.

use aifactory_learn::onnx::{OnnxModel, OnnxOutput};
use aifactory_learn::predict::Predictor;

#[derive(serde::Deserialize)]
struct Reference {
    x: Vec<f32>,
    logits: Vec<f32>,
}

#[test]
fn tract_matches_the_reference_logits_for_any_batch_size() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let r: Reference =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/tiny_mlp.json")).unwrap())
            .unwrap();
    let model = OnnxModel::load(
        std::path::Path::new(&format!("{dir}/tiny_mlp.onnx")),
        OnnxOutput::Logits,
    )
    .unwrap();
    assert_eq!(model.inputs(), 6);
    let p = Predictor::Onnx(model);
    for rows in [4usize, 1, 3] {
        let probs = p.predict(&r.x[..rows * 6]).unwrap();
        assert_eq!((probs.rows, probs.classes), (rows, 3));
        for (row, z) in r.logits.chunks(3).take(rows).enumerate() {
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            for (c, ec) in e.iter().enumerate() {
                let got = probs.p[row * 3 + c];
                assert!(
                    (got - ec / s).abs() < 1e-5,
                    "row {row} class {c}: {got} vs {}",
                    ec / s
                );
            }
        }
    }
    assert!(p.predict(&r.x[..5]).is_err(), "a partial row is refused");
    assert!(OnnxModel::from_bytes(b"not onnx", OnnxOutput::Logits).is_err());
}

/// A one-node ONNX model `y = x · w` with `x: [N, 2]` and `w: [2, columns]`, built in code.
fn matmul_model(columns: i64, op_type: &str) -> Vec<u8> {
    use prost::Message as _;
    use tract_onnx::pb;
    use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension::Value as Dim};
    let tensor_type = |dims: Vec<Dim>| pb::TypeProto {
        value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
            elem_type: 1,
            shape: Some(pb::TensorShapeProto {
                dim: dims
                    .into_iter()
                    .map(|d| Dimension {
                        value: Some(d),
                        ..Default::default()
                    })
                    .collect(),
            }),
        })),
        ..Default::default()
    };
    let value = |name: &str, dims: Vec<Dim>| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(tensor_type(dims)),
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(pb::GraphProto {
            node: vec![pb::NodeProto {
                input: vec!["x".into(), "w".into()],
                output: vec!["y".into()],
                op_type: op_type.into(),
                ..Default::default()
            }],
            initializer: vec![pb::TensorProto {
                dims: vec![2, columns],
                data_type: 1,
                float_data: vec![0.5; 2 * columns as usize],
                name: "w".into(),
                ..Default::default()
            }],
            input: vec![value(
                "x",
                vec![Dim::DimParam("N".into()), Dim::DimValue(2)],
            )],
            output: vec![value(
                "y",
                vec![Dim::DimParam("N".into()), Dim::DimValue(columns)],
            )],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

/// Regression: a model whose output has zero columns panicked in `predict` (chunks of 0).
#[test]
fn onnx_output_with_a_zero_sized_dimension_is_an_error_not_a_panic() {
    let ok = OnnxModel::from_bytes(&matmul_model(3, "MatMul"), OnnxOutput::Logits).unwrap();
    assert_eq!(ok.predict(&[1.0, 2.0]).unwrap().classes, 3);
    for output in [OnnxOutput::Logits, OnnxOutput::Probabilities] {
        let result = OnnxModel::from_bytes(&matmul_model(0, "MatMul"), output)
            .and_then(|m| m.predict(&[1.0, 2.0, 3.0, 4.0]).map(|p| p.argmax()));
        assert!(result.is_err(), "{output:?}: {result:?}");
    }
}

#[test]
fn onnx_operators_outside_the_allow_list_are_refused_before_import() {
    for op in ["Loop", "ConstantOfShape", "RandomNormal"] {
        let err = OnnxModel::from_bytes(&matmul_model(3, op), OnnxOutput::Logits).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{op}: {err}");
    }
}
