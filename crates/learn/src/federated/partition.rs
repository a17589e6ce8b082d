//! Splitting one data set among simulated clients, for experiments.
//!
//! - **IID**: shuffle the rows with the seed and cut them into `clients` parts whose sizes
//!   differ by at most one.
//! - **Dirichlet by label** (Hsu et al. 2019): for each class, draw client proportions
//!   p ~ Dir(α) and hand out that class's shuffled rows in those proportions. Small α
//!   gives each client few classes; large α approaches IID. Draws are repeated (up to a
//!   bound) until every client has at least `min_rows` rows.
//! - **By column value**: one client per distinct value of a column (e.g. a region),
//!   clients ordered by value.
//!
//! Every partition is disjoint and covers every row exactly once.

use std::collections::BTreeMap;

use crate::error::{LearnError, Result, check_max};
use crate::limits;
use crate::rng;

/// Row indices of each client.
pub type Partition = Vec<Vec<usize>>;

fn check_clients(rows: usize, clients: usize) -> Result<()> {
    check_max("clients", clients, limits::CLIENTS_MAX)?;
    if clients == 0 || clients > rows {
        return Err(LearnError::Config(format!(
            "cannot split {rows} rows among {clients} clients"
        )));
    }
    Ok(())
}

/// IID partition.
pub fn iid(rows: usize, clients: usize, seed: u64) -> Result<Partition> {
    check_clients(rows, clients)?;
    let perm = rng::permutation(
        &mut rng::rng(rng::derive_seed(seed, "partition iid", 0)),
        rows,
    );
    let (base, extra) = (rows / clients, rows % clients);
    let mut out = Vec::with_capacity(clients);
    let mut at = 0;
    for c in 0..clients {
        let len = base + usize::from(c < extra);
        out.push(perm[at..at + len].to_vec());
        at += len;
    }
    Ok(out)
}

/// Dirichlet-by-label partition.
pub fn dirichlet(
    labels: &[u32],
    classes: usize,
    clients: usize,
    alpha: f64,
    min_rows: usize,
    seed: u64,
) -> Result<Partition> {
    check_clients(labels.len(), clients)?;
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(LearnError::Config("alpha must be positive".into()));
    }
    if min_rows * clients > labels.len() {
        return Err(LearnError::Config(
            "min_rows × clients exceeds the rows".into(),
        ));
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class
            .get_mut(l as usize)
            .ok_or_else(|| LearnError::Data(format!("label {l} >= {classes}")))?
            .push(i);
    }
    let mut r = rng::rng(rng::derive_seed(seed, "partition dirichlet", 0));
    for _attempt in 0..1000 {
        let mut out: Partition = vec![Vec::new(); clients];
        for rows in &by_class {
            let mut rows = rows.clone();
            rng::shuffle(&mut r, &mut rows);
            let p = rng::dirichlet(&mut r, alpha, clients);
            let mut cum = 0.0;
            let mut start = 0;
            for (c, pc) in p.iter().enumerate() {
                cum += pc;
                let end = if c + 1 == clients {
                    rows.len()
                } else {
                    ((cum * rows.len() as f64).round() as usize).min(rows.len())
                };
                out[c].extend_from_slice(&rows[start..end.max(start)]);
                start = end.max(start);
            }
        }
        if out.iter().all(|o| o.len() >= min_rows) {
            out.iter_mut().for_each(|o| o.sort_unstable());
            return Ok(out);
        }
    }
    Err(LearnError::Config(format!(
        "no Dirichlet(α = {alpha}) draw gave every client {min_rows} rows in 1000 tries"
    )))
}

/// One client per distinct value of `values` (one value per row), ordered by value.
pub fn by_column(values: &[String]) -> Result<(Vec<String>, Partition)> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        groups.entry(v.as_str()).or_default().push(i);
    }
    check_max("clients", groups.len(), limits::CLIENTS_MAX)?;
    Ok(groups.into_iter().map(|(k, v)| (k.to_string(), v)).unzip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(p: &Partition, rows: usize) {
        let mut all: Vec<usize> = p.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..rows).collect::<Vec<_>>(), "disjoint and complete");
    }

    #[test]
    fn iid_is_balanced_disjoint_and_seeded() {
        let p = iid(103, 10, 1).unwrap();
        covers(&p, 103);
        assert!(p.iter().all(|c| c.len() == 10 || c.len() == 11));
        assert_eq!(p, iid(103, 10, 1).unwrap());
        assert_ne!(p, iid(103, 10, 2).unwrap());
        assert!(iid(3, 4, 1).is_err());
    }

    #[test]
    fn dirichlet_skews_labels_as_alpha_shrinks() {
        let labels: Vec<u32> = (0..2000).map(|i| (i % 10) as u32).collect();
        let skew = |alpha| {
            let p = dirichlet(&labels, 10, 5, alpha, 10, 3).unwrap();
            covers(&p, 2000);
            // mean over clients of the share of the client's most common label
            p.iter()
                .map(|c| {
                    let mut n = [0usize; 10];
                    c.iter().for_each(|&i| n[labels[i] as usize] += 1);
                    *n.iter().max().unwrap() as f64 / c.len() as f64
                })
                .sum::<f64>()
                / 5.0
        };
        let (low, high) = (skew(0.1), skew(100.0));
        assert!(
            low > 0.4 && high < 0.2,
            "alpha 0.1 → {low}, alpha 100 → {high}"
        );
    }

    #[test]
    fn by_column_groups_rows() {
        let v: Vec<String> = ["b", "a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (keys, p) = by_column(&v).unwrap();
        assert_eq!(keys, vec!["a", "b", "c"]);
        assert_eq!(p, vec![vec![1], vec![0, 2], vec![3]]);
    }
}
