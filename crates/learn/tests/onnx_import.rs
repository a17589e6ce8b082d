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
