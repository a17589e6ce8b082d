//! Local training: mini-batch SGD with momentum or Adam, weight decay, an optional
//! FedProx proximal term and optional DP-SGD.
//!
//! Reproducibility: the starting weights are given (see [`crate::params::init`]), the
//! order of examples comes from the crate's seeded RNG, and burn's global RNG (used only
//! by dropout) is seeded from the same seed before the first step. Training is
//! single-threaded on burn's `flex` CPU backend, so the same seed and data give the same
//! weights to the bit on the same machine and build (matrix kernels are chosen from CPU
//! features at run time, so bit-equality across CPU families is not promised).
//!
//! FedProx (Li et al. 2020) adds (μ/2)·‖w − w_global‖² to every batch loss, pulling a
//! client's weights toward the round's starting point. Weight decay is L2 added to the
//! gradient (PyTorch's `weight_decay` for SGD and Adam). Adam uses ε = 1e-8 and SGD
//! momentum has no dampening, as in PyTorch, so hyper-parameters carry over.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_max};
use crate::limits;
use crate::loss;
use crate::model::Net;
use crate::privacy::clip_noise::{self, DpConfig};
use crate::rng;
use crate::rng::PrivacySecret;
use crate::samples::Samples;
use crate::spec::ModelSpec;

/// The optimiser of local training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    /// SGD with (heavy-ball) momentum; 0 is plain SGD.
    Sgd {
        /// Momentum coefficient in [0, 1).
        momentum: f64,
    },
    /// Adam (Kingma & Ba) with β1 = 0.9, β2 = 0.999, ε = 1e-8.
    Adam,
}

/// Hyper-parameters of one call to [`train`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per step (the expected batch size under DP-SGD).
    pub batch_size: usize,
    /// Step size.
    pub learning_rate: f64,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// L2 penalty added to the gradient; 0 for none.
    pub weight_decay: f64,
    /// FedProx proximal coefficient μ; 0 for none.
    pub prox_mu: f64,
    /// Per-example clipping and noise (DP-SGD); `None` for ordinary training.
    pub dp_sgd: Option<DpConfig>,
    /// Seed for shuffling and dropout: public, so a run can be replayed.
    pub seed: u64,
    /// Secret for DP-SGD's sampling and noise. `None` (the default, and what a real job
    /// uses) draws a fresh one from the OS per call; never serialised.
    #[serde(skip)]
    pub privacy_secret: Option<PrivacySecret>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            learning_rate: 1e-3,
            optimizer: Optimizer::Adam,
            weight_decay: 0.0,
            prox_mu: 0.0,
            dp_sgd: None,
            seed: 0,
            privacy_secret: None,
        }
    }
}

impl TrainConfig {
    /// Checks every value against its domain and the limits.
    pub fn validate(&self) -> Result<()> {
        check_max("epochs", self.epochs, limits::EPOCHS_MAX)?;
        check_max("batch size", self.batch_size, limits::BATCH_SIZE_MAX)?;
        let bad = |m: &str| Err(LearnError::Config(m.into()));
        if self.batch_size == 0 {
            return bad("batch size must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning rate must be positive");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight decay must be non-negative");
        }
        if !(self.prox_mu >= 0.0 && self.prox_mu.is_finite()) {
            return bad("prox mu must be non-negative");
        }
        if let Optimizer::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return bad("momentum must be in [0, 1)");
        }
        if let Some(dp) = &self.dp_sgd {
            dp.validate()?;
        }
        Ok(())
    }

    fn optimizer(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            Optimizer::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .init(),
            Optimizer::Sgd { momentum } => {
                let m = (momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                });
                SgdConfig::new()
                    .with_momentum(m)
                    .with_weight_decay(decay)
                    .init()
            }
        }
    }
}

/// The outcome of local training.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutput {
    /// The trained flat parameters.
    pub params: Vec<f32>,
    /// Mean training loss of each epoch (for DP-SGD, the mean of the unclipped losses).
    pub epoch_losses: Vec<f64>,
    /// Optimiser steps taken.
    pub steps: usize,
}

/// Trains `spec` from `start` on `data`; see the module docs for what is reproducible.
pub fn train(
    spec: &ModelSpec,
    start: &[f32],
    data: &Samples,
    cfg: &TrainConfig,
) -> Result<TrainOutput> {
    train_with_progress(spec, start, data, cfg, &mut |_, _| {})
}

/// Like [`train`], calling `progress(epoch, mean_loss)` after each epoch (for progress bars).
pub fn train_with_progress(
    spec: &ModelSpec,
    start: &[f32],
    data: &Samples,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainOutput> {
    cfg.validate()?;
    check_fit(spec, data)?;
    let device = Device::flex().autodiff();
    device.seed(rng::derive_seed(cfg.seed, "burn", 0));
    let mut net = Net::new(spec, &device, start)?;
    let mut opt = cfg.optimizer();
    let anchor = (cfg.prox_mu > 0.0)
        .then(|| Tensor::<1>::from_data(TensorData::new(start.to_vec(), [start.len()]), &device));
    let mut r = rng::rng(rng::derive_seed(cfg.seed, "shuffle", 0));
    let privacy = cfg
        .privacy_secret
        .clone()
        .unwrap_or_else(PrivacySecret::from_os);
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    let mut steps = 0;
    for epoch in 0..cfg.epochs {
        let (n, loss_sum, s) = match &cfg.dp_sgd {
            None => {
                let order = rng::permutation(&mut r, data.rows());
                let mut loss_sum = Tensor::<1>::zeros([1], &device.clone().inner());
                let mut s = 0;
                for batch in order.chunks(cfg.batch_size) {
                    let (l, next) = step(net, &mut opt, data, batch, cfg, anchor.as_ref(), &device);
                    net = next;
                    loss_sum = loss_sum + l;
                    s += 1;
                }
                (data.rows(), f64::from(loss_sum.into_scalar::<f32>()), s)
            }
            Some(dp) => {
                let (next, loss_sum, s) = dp_epoch(
                    net,
                    &mut opt,
                    data,
                    cfg,
                    dp,
                    &mut privacy.stream("dp-sgd", epoch as u64),
                    anchor.as_ref(),
                    &device,
                )?;
                net = next;
                (data.rows(), loss_sum, s)
            }
        };
        steps += s;
        let mean = loss_sum / n.max(1) as f64;
        epoch_losses.push(mean);
        progress(epoch, mean);
    }
    Ok(TrainOutput {
        params: net.flat(),
        epoch_losses,
        steps,
    })
}

/// Refuses data whose shape does not fit the model.
pub fn check_fit(spec: &ModelSpec, data: &Samples) -> Result<()> {
    if data.features != spec.inputs() {
        return Err(LearnError::Data(format!(
            "data has {} features, the model takes {}",
            data.features,
            spec.inputs()
        )));
    }
    if data.classes > spec.classes() {
        return Err(LearnError::Data(format!(
            "data has {} classes, the model predicts {}",
            data.classes,
            spec.classes()
        )));
    }
    Ok(())
}

/// A batch's features as a tensor.
pub(crate) fn batch_x(data: &Samples, rows: &[usize], device: &Device) -> Tensor<2> {
    let mut x = Vec::with_capacity(rows.len() * data.features);
    for &r in rows {
        x.extend_from_slice(data.row(r));
    }
    Tensor::from_data(TensorData::new(x, [rows.len(), data.features]), device)
}

fn batch_loss(
    net: &Net,
    data: &Samples,
    rows: &[usize],
    cfg: &TrainConfig,
    anchor: Option<&Tensor<1>>,
    device: &Device,
) -> Tensor<1> {
    let labels: Vec<u32> = rows.iter().map(|&r| data.labels[r]).collect();
    let logits = net.forward(batch_x(data, rows, device));
    let outputs = logits.dims()[1];
    let mut l = loss::loss(logits, loss::targets(&labels, outputs, device));
    if let Some(w0) = anchor {
        l = l + prox_term(net, w0).mul_scalar(cfg.prox_mu / 2.0);
    }
    l
}

fn step(
    net: Net,
    opt: &mut ModuleOptimizer,
    data: &Samples,
    rows: &[usize],
    cfg: &TrainConfig,
    anchor: Option<&Tensor<1>>,
    device: &Device,
) -> (Tensor<1>, Net) {
    let l = batch_loss(&net, data, rows, cfg, anchor, device);
    let grads = GradientsParams::from_grads(l.backward(), &net);
    let next = opt.step(cfg.learning_rate, net, grads);
    (l.inner().mul_scalar(rows.len() as f64), next)
}

/// One epoch of DP-SGD: ⌈1/q⌉ steps, each on a Poisson sample at rate q = batch/rows; the
/// sample and the noise come from `privacy`, the secret stream, never from the seed.
#[allow(clippy::too_many_arguments)]
fn dp_epoch(
    mut net: Net,
    opt: &mut ModuleOptimizer,
    data: &Samples,
    cfg: &TrainConfig,
    dp: &DpConfig,
    r: &mut rng::PrivacyRng,
    anchor: Option<&Tensor<1>>,
    device: &Device,
) -> Result<(Net, f64, usize)> {
    let rows = data.rows();
    let q = (cfg.batch_size as f64 / rows as f64).min(1.0);
    let steps = (1.0 / q).ceil() as usize;
    let mut loss_sum = 0.0;
    for _ in 0..steps {
        let batch: Vec<usize> = (0..rows).filter(|_| rng::uniform(r) < q).collect();
        let mut sum = vec![0f32; net.flat().len()];
        for &i in &batch {
            let l = batch_loss(&net, data, &[i], cfg, anchor, device);
            loss_sum += f64::from(l.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(l.backward(), &net);
            let mut g = net.flat_grads(&grads);
            clip_noise::clip(&mut g, dp.clip_norm)?;
            sum.iter_mut().zip(&g).for_each(|(s, x)| *s += x);
        }
        clip_noise::add_gaussian(&mut sum, dp.noise_multiplier * dp.clip_norm, r);
        let scale = (1.0 / (q * rows as f64)) as f32;
        sum.iter_mut().for_each(|x| *x *= scale);
        let grads = net.grads_from_flat(&sum);
        net = opt.step(cfg.learning_rate, net, grads);
    }
    Ok((net, loss_sum, steps))
}

/// ‖w − w0‖² over all parameters, differentiable in w.
fn prox_term(net: &Net, w0: &Tensor<1>) -> Tensor<1> {
    let mut v = Flatten { parts: Vec::new() };
    net.visit(&mut v);
    let w = Tensor::cat(v.parts, 0);
    (w - w0.clone()).powi_scalar(2).sum()
}

struct Flatten {
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let n = p.lazy_shape().num_elements();
        self.parts.push(p.val().reshape([n]));
    }
}

/// The mean loss on all of `data` and its gradient as a flat vector, with an optional
/// FedProx term (μ, anchor). Used by the numerical gradient checks, and by anyone who
/// wants to drive their own optimiser.
pub fn loss_and_grad(
    spec: &ModelSpec,
    params: &[f32],
    data: &Samples,
    prox: Option<(f64, &[f32])>,
) -> Result<(f64, Vec<f32>)> {
    check_fit(spec, data)?;
    let device = Device::flex().autodiff();
    let net = Net::new(spec, &device, params)?;
    let cfg = TrainConfig {
        prox_mu: prox.map_or(0.0, |p| p.0),
        ..TrainConfig::default()
    };
    let anchor =
        prox.map(|(_, a)| Tensor::<1>::from_data(TensorData::new(a.to_vec(), [a.len()]), &device));
    let rows: Vec<usize> = (0..data.rows()).collect();
    let l = batch_loss(&net, data, &rows, &cfg, anchor.as_ref(), &device);
    let value = f64::from(l.clone().into_scalar::<f32>());
    let grads = GradientsParams::from_grads(l.backward(), &net);
    Ok((value, net.flat_grads(&grads)))
}
