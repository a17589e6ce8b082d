//! Flat parameter vectors: the currency of federated learning.
//!
//! Every model is, for aggregation, storage and hashing, one `Vec<f32>`: the tensors of
//! [`layout`] concatenated in that order. The layout is a pure function of the spec, so a
//! trainer, a provider and a validator agree on it without exchanging anything but the
//! spec. Names and order match the burn module tree (`convs.{i}.weight`,
//! `convs.{i}.bias`, `dense.{i}.weight`, `dense.{i}.bias`); dense weights are stored
//! `[in, out]` as burn does, convolution weights `[out, in, kh, kw]` as PyTorch does.
//!
//! Initialisation draws from the crate's seeded RNG rather than burn's global one, so
//! the starting weights depend only on (spec, seed): U(−b, b) with b = 1/√fan_in for
//! weights and biases alike, PyTorch's default for `Linear` and `Conv2d`.

use crate::rng;
use crate::spec::ModelSpec;

/// Name and shape of one tensor of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Dotted path, e.g. `dense.0.weight`.
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
}

impl TensorInfo {
    /// Number of scalars.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor holds no scalars.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inputs feeding each output unit (for initialisation bounds).
    fn fan_in(&self) -> usize {
        match self.shape.as_slice() {
            [i, _o] => *i,
            [_o, i, kh, kw] => i * kh * kw,
            _ => 1,
        }
    }
}

/// The tensors of a model, in flat-vector order.
pub fn layout(spec: &ModelSpec) -> Vec<TensorInfo> {
    let mut out = Vec::new();
    let mut c_in = spec.image().map_or(0, |i| i.channels);
    for (i, l) in spec.conv_layers().iter().enumerate() {
        out.push(TensorInfo {
            name: format!("convs.{i}.weight"),
            shape: vec![l.filters, c_in, l.kernel, l.kernel],
        });
        out.push(TensorInfo {
            name: format!("convs.{i}.bias"),
            shape: vec![l.filters],
        });
        c_in = l.filters;
    }
    let widths = spec.dense_widths();
    for (i, w) in widths.windows(2).enumerate() {
        out.push(TensorInfo {
            name: format!("dense.{i}.weight"),
            shape: vec![w[0], w[1]],
        });
        out.push(TensorInfo {
            name: format!("dense.{i}.bias"),
            shape: vec![w[1]],
        });
    }
    out
}

/// Seeded initial parameters for a spec.
pub fn init(spec: &ModelSpec, seed: u64) -> Vec<f32> {
    let mut r = rng::rng(rng::derive_seed(seed, "init", 0));
    let infos = layout(spec);
    let mut out = Vec::with_capacity(infos.iter().map(TensorInfo::len).sum());
    let mut fan_in = 1;
    for t in &infos {
        if t.shape.len() > 1 {
            fan_in = t.fan_in();
        }
        let bound = 1.0 / (fan_in as f64).sqrt();
        out.extend((0..t.len()).map(|_| ((2.0 * rng::uniform(&mut r) - 1.0) * bound) as f32));
    }
    out
}

/// Splits a flat vector into named tensors (borrowed slices), in layout order.
pub fn split<'a>(infos: &'a [TensorInfo], flat: &'a [f32]) -> Vec<(&'a TensorInfo, &'a [f32])> {
    let mut at = 0;
    infos
        .iter()
        .map(|t| {
            let s = &flat[at..at + t.len()];
            at += t.len();
            (t, s)
        })
        .collect()
}

/// The model content id: BLAKE3 over the tensors sorted by name, each fed as a
/// length-prefixed name, the rank and dims as u64 little-endian, and the f32 values
/// little-endian. Same weights, same id, whatever the file they came from.
pub fn content_id(infos: &[TensorInfo], flat: &[f32]) -> String {
    let mut parts = split(infos, flat);
    parts.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut h = blake3::Hasher::new_derive_key("aifactory-learn model content v1");
    h.update(&(parts.len() as u64).to_le_bytes());
    for (t, values) in parts {
        h.update(&(t.name.len() as u64).to_le_bytes());
        h.update(t.name.as_bytes());
        h.update(&(t.shape.len() as u64).to_le_bytes());
        for d in &t.shape {
            h.update(&(*d as u64).to_le_bytes());
        }
        for v in values {
            h.update(&v.to_le_bytes());
        }
    }
    h.finalize().to_hex().to_string()
}

/// Euclidean norm of a vector, accumulated in f64.
pub fn l2_norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// `a - b`, elementwise.
pub fn sub(a: &[f32], b: &[f32]) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "sub: lengths differ");
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// `a + b`, elementwise.
pub fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "add: lengths differ");
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_counts_the_adult_mlp() {
        let s = ModelSpec::from_json(r#"{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1}"#)
            .unwrap();
        assert_eq!(s.param_count(), 108 * 64 + 64 + 64 * 32 + 32 + 32 + 1);
        let p = init(&s, 3);
        assert_eq!(p.len(), 9089);
        assert_eq!(p, init(&s, 3));
        assert_ne!(p, init(&s, 4));
        let b = 1.0 / (108f32).sqrt();
        assert!(p[..108 * 64].iter().all(|x| x.abs() <= b));
    }

    #[test]
    fn content_id_depends_on_values_and_names_not_order_of_listing() {
        let infos = vec![
            TensorInfo {
                name: "b".into(),
                shape: vec![2],
            },
            TensorInfo {
                name: "a".into(),
                shape: vec![1],
            },
        ];
        let swapped = vec![infos[1].clone(), infos[0].clone()];
        assert_eq!(
            content_id(&infos, &[1.0, 2.0, 3.0]),
            content_id(&swapped, &[3.0, 1.0, 2.0])
        );
        assert_ne!(
            content_id(&infos, &[1.0, 2.0, 3.0]),
            content_id(&infos, &[1.0, 2.0, 3.5])
        );
    }
}
