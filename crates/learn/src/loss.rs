//! Classification losses on logits, written out so their gradients are plain autodiff.
//!
//! Binary (one logit z, label y ∈ {0,1}): mean((1 − y)·z − log σ(z)), which equals binary
//! cross-entropy on σ(z) and is stable for large |z|. Multi-class: mean over rows of
//! −log softmax(z)[y].

use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::{Device, Tensor, TensorData};

/// Targets for a batch, shaped for the loss: `[rows, 1]` of 0/1 for binary models, a
/// one-hot `[rows, classes]` matrix for multi-class models.
pub fn targets(labels: &[u32], outputs: usize, device: &Device) -> Tensor<2> {
    let rows = labels.len();
    let v: Vec<f32> = if outputs == 1 {
        labels.iter().map(|&l| l as f32).collect()
    } else {
        let mut v = vec![0.0; rows * outputs];
        for (r, &l) in labels.iter().enumerate() {
            v[r * outputs + l as usize] = 1.0;
        }
        v
    };
    Tensor::from_data(TensorData::new(v, [rows, outputs]), device)
}

/// Mean loss of `logits` against `targets` (from [`targets`]).
pub fn loss(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    if logits.dims()[1] == 1 {
        let one_minus_y = targets.neg().add_scalar(1.0);
        (one_minus_y * logits.clone() - log_sigmoid(logits)).mean()
    } else {
        (targets * log_softmax(logits, 1)).sum_dim(1).neg().mean()
    }
}
