//! Imported ONNX models, run with tract (pure Rust: no system library, no download).
//!
//! Import reads the model's declared input shape, replaces its first (batch) dimension
//! with a symbol so any number of rows runs through one optimised plan, and checks that
//! the remaining dimensions are concrete: their product is the number of features per
//! row. The first output must be `[rows, k]`; [`OnnxOutput`] says whether those are
//! logits (sigmoid or softmax applied here) or probabilities already. A one-column
//! output is the probability (or logit) of class 1.
//!
//! The file is untrusted: before tract builds anything, the graph is checked against
//! `ONNX_NODES_MAX`, the operator allow-list `ONNX_OPERATORS` (no control flow, no
//! file-chosen allocations, no local functions) and `PARAMS_MAX` initializer scalars; an
//! input or output dimension of size zero is refused, never divided or chunked by.

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
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(onnx_err)?;
        check_graph(&proto)?;
        let mut model = onnx.model_for_proto_model(&proto).map_err(onnx_err)?;
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
        if features == 0 {
            return Err(LearnError::Onnx(
                "the input has a dimension of size zero".into(),
            ));
        }
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
            [r, k] if *r == rows && (1..=limits::CLASSES_MAX).contains(k) => *k,
            [r] if *r == rows => 1,
            _ => {
                return Err(LearnError::Onnx(format!(
                    "output shape {out_shape:?} is not [rows, k] with 1 ≤ k ≤ {}",
                    limits::CLASSES_MAX
                )));
            }
        };
        let v: Vec<f32> = view.iter().copied().collect();
        Ok(to_probabilities(&v, rows, k, self.output))
    }
}

/// Refuses a graph that is too large, uses an operator outside the allow-list, defines local
/// functions, or carries more initializer scalars than a model may have.
fn check_graph(proto: &tract_onnx::pb::ModelProto) -> Result<()> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| LearnError::Onnx("the file has no graph".into()))?;
    check_max("onnx nodes", graph.node.len(), limits::ONNX_NODES_MAX)?;
    if !proto.functions.is_empty() {
        return Err(LearnError::Onnx("local functions are not supported".into()));
    }
    for node in &graph.node {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if !standard || !limits::ONNX_OPERATORS.contains(&node.op_type.as_str()) {
            return Err(LearnError::Onnx(format!(
                "operator {}:{} is not allowed in an imported model",
                node.domain, node.op_type
            )));
        }
    }
    // tract indexes its name table by each graph output: one no value defines would panic.
    let defined: std::collections::BTreeSet<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(
            graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().map(String::as_str)),
        )
        .collect();
    if let Some(output) = graph
        .output
        .iter()
        .find(|o| !defined.contains(o.name.as_str()))
    {
        return Err(LearnError::Onnx(format!(
            "graph output {:?} is not produced by any node, input or initializer",
            output.name
        )));
    }
    let mut scalars = 0usize;
    for tensor in &graph.initializer {
        let count = tensor.dims.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        });
        scalars = count
            .and_then(|c| scalars.checked_add(c))
            .ok_or_else(|| LearnError::Onnx("an initializer has an invalid shape".into()))?;
        check_max("onnx initializer scalars", scalars, limits::PARAMS_MAX)?;
    }
    Ok(())
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
