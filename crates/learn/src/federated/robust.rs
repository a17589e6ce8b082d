//! Byzantine-robust combination rules over client updates.
//!
//! - **Coordinate-wise median**: per coordinate, the median of the n values (the mean of
//!   the two middle ones when n is even).
//! - **Trimmed mean (β)**: per coordinate, drop the k = ⌊βn⌋ largest and k smallest values
//!   and average the rest (Yin et al. 2018); needs 2k < n.
//! - **Krum (f)**: score each update by the sum of squared distances to its n − f − 2
//!   nearest other updates and return the update with the lowest score (Blanchard et al.
//!   2017); needs n > 2f + 2.
//! - **Multi-Krum (f, m)**: the mean of the m updates with the lowest Krum scores.
//! - **Bulyan (f)**: pick θ = n − 2f updates by applying Krum repeatedly, removing each
//!   pick (scoring on max(m − f − 2, 1) neighbours as the pool of m shrinks); then per coordinate average the β = θ − 2f values closest to the median of the
//!   picks (El Mhamdi et al. 2018); needs n ≥ 4f + 3.
//!
//! Ties are broken by the lower client index so results are deterministic.

use crate::error::{LearnError, Result};
use crate::federated::fedavg::{check_updates, mean};

fn by_coordinate(updates: &[Vec<f32>], f: impl Fn(&mut [f32]) -> f32) -> Result<Vec<f32>> {
    let len = check_updates(updates)?;
    let mut column = vec![0f32; updates.len()];
    Ok((0..len)
        .map(|j| {
            for (c, u) in column.iter_mut().zip(updates) {
                *c = u[j];
            }
            column.sort_by(f32::total_cmp);
            f(&mut column)
        })
        .collect())
}

fn median_sorted(v: &[f32]) -> f32 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        ((f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0) as f32
    }
}

fn mean_of(v: &[f32]) -> f32 {
    (v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64) as f32
}

/// Coordinate-wise median.
pub fn median(updates: &[Vec<f32>]) -> Result<Vec<f32>> {
    by_coordinate(updates, |c| median_sorted(c))
}

/// Coordinate-wise β-trimmed mean.
pub fn trimmed_mean(updates: &[Vec<f32>], beta: f64) -> Result<Vec<f32>> {
    let n = updates.len();
    if !(0.0..0.5).contains(&beta) {
        return Err(LearnError::Config(
            "trimmed mean needs 0 <= beta < 0.5".into(),
        ));
    }
    let k = (beta * n as f64).floor() as usize;
    if 2 * k >= n {
        return Err(LearnError::Config(format!(
            "cannot trim {k} from each side of {n} updates"
        )));
    }
    by_coordinate(updates, |c| mean_of(&c[k..n - k]))
}

fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

/// Krum scores of every update among `updates` (lower is more central).
pub fn krum_scores(updates: &[Vec<f32>], f: usize) -> Result<Vec<f64>> {
    check_updates(updates)?;
    let n = updates.len();
    if n < 2 * f + 3 {
        return Err(LearnError::Config(format!(
            "Krum with f = {f} needs at least {} updates, got {n}",
            2 * f + 3
        )));
    }
    Ok(scores_with_neighbours(updates, n - f - 2))
}

/// Sum of squared distances from each update to its `k` nearest others.
fn scores_with_neighbours(updates: &[Vec<f32>], k: usize) -> Vec<f64> {
    let n = updates.len();
    let mut d = vec![vec![0f64; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let x = sq_dist(&updates[i], &updates[j]);
            d[i][j] = x;
            d[j][i] = x;
        }
    }
    (0..n)
        .map(|i| {
            let mut others: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| d[i][j]).collect();
            others.sort_by(f64::total_cmp);
            others[..k].iter().sum()
        })
        .collect()
}

fn ranked(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    idx
}

/// Index of the update Krum selects.
pub fn krum_index(updates: &[Vec<f32>], f: usize) -> Result<usize> {
    Ok(ranked(&krum_scores(updates, f)?)[0])
}

/// Krum: the selected update itself.
pub fn krum(updates: &[Vec<f32>], f: usize) -> Result<Vec<f32>> {
    Ok(updates[krum_index(updates, f)?].clone())
}

/// Multi-Krum: the mean of the `m` best-scored updates.
pub fn multi_krum(updates: &[Vec<f32>], f: usize, m: usize) -> Result<Vec<f32>> {
    let order = ranked(&krum_scores(updates, f)?);
    if m == 0 || m > updates.len() {
        return Err(LearnError::Config(format!(
            "multi-Krum m = {m} must be in 1..={}",
            updates.len()
        )));
    }
    let picked: Vec<Vec<f32>> = order[..m].iter().map(|&i| updates[i].clone()).collect();
    mean(&picked)
}

/// Bulyan over Krum.
pub fn bulyan(updates: &[Vec<f32>], f: usize) -> Result<Vec<f32>> {
    check_updates(updates)?;
    let n = updates.len();
    if n < 4 * f + 3 {
        return Err(LearnError::Config(format!(
            "Bulyan with f = {f} needs at least {} updates, got {n}",
            4 * f + 3
        )));
    }
    let theta = n - 2 * f;
    let mut remaining: Vec<usize> = (0..n).collect();
    let mut picked = Vec::with_capacity(theta);
    while picked.len() < theta {
        let pool: Vec<Vec<f32>> = remaining.iter().map(|&i| updates[i].clone()).collect();
        // The pool shrinks to 2f + 1 at the last pick, below what Krum proper needs; as
        // usual for Bulyan, score on max(|pool| - f - 2, 1) neighbours there.
        let k = pool.len().saturating_sub(f + 2).max(1);
        let best = ranked(&scores_with_neighbours(&pool, k))[0];
        picked.push(updates[remaining.remove(best)].clone());
    }
    let beta = theta - 2 * f;
    by_coordinate(&picked, |c| {
        let med = f64::from(median_sorted(c));
        let mut by_distance: Vec<f32> = c.to_vec();
        by_distance.sort_by(|a, b| {
            (f64::from(*a) - med)
                .abs()
                .total_cmp(&(f64::from(*b) - med).abs())
                .then(a.total_cmp(b))
        });
        mean_of(&by_distance[..beta])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    fn rows(v: &[&[f32]]) -> Vec<Vec<f32>> {
        v.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn hand_computed_cases() {
        let u = rows(&[&[1.0, 5.0], &[2.0, -1.0], &[100.0, 0.0], &[3.0, 2.0]]);
        assert_eq!(median(&u).unwrap(), vec![2.5, 1.0]);
        assert_eq!(median(&u[..3]).unwrap(), vec![2.0, 0.0]);
        // beta 0.25 of 4 trims one from each side: [2,3] and [0,2]
        assert_eq!(trimmed_mean(&u, 0.25).unwrap(), vec![2.5, 1.0]);
        assert_eq!(trimmed_mean(&u, 0.0).unwrap(), mean(&u).unwrap());
        assert!(trimmed_mean(&u, 0.5).is_err());
        // Krum with f = 1 on 5 points in 1-D: n - f - 2 = 2 nearest neighbours.
        let p = rows(&[&[0.0], &[1.0], &[2.0], &[3.0], &[50.0]]);
        // scores: 0 -> 1+4=5, 1 -> 1+1=2, 2 -> 1+1=2, 3 -> 1+4=5, 50 -> 47²+48²
        assert_eq!(
            krum_scores(&p, 1).unwrap(),
            vec![5.0, 2.0, 2.0, 5.0, 2209.0 + 2304.0]
        );
        assert_eq!(krum(&p, 1).unwrap(), vec![1.0]);
        assert_eq!(multi_krum(&p, 1, 3).unwrap(), vec![1.0]); // mean of 1, 2, 0
        assert!(krum(&p[..4], 1).is_err());
        // Bulyan f = 1 on 7 points: theta = 5 picks by iterated Krum, beta = 3 closest to the median.
        let b = rows(&[&[0.0], &[1.0], &[2.0], &[3.0], &[4.0], &[90.0], &[-80.0]]);
        // iterated Krum picks 2, 1, 3, 0, 4; their median is 2; the three closest to it are 1, 2, 3.
        assert_eq!(bulyan(&b, 1).unwrap(), vec![2.0]);
        assert!(bulyan(&b[..6], 1).is_err());
    }

    /// Each rule against its definition, computed the slow, obvious way on random inputs.
    #[test]
    fn rules_match_their_definitions_on_random_inputs() {
        let mut r = rng::rng(5);
        for trial in 0..20 {
            let n = 7 + trial % 6;
            let d = 1 + trial % 4;
            let u: Vec<Vec<f32>> = (0..n)
                .map(|_| (0..d).map(|_| rng::gaussian(&mut r) as f32).collect())
                .collect();
            let med = median(&u).unwrap();
            let tm = trimmed_mean(&u, 0.2).unwrap();
            let k = (0.2 * n as f64).floor() as usize;
            for j in 0..d {
                let below = u.iter().filter(|x| x[j] < med[j]).count();
                let above = u.iter().filter(|x| x[j] > med[j]).count();
                assert!(below <= n / 2 && above <= n / 2, "median splits the values");
                let mut col: Vec<f64> = u.iter().map(|x| f64::from(x[j])).collect();
                col.sort_by(f64::total_cmp);
                let want = col[k..n - k].iter().sum::<f64>() / (n - 2 * k) as f64;
                assert!((f64::from(tm[j]) - want).abs() < 1e-5);
            }
            // Krum's pick minimises the score computed from scratch.
            let f = 1;
            let score = |i: usize| {
                let mut ds: Vec<f64> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| sq_dist(&u[i], &u[j]))
                    .collect();
                ds.sort_by(f64::total_cmp);
                ds[..n - f - 2].iter().sum::<f64>()
            };
            let pick = krum_index(&u, f).unwrap();
            assert!((0..n).all(|i| score(pick) <= score(i) + 1e-9));
            // Multi-Krum with m = 1 is Krum; with m = n it is the mean.
            assert_eq!(multi_krum(&u, f, 1).unwrap(), u[pick]);
            let all = multi_krum(&u, f, n).unwrap();
            let m = mean(&u).unwrap();
            assert!(all.iter().zip(&m).all(|(a, b)| (a - b).abs() < 1e-5));
            // Bulyan's output lies within each coordinate's range.
            let b = bulyan(&u, 1).unwrap();
            for j in 0..d {
                let lo = u.iter().map(|x| x[j]).fold(f32::INFINITY, f32::min);
                let hi = u.iter().map(|x| x[j]).fold(f32::NEG_INFINITY, f32::max);
                assert!(b[j] >= lo && b[j] <= hi);
            }
        }
    }
}
