//! Client selection: which clients take part in a round, drawn from the job's seed.
//!
//! Round r draws `k` distinct clients out of `n` with a partial Fisher–Yates shuffle on
//! the stream derived from (seed, "select", r), and returns them sorted. Anyone who knows
//! the seed can recompute every round's participants. With DP-FedAvg the sampling is part of
//! the privacy mechanism, so the simulation draws it from its secret stream instead.

use crate::error::{LearnError, Result, check_max};
use crate::limits;
use crate::rng;

/// The sorted indices of the `k` clients (out of `n`) selected for `round`.
pub fn select(seed: u64, round: u64, n: usize, k: usize) -> Result<Vec<usize>> {
    select_from(&mut rng::rng(rng::derive_seed(seed, "select", round)), n, k)
}

/// `k` distinct clients of `n`, sorted, drawn from `r` (DP-FedAvg passes its secret stream).
pub fn select_from<R: rand::RngCore>(r: &mut R, n: usize, k: usize) -> Result<Vec<usize>> {
    check_max("clients", n, limits::CLIENTS_MAX)?;
    if k == 0 || k > n {
        return Err(LearnError::Config(format!(
            "cannot select {k} of {n} clients"
        )));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + rand::Rng::gen_range(r, 0..n - i);
        idx.swap(i, j);
    }
    let mut out = idx[..k].to_vec();
    out.sort_unstable();
    Ok(out)
}

/// Poisson sampling: each of `n` clients independently with probability `q`, sorted; may be
/// empty. This is the sampling the RDP accountant's sampled Gaussian assumes, so DP-FedAvg
/// draws its participants this way, from its secret stream.
pub fn poisson<R: rand::RngCore>(r: &mut R, n: usize, q: f64) -> Result<Vec<usize>> {
    check_max("clients", n, limits::CLIENTS_MAX)?;
    if !(q > 0.0 && q <= 1.0) {
        return Err(LearnError::Config(format!(
            "sampling rate {q} outside (0, 1]"
        )));
    }
    Ok((0..n).filter(|_| rng::uniform(r) < q).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_seeded_distinct_and_roughly_uniform() {
        assert_eq!(select(1, 3, 10, 4).unwrap(), select(1, 3, 10, 4).unwrap());
        assert_ne!(select(1, 3, 10, 4).unwrap(), select(1, 4, 10, 4).unwrap());
        assert_eq!(select(1, 0, 5, 5).unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(select(1, 0, 5, 6).is_err());
        let mut counts = [0usize; 10];
        for r in 0..5000 {
            let s = select(9, r, 10, 3).unwrap();
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            s.iter().for_each(|&i| counts[i] += 1);
        }
        // each client expected 1500 times
        assert!(
            counts.iter().all(|&c| (1350..1650).contains(&c)),
            "{counts:?}"
        );
    }
}
