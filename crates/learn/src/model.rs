//! The burn network built from a [`ModelSpec`]: optional convolution blocks, then dense
//! layers.
//!
//! One module type covers logistic regression (no hidden layer), MLPs and small CNNs, so
//! parameter names are uniform (`convs.{i}.*`, `dense.{i}.*`) and one pair of
//! visitor/mapper moves weights between the network and flat vectors (see [`crate::params`]).
//! Weights are always loaded from a flat vector, never drawn by burn, which keeps
//! initialisation independent of burn's process-global RNG.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::GradientsParams;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{LearnError, Result};
use crate::spec::{Activation, ImageShape, ModelSpec};

/// Fixed (non-trainable) facts about the architecture.
#[derive(Clone, Debug)]
pub struct Arch {
    /// Image geometry for a CNN, `None` for dense models.
    pub image: Option<ImageShape>,
    /// The nonlinearity.
    pub activation: Activation,
}

/// A network: convolution blocks (conv, activation, 2×2 max pool), then dense layers
/// with the activation and dropout between them. The output is raw logits.
#[derive(Module, Debug)]
pub struct Net {
    /// Convolution layers (empty for dense models).
    pub convs: Vec<Conv2d>,
    /// Dense layers, input to output.
    pub dense: Vec<Linear>,
    /// Dropout after each hidden dense layer.
    pub dropout: Dropout,
    /// The 2×2 max pool after each convolution.
    pub pool: MaxPool2d,
    /// Architecture facts.
    #[module(skip)]
    pub arch: Arch,
}

fn activate<const D: usize>(a: Activation, x: Tensor<D>) -> Tensor<D> {
    match a {
        Activation::Relu => relu(x),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => sigmoid(x),
    }
}

impl Net {
    /// Builds the network for `spec` on `device` with the given flat parameters.
    pub fn new(spec: &ModelSpec, device: &Device, flat: &[f32]) -> Result<Self> {
        let expected = spec.param_count();
        if flat.len() != expected {
            return Err(LearnError::LengthMismatch {
                got: flat.len(),
                expected,
            });
        }
        let mut c_in = spec.image().map_or(0, |i| i.channels);
        let mut convs = Vec::new();
        for l in spec.conv_layers() {
            convs.push(
                Conv2dConfig::new([c_in, l.filters], [l.kernel, l.kernel])
                    .with_padding(PaddingConfig2d::Same)
                    .init(device),
            );
            c_in = l.filters;
        }
        let dense = spec
            .dense_widths()
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let net = Self {
            convs,
            dense,
            dropout: DropoutConfig::new(f64::from(spec.dropout())).init(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            arch: Arch {
                image: spec.image(),
                activation: spec.activation(),
            },
        };
        Ok(net.load_flat(flat))
    }

    /// Logits for a batch `[rows, features]`: `[rows, outputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        if let Some(img) = self.arch.image {
            let rows = h.dims()[0];
            let mut t: Tensor<4> = h.reshape([rows, img.channels, img.height, img.width]);
            for c in &self.convs {
                t = self
                    .pool
                    .forward(activate(self.arch.activation, c.forward(t)));
            }
            h = t.flatten::<2>(1, 3);
        }
        let last = self.dense.len() - 1;
        for (i, l) in self.dense.iter().enumerate() {
            h = l.forward(h);
            if i < last {
                h = self.dropout.forward(activate(self.arch.activation, h));
            }
        }
        h
    }

    /// The parameters as one flat vector, in [`crate::params::layout`] order.
    pub fn flat(&self) -> Vec<f32> {
        let mut v = Extract { out: Vec::new() };
        self.visit(&mut v);
        v.out
    }

    /// Replaces the parameters with `flat` (same length as [`Net::flat`]), keeping
    /// parameter ids so optimiser state carries over.
    pub fn load_flat(self, flat: &[f32]) -> Self {
        let mut m = Load { flat, at: 0 };
        let net = self.map(&mut m);
        assert_eq!(
            m.at,
            flat.len(),
            "load_flat: length differs from the module's"
        );
        net
    }

    /// Parameter names in visiting order (checked against the spec layout in tests).
    pub fn names(&self) -> Vec<String> {
        let mut v = Names {
            path: vec![],
            out: vec![],
        };
        self.visit(&mut v);
        v.out
    }

    /// The gradients of all parameters as one flat vector (zeros where absent).
    pub fn flat_grads(&self, grads: &GradientsParams) -> Vec<f32> {
        let mut v = ExtractGrads {
            grads,
            out: Vec::new(),
        };
        self.visit(&mut v);
        v.out
    }

    /// Gradients for the optimiser built from a flat vector.
    pub fn grads_from_flat(&self, flat: &[f32]) -> GradientsParams {
        let mut v = RegisterGrads {
            flat,
            at: 0,
            grads: GradientsParams::new(),
        };
        self.visit(&mut v);
        assert_eq!(v.at, flat.len(), "grads_from_flat: length differs");
        v.grads
    }
}

struct Extract {
    out: Vec<f32>,
}

impl ModuleVisitor for Extract {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.out.extend(
            p.val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 parameters"),
        );
    }
}

struct ExtractGrads<'a> {
    grads: &'a GradientsParams,
    out: Vec<f32>,
}

impl ModuleVisitor for ExtractGrads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        match self.grads.get::<D>(p.id) {
            Some(g) => self
                .out
                .extend(g.into_data().try_into_vec::<f32>().expect("f32 gradients")),
            None => self
                .out
                .extend(std::iter::repeat_n(0.0, p.lazy_shape().num_elements())),
        }
    }
}

struct RegisterGrads<'a> {
    flat: &'a [f32],
    at: usize,
    grads: GradientsParams,
}

impl ModuleVisitor for RegisterGrads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let shape = p.lazy_shape();
        let n = shape.num_elements();
        let data = TensorData::new(self.flat[self.at..self.at + n].to_vec(), shape);
        self.at += n;
        let device = p.lazy_device().inner();
        self.grads
            .register::<D>(p.id, Tensor::from_data(data, &device));
    }
}

struct Load<'a> {
    flat: &'a [f32],
    at: usize,
}

impl ModuleMapper for Load<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let shape = p.lazy_shape();
        let n = shape.num_elements();
        let data = TensorData::new(self.flat[self.at..self.at + n].to_vec(), shape);
        self.at += n;
        let t = Tensor::from_data(data, &p.lazy_device());
        let id = p.id;
        p.transform_for_load(t, id)
    }
}

struct Names {
    path: Vec<String>,
    out: Vec<String>,
}

impl ModuleVisitor for Names {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, _p: &Param<Tensor<D>>) {
        self.out.push(self.path.join("."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    fn specs() -> Vec<ModelSpec> {
        [
            r#"{"kind":"logreg","inputs":5,"outputs":1}"#,
            r#"{"kind":"mlp","inputs":5,"hidden":[4,3],"outputs":3,"activation":"tanh"}"#,
            r#"{"kind":"cnn","channels":1,"height":8,"width":8,"conv":[{"filters":2,"kernel":3},{"filters":3,"kernel":3}],"dense":[4],"outputs":10}"#,
        ]
        .iter()
        .map(|t| ModelSpec::from_json(t).unwrap())
        .collect()
    }

    #[test]
    fn module_tree_matches_the_spec_layout_and_round_trips() {
        for spec in specs() {
            let device = Device::flex();
            let flat = params::init(&spec, 1);
            let net = Net::new(&spec, &device, &flat).unwrap();
            let names: Vec<String> = params::layout(&spec).into_iter().map(|t| t.name).collect();
            assert_eq!(net.names(), names);
            assert_eq!(net.flat(), flat);
            let out = net.forward(Tensor::zeros([3, spec.inputs()], &device));
            assert_eq!(out.dims(), [3, spec.outputs()]);
        }
    }
}
