//! Inference: class probabilities from a native model or an imported ONNX model through
//! one interface.
//!
//! A native model's logits become probabilities with a sigmoid (one output: the
//! probability of class 1) or a softmax (several outputs). Inference uses the plain flex
//! device (no autodiff graph) in batches.

use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{LearnError, Result};
use crate::model::Net;
use crate::onnx::OnnxModel;
use crate::spec::ModelSpec;
use crate::store::StoredModel;

/// Rows per inference batch.
const BATCH_ROWS: usize = 4096;

/// Class probabilities, row-major `rows × classes` (binary models give 2 columns).
#[derive(Clone, Debug, PartialEq)]
pub struct Probabilities {
    /// Number of rows.
    pub rows: usize,
    /// Number of classes.
    pub classes: usize,
    /// The probabilities.
    pub p: Vec<f32>,
}

impl Probabilities {
    /// Builds from one probability of class 1 per row.
    pub fn from_binary(p1: &[f32]) -> Self {
        Self {
            rows: p1.len(),
            classes: 2,
            p: p1.iter().flat_map(|&q| [1.0 - q, q]).collect(),
        }
    }

    /// The probability of class `c` for every row.
    pub fn column(&self, c: usize) -> Vec<f32> {
        (0..self.rows)
            .map(|r| self.p[r * self.classes + c])
            .collect()
    }

    /// The most probable class of every row (lowest index on ties).
    pub fn argmax(&self) -> Vec<u32> {
        self.p
            .chunks(self.classes)
            .map(|row| {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = i;
                    }
                }
                best as u32
            })
            .collect()
    }
}

/// Probabilities of a native model on `x` (`rows × spec.inputs()`).
pub fn predict_native(model: &StoredModel, x: &[f32]) -> Result<Probabilities> {
    NativeModel::new(model)?.predict(x)
}

/// A native model with its network built once: what serves many small requests (a gateway)
/// without rebuilding the network for each.
#[derive(Debug)]
pub struct NativeModel {
    spec: ModelSpec,
    device: Device,
    net: Net,
}

impl NativeModel {
    /// Builds `model`'s network on the flex device.
    pub fn new(model: &StoredModel) -> Result<Self> {
        let device = Device::flex();
        let net = Net::new(&model.spec, &device, &model.params)?;
        Ok(NativeModel {
            spec: model.spec.clone(),
            device,
            net,
        })
    }

    /// Features each row must have.
    pub fn inputs(&self) -> usize {
        self.spec.inputs()
    }

    /// Class probabilities for row-major `x` (`rows × inputs()`).
    pub fn predict(&self, x: &[f32]) -> Result<Probabilities> {
        let f = self.spec.inputs();
        if !x.len().is_multiple_of(f) {
            return Err(LearnError::Data(format!(
                "{} values are not rows of {f} features",
                x.len()
            )));
        }
        let rows = x.len() / f;
        let (device, net) = (&self.device, &self.net);
        let outputs = self.spec.outputs();
        let mut p = Vec::with_capacity(rows * outputs.max(2));
        for chunk in x.chunks(BATCH_ROWS * f) {
            let n = chunk.len() / f;
            let logits = net.forward(Tensor::from_data(
                TensorData::new(chunk.to_vec(), [n, f]),
                device,
            ));
            let probs = if outputs == 1 {
                sigmoid(logits)
            } else {
                softmax(logits, 1)
            };
            let v = probs
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 outputs");
            if outputs == 1 {
                p.extend(v.iter().flat_map(|&q| [1.0 - q, q]));
            } else {
                p.extend(v);
            }
        }
        Ok(Probabilities {
            rows,
            classes: outputs.max(2),
            p,
        })
    }
}

/// Anything that predicts: a native model or an imported ONNX model.
#[derive(Debug)]
pub enum Predictor {
    /// A model trained here, its network built.
    Native(Box<NativeModel>),
    /// An imported ONNX model.
    Onnx(OnnxModel),
}

impl Predictor {
    /// Features each row must have.
    pub fn inputs(&self) -> usize {
        match self {
            Self::Native(m) => m.inputs(),
            Self::Onnx(m) => m.inputs(),
        }
    }

    /// Class probabilities for row-major `x`.
    pub fn predict(&self, x: &[f32]) -> Result<Probabilities> {
        match self {
            Self::Native(m) => m.predict(x),
            Self::Onnx(m) => m.predict(x),
        }
    }
}
