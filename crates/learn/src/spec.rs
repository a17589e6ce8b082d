//! Declarative model specs and their canonical hash.
//!
//! A spec is a small JSON document that fixes a model's architecture, e.g.
//! `{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1,"activation":"relu","dropout":0.0}`.
//! Parsing rejects unknown fields and checks every size against [`crate::limits`]. The
//! spec id recorded on chain is BLAKE3 (keyed by a domain string) of the canonical
//! encoding: the parsed spec re-serialised by serde_json, whose field order is the struct
//! order and whose number formatting is fixed, so key order or spacing in the submitted
//! document does not change the id.
//!
//! A model with one output is a binary classifier (the output is a logit); with
//! `outputs > 1` it is a multi-class classifier (one logit per class).

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_max};
use crate::limits;

/// Nonlinearity between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
}

/// One convolution layer of a CNN: `filters` output channels, a square kernel, same
/// padding, stride 1, then the activation and a 2×2 max pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvLayer {
    /// Output channels.
    pub filters: usize,
    /// Kernel side (odd, so same padding is symmetric).
    pub kernel: usize,
}

/// A model architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// Logistic (or softmax) regression: one linear layer.
    Logreg {
        /// Input features.
        inputs: usize,
        /// Outputs: 1 for binary, else the class count.
        outputs: usize,
    },
    /// Multi-layer perceptron.
    Mlp {
        /// Input features.
        inputs: usize,
        /// Hidden layer widths, in order.
        hidden: Vec<usize>,
        /// Outputs: 1 for binary, else the class count.
        outputs: usize,
        /// Nonlinearity after each hidden layer.
        #[serde(default)]
        activation: Activation,
        /// Dropout probability after each hidden layer, in `[0, 1)`.
        #[serde(default)]
        dropout: f32,
    },
    /// A small CNN: convolution blocks (conv, activation, 2×2 max pool), then dense layers.
    Cnn {
        /// Image channels.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// Convolution blocks.
        conv: Vec<ConvLayer>,
        /// Hidden dense widths after flattening.
        dense: Vec<usize>,
        /// Outputs: 1 for binary, else the class count.
        outputs: usize,
        /// Nonlinearity after each convolution and hidden dense layer.
        #[serde(default)]
        activation: Activation,
        /// Dropout probability after each hidden dense layer.
        #[serde(default)]
        dropout: f32,
    },
}

/// The image geometry of a CNN input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl ModelSpec {
    /// Parses and validates a JSON spec.
    pub fn from_json(text: &str) -> Result<Self> {
        check_max("spec size", text.len(), limits::SPEC_BYTES_MAX)?;
        let spec: Self = serde_json::from_str(text).map_err(|e| LearnError::Spec(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The canonical JSON encoding (the bytes that are hashed).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a spec always serialises")
    }

    /// The spec id: BLAKE3 of the canonical encoding under a domain key, hex encoded.
    pub fn id(&self) -> String {
        let mut h = blake3::Hasher::new_derive_key("aifactory-learn model spec v1");
        h.update(self.canonical_json().as_bytes());
        h.finalize().to_hex().to_string()
    }

    /// Number of input features (for a CNN, channels × height × width).
    pub fn inputs(&self) -> usize {
        match self {
            Self::Logreg { inputs, .. } | Self::Mlp { inputs, .. } => *inputs,
            Self::Cnn {
                channels,
                height,
                width,
                ..
            } => channels * height * width,
        }
    }

    /// Number of outputs (logits).
    pub fn outputs(&self) -> usize {
        match self {
            Self::Logreg { outputs, .. }
            | Self::Mlp { outputs, .. }
            | Self::Cnn { outputs, .. } => *outputs,
        }
    }

    /// Number of classes the model predicts (2 for a single-logit model).
    pub fn classes(&self) -> usize {
        self.outputs().max(2)
    }

    /// The activation between layers.
    pub fn activation(&self) -> Activation {
        match self {
            Self::Logreg { .. } => Activation::Relu,
            Self::Mlp { activation, .. } | Self::Cnn { activation, .. } => *activation,
        }
    }

    /// Dropout probability after hidden layers.
    pub fn dropout(&self) -> f32 {
        match self {
            Self::Logreg { .. } => 0.0,
            Self::Mlp { dropout, .. } | Self::Cnn { dropout, .. } => *dropout,
        }
    }

    /// The image geometry, for a CNN.
    pub fn image(&self) -> Option<ImageShape> {
        match self {
            Self::Cnn {
                channels,
                height,
                width,
                ..
            } => Some(ImageShape {
                channels: *channels,
                height: *height,
                width: *width,
            }),
            _ => None,
        }
    }

    /// The convolution blocks (empty unless a CNN).
    pub fn conv_layers(&self) -> &[ConvLayer] {
        match self {
            Self::Cnn { conv, .. } => conv,
            _ => &[],
        }
    }

    /// Widths of the dense layers, from the flattened input to the outputs.
    pub fn dense_widths(&self) -> Vec<usize> {
        let (first, hidden): (usize, &[usize]) = match self {
            Self::Logreg { inputs, .. } => (*inputs, &[]),
            Self::Mlp { inputs, hidden, .. } => (*inputs, hidden),
            Self::Cnn {
                dense,
                height,
                width,
                conv,
                ..
            } => {
                let (mut h, mut w) = (*height, *width);
                for _ in conv {
                    h /= 2;
                    w /= 2;
                }
                let c = conv
                    .last()
                    .map_or(self.image().expect("cnn").channels, |l| l.filters);
                (c * h * w, dense)
            }
        };
        let mut widths = vec![first];
        widths.extend_from_slice(hidden);
        widths.push(self.outputs());
        widths
    }

    /// Total number of scalar parameters.
    pub fn param_count(&self) -> usize {
        crate::params::layout(self).iter().map(|t| t.len()).sum()
    }

    /// Checks every size against the limits and the architecture for consistency.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(LearnError::Spec(m.into()));
        let outputs = self.outputs();
        if outputs == 0 {
            return bad("outputs must be at least 1");
        }
        check_max("outputs", outputs, limits::CLASSES_MAX)?;
        let dropout = self.dropout();
        if !(0.0..1.0).contains(&dropout) {
            return bad("dropout must be in [0, 1)");
        }
        if let Some(img) = self.image() {
            check_max("channels", img.channels, limits::CHANNELS_MAX)?;
            check_max("image height", img.height, limits::IMAGE_SIDE_MAX)?;
            check_max("image width", img.width, limits::IMAGE_SIDE_MAX)?;
            check_max(
                "convolution layers",
                self.conv_layers().len(),
                limits::CONV_LAYERS_MAX,
            )?;
            if img.channels == 0 {
                return bad("channels must be at least 1");
            }
            let (mut h, mut w) = (img.height, img.width);
            for l in self.conv_layers() {
                check_max("kernel side", l.kernel, limits::KERNEL_SIDE_MAX)?;
                check_max("filters", l.filters, limits::LAYER_WIDTH_MAX)?;
                if l.filters == 0 || l.kernel % 2 == 0 {
                    return bad("each conv layer needs filters > 0 and an odd kernel");
                }
                h /= 2;
                w /= 2;
                if h == 0 || w == 0 {
                    return bad("the image is too small for that many 2x2 pools");
                }
            }
        }
        let widths = self.dense_widths();
        check_max("dense layers", widths.len() - 2, limits::HIDDEN_LAYERS_MAX)?;
        for &w in &widths {
            if w == 0 {
                return bad("layer widths must be at least 1");
            }
            check_max("layer width", w, limits::LAYER_WIDTH_MAX)?;
        }
        let count = crate::params::layout(self)
            .iter()
            .try_fold(0usize, |a, t| a.checked_add(t.len()));
        check_max(
            "parameter count",
            count.unwrap_or(usize::MAX),
            limits::PARAMS_MAX,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_spacing_do_not_change_the_id() {
        let a =
            ModelSpec::from_json(r#"{"kind":"mlp","inputs":4,"hidden":[3],"outputs":1}"#).unwrap();
        let b = ModelSpec::from_json(
            r#"{ "outputs": 1, "hidden": [3], "inputs": 4, "kind": "mlp", "activation": "relu", "dropout": 0.0 }"#,
        )
        .unwrap();
        assert_eq!(a.id(), b.id());
        let c =
            ModelSpec::from_json(r#"{"kind":"mlp","inputs":4,"hidden":[4],"outputs":1}"#).unwrap();
        assert_ne!(a.id(), c.id());
    }

    #[test]
    fn hostile_specs_are_rejected() {
        for text in [
            r#"{"kind":"mlp","inputs":4,"hidden":[3],"outputs":0}"#,
            r#"{"kind":"mlp","inputs":4,"hidden":[0],"outputs":1}"#,
            r#"{"kind":"mlp","inputs":4,"hidden":[3],"outputs":1,"dropout":1.0}"#,
            r#"{"kind":"mlp","inputs":4,"hidden":[3],"outputs":1,"extra":1}"#,
            r#"{"kind":"logreg","inputs":100000000,"outputs":1}"#,
            r#"{"kind":"mlp","inputs":65536,"hidden":[65536,65536],"outputs":1}"#,
            r#"{"kind":"cnn","channels":1,"height":2,"width":2,"conv":[{"filters":4,"kernel":3},{"filters":4,"kernel":3}],"dense":[],"outputs":10}"#,
            r#"{"kind":"cnn","channels":1,"height":8,"width":8,"conv":[{"filters":4,"kernel":2}],"dense":[],"outputs":10}"#,
            r#"{"kind":"transformer"}"#,
        ] {
            assert!(ModelSpec::from_json(text).is_err(), "accepted {text}");
        }
    }

    #[test]
    fn cnn_dense_widths_follow_the_pools() {
        let s = ModelSpec::from_json(
            r#"{"kind":"cnn","channels":1,"height":28,"width":28,"conv":[{"filters":8,"kernel":3},{"filters":16,"kernel":3}],"dense":[32],"outputs":10}"#,
        )
        .unwrap();
        assert_eq!(s.dense_widths(), vec![16 * 7 * 7, 32, 10]);
        assert_eq!(s.inputs(), 784);
    }
}
