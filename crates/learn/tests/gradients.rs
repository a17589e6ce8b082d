//! Each layer's gradient, checked against central finite differences of the loss.
//!
//! Every spec isolates a layer type: a linear layer with the binary loss, one with the
//! softmax loss, tanh / sigmoid / ReLU hidden layers, convolution with max pooling, and
//! the FedProx proximal term. Parameters and inputs are seeded; the check compares every
//! coordinate of small models.

use aifactory_learn::rng;
use aifactory_learn::train::loss_and_grad;
use aifactory_learn::{ModelSpec, Samples, params};

fn data(features: usize, classes: usize, rows: usize, seed: u64) -> Samples {
    let mut r = rng::rng(seed);
    let x = (0..rows * features)
        .map(|_| rng::gaussian(&mut r) as f32)
        .collect();
    let labels = (0..rows)
        .map(|_| rng::below(&mut r, classes) as u32)
        .collect();
    Samples::new(x, labels, features, classes).unwrap()
}

/// Central-difference step sizes, largest first.
const STEPS: [f32; 4] = [3e-3, 1e-3, 3e-4, 1e-4];

fn check(spec_json: &str, prox_mu: f64) {
    let spec = ModelSpec::from_json(spec_json).unwrap();
    let d = data(spec.inputs(), spec.classes(), 12, 3);
    let p = params::init(&spec, 5);
    let anchor: Vec<f32> = p.iter().map(|x| x + 0.1).collect();
    let prox = (prox_mu > 0.0).then_some((prox_mu, anchor.as_slice()));
    let (_, grad) = loss_and_grad(&spec, &p, &d, prox).unwrap();
    let loss = |q: &[f32]| loss_and_grad(&spec, q, &d, prox).unwrap().0;
    let mut smaller_step = 0;
    for i in 0..p.len() {
        let ana = f64::from(grad[i]);
        // ReLU and max pooling are piecewise smooth: a kink within ±eps spoils that step
        // size, so a coordinate passes if a step in the ladder agrees; a wrong gradient
        // disagrees at every step.
        let agrees = STEPS.iter().position(|&eps| {
            let mut hi = p.clone();
            hi[i] += eps;
            let mut lo = p.clone();
            lo[i] -= eps;
            let num = (loss(&hi) - loss(&lo)) / (2.0 * f64::from(eps));
            (num - ana).abs() <= 1e-3 + 2e-2 * ana.abs()
        });
        match agrees {
            Some(0) => {}
            Some(_) => smaller_step += 1,
            None => panic!(
                "{spec_json}: coordinate {i}: autodiff {ana} disagrees with finite differences at every step"
            ),
        }
    }
    println!(
        "{spec_json}: {} coordinates agree, {smaller_step} only at a smaller step",
        p.len()
    );
}

#[test]
fn linear_layer_with_the_binary_loss() {
    check(r#"{"kind":"logreg","inputs":5,"outputs":1}"#, 0.0);
}

#[test]
fn linear_layer_with_the_softmax_loss() {
    check(r#"{"kind":"logreg","inputs":4,"outputs":3}"#, 0.0);
}

#[test]
fn tanh_hidden_layers() {
    check(
        r#"{"kind":"mlp","inputs":4,"hidden":[5,3],"outputs":1,"activation":"tanh"}"#,
        0.0,
    );
}

#[test]
fn sigmoid_hidden_layer() {
    check(
        r#"{"kind":"mlp","inputs":4,"hidden":[5],"outputs":3,"activation":"sigmoid"}"#,
        0.0,
    );
}

#[test]
fn relu_hidden_layer() {
    check(
        r#"{"kind":"mlp","inputs":4,"hidden":[6],"outputs":1,"activation":"relu"}"#,
        0.0,
    );
}

#[test]
fn convolution_and_max_pool() {
    check(
        r#"{"kind":"cnn","channels":2,"height":6,"width":6,"conv":[{"filters":3,"kernel":3}],"dense":[],"outputs":3,"activation":"tanh"}"#,
        0.0,
    );
}

#[test]
fn fedprox_proximal_term() {
    check(
        r#"{"kind":"mlp","inputs":3,"hidden":[4],"outputs":1,"activation":"tanh"}"#,
        0.7,
    );
}

#[test]
fn two_relu_convolution_blocks_then_dense() {
    check(
        r#"{"kind":"cnn","channels":1,"height":8,"width":8,"conv":[{"filters":2,"kernel":3},{"filters":2,"kernel":3}],"dense":[3],"outputs":1,"activation":"relu"}"#,
        0.0,
    );
}
