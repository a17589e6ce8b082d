//! Imported ONNX models, run with tract (pure Rust: no system library, no download).
//!
//! Import reads the model's declared input shape, replaces its first (batch) dimension
//! with a symbol so any number of rows runs through one optimised plan, and checks that
//! the remaining dimensions are concrete: their product is the number of features per
//! row. The first output must be `[rows, k]`; [`OnnxOutput`] says whether those are
//! logits (sigmoid or softmax applied here) or probabilities already. A one-column
//! output is the probability (or logit) of class 1.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid as _;
use tract_onnx::tract_hir::internal::DimLike as _;

use crate::error::{LearnError, Result, check_max, read_file_max};
use crate::limits;
use crate::predict::Probabilities;

/// What the model's first output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnnxOutput {
    /// Raw scores: sigmoid (one column) or softmax (several) gives probabilities.
    #[default]
    Logits,
    /// Probabilities already.
    Probabilities,
}

/// An optimised, runnable ONNX model.
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    item_shape: Vec<usize>,
    output: OnnxOutput,
    content_id: String,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("item_shape", &self.item_shape)
            .field("output", &self.output)
            .field("content_id", &self.content_id)
            .finish()
    }
}

fn onnx_err(e: impl std::fmt::Display) -> LearnError {
    LearnError::Onnx(e.to_string())
}

impl OnnxModel {
    /// Imports an ONNX file.
    pub fn load(path: &std::path::Path, output: OnnxOutput) -> Result<Self> {
        Self::from_bytes(&read_file_max(path, limits::MODEL_BYTES_MAX)?, output)
    }

    /// Imports ONNX bytes (models with external data files are not supported).
    pub fn from_bytes(bytes: &[u8], output: OnnxOutput) -> Result<Self> {
        check_max("model file size", bytes.len(), limits::MODEL_BYTES_MAX)?;
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(onnx_err)?;
        let declared = model.input_fact(0).map_err(onnx_err)?.shape.clone();
        let dims: Vec<_> = declared.dims().cloned().collect();
        if dims.len() < 2 {
            return Err(LearnError::Onnx(
                "the input needs a batch dimension and at least one more".into(),
            ));
        }
        let item_shape = dims[1..]
            .iter()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                LearnError::Onnx("the input's non-batch dimensions must be fixed".into())
            })?;
        let features = item_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        check_max("onnx input features", features, limits::PARAMS_MAX)?;
        let n = model.sym("N");
        let mut shape: Vec<TDim> = vec![n.to_dim()];
        shape.extend(item_shape.iter().map(|&d| TDim::from(d)));
        model
            .set_input_fact(0, f32::fact(&shape).into())
            .map_err(onnx_err)?;
        let plan = model
            .into_optimized()
            .map_err(onnx_err)?
            .into_runnable()
            .map_err(onnx_err)?;
        let content_id = {
            let mut h = blake3::Hasher::new_derive_key("aifactory-learn onnx content v1");
            h.update(bytes);
            h.finalize().to_hex().to_string()
        };
        Ok(Self {
            plan,
            item_shape,
            output,
            content_id,
        })
    }

    /// Features per row (the product of the non-batch input dimensions).
    pub fn inputs(&self) -> usize {
        self.item_shape.iter().product()
    }

    /// BLAKE3 of the ONNX bytes under a domain key.
    pub fn content_id(&self) -> &str {
        &self.content_id
    }

    /// Class probabilities for row-major `x`.
    pub fn predict(&self, x: &[f32]) -> Result<Probabilities> {
        let f = self.inputs();
        if !x.len().is_multiple_of(f) {
            return Err(LearnError::Data(format!(
                "{} values are not rows of {f} features",
                x.len()
            )));
        }
        let rows = x.len() / f;
        let mut shape = vec![rows];
        shape.extend_from_slice(&self.item_shape);
        let input = tract_onnx::prelude::Tensor::from_shape(&shape, x).map_err(onnx_err)?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(onnx_err)?;
        let first = out
            .first()
            .ok_or_else(|| LearnError::Onnx("the model has no output".into()))?;
        let view = first.to_plain_array_view::<f32>().map_err(onnx_err)?;
        let out_shape = view.shape().to_vec();
        let k = match out_shape.as_slice() {
            [r, k] if *r == rows => *k,
            [r] if *r == rows => 1,
            _ => {
                return Err(LearnError::Onnx(format!(
                    "output shape {out_shape:?} is not [rows, k]"
                )));
            }
        };
        let v: Vec<f32> = view.iter().copied().collect();
        Ok(to_probabilities(&v, rows, k, self.output))
    }
}

fn to_probabilities(v: &[f32], rows: usize, k: usize, output: OnnxOutput) -> Probabilities {
    let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
    match (k, output) {
        (1, OnnxOutput::Logits) => {
            Probabilities::from_binary(&v.iter().map(|&z| sig(z)).collect::<Vec<_>>())
        }
        (1, OnnxOutput::Probabilities) => Probabilities::from_binary(v),
        (_, OnnxOutput::Probabilities) => Probabilities {
            rows,
            classes: k,
            p: v.to_vec(),
        },
        (_, OnnxOutput::Logits) => {
            let mut p = Vec::with_capacity(v.len());
            for row in v.chunks(k) {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = row.iter().map(|&z| (z - m).exp()).collect();
                let s: f32 = e.iter().sum();
                p.extend(e.iter().map(|x| x / s));
            }
            Probabilities {
                rows,
                classes: k,
                p,
            }
        }
    }
}
