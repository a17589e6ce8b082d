//! Targets for the learning crate's decoders of untrusted model and data inputs: a model
//! file (safetensors with the spec in its metadata), a model spec (JSON), a CSV table read
//! against a schema, and an ONNX import (bounded in size and operators). Whatever decodes
//! is used once (a prediction, a re-encoding, a cell check), so a value that decodes but
//! cannot be used is found too.

use aifactory_learn::ModelSpec;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::onnx::{OnnxModel, OnnxOutput};
use aifactory_learn::predict::predict_native;
use aifactory_learn::store::StoredModel;

/// Decodes a safetensors model file; one that decodes must predict one row and re-encode.
pub fn learn_model_file(data: &[u8]) {
    if let Ok(model) = StoredModel::from_bytes(data) {
        let _ = predict_native(&model, &vec![0.0; model.spec.inputs()]);
        let again = model.to_bytes().expect("a decoded model re-encodes");
        let decoded = StoredModel::from_bytes(&again).expect("a re-encoded model decodes");
        assert_eq!(decoded.content_id(), model.content_id());
    }
}

/// Parses a model spec; one that parses must survive its canonical encoding.
pub fn learn_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = ModelSpec::from_json(text) {
        let again = ModelSpec::from_json(&spec.canonical_json()).expect("canonical JSON parses");
        assert_eq!(again, spec, "a spec has one canonical form");
        let _ = spec.param_count();
    }
}

/// Parses CSV bytes against the Adult schema and checks every cell of what parses.
pub fn learn_csv(data: &[u8]) {
    let schema = Schema::adult();
    if let Ok(table) = Table::parse_csv(data, &schema) {
        for row in &table.rows {
            for (column, cell) in row.iter().enumerate() {
                if let Some(cell) = cell {
                    let _ = schema.check_cell(column, cell);
                }
            }
        }
    }
}

/// Imports an ONNX model; one that imports must answer (or refuse) a prediction of two rows.
pub fn learn_onnx(data: &[u8]) {
    if let Ok(model) = OnnxModel::from_bytes(data, OnnxOutput::Logits) {
        let _ = model.predict(&vec![0.5; 2 * model.inputs()]);
    }
}
