//! Who masks with whom: the complete graph of SecAgg, or the sparse graph of SecAgg+.
//!
//! SecAgg+ (Bell et al. 2020) pairs each client with only k = O(log n) neighbours, which cuts
//! per-client work and bytes from O(n) to O(log n). The graph here is a Harary graph
//! H(k, n) — a ring in which each node links to the k/2 nodes on each side — laid over a
//! permutation of the roster drawn from a public seed. The seed is public (the chain fixes
//! it after the roster), so every party derives the same graph, and no client can choose
//! its neighbours.

use borsh::{BorshDeserialize, BorshSerialize};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::ClientId;
use crate::error::{Error, Result};

/// The shape of the masking graph, as fixed in the public round configuration.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum GraphKind {
    /// SecAgg: every client pairs with every other client.
    Complete,
    /// SecAgg+: a Harary graph of even `degree` over a permutation drawn from `seed`.
    Harary {
        /// Neighbours per client (even, below the roster size).
        degree: u32,
        /// Public seed of the permutation.
        seed: [u8; 32],
    },
}

impl GraphKind {
    /// The SecAgg+ graph for `n` clients: degree the smallest even number ≥ 3·log2(n), or the
    /// complete graph when that would reach every client anyway.
    pub fn secagg_plus(n: usize, seed: [u8; 32]) -> GraphKind {
        let log = (n.max(2) as f64).log2();
        let degree = (3.0 * log).ceil() as u32;
        let degree = degree + degree % 2;
        if degree as usize >= n.saturating_sub(1) {
            GraphKind::Complete
        } else {
            GraphKind::Harary { degree, seed }
        }
    }
}

/// The masking graph of one round: a symmetric neighbour relation over the roster.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Roster size.
    n: usize,
    /// Sorted neighbour lists, or `None` for the complete graph (computed on demand).
    lists: Option<Vec<Vec<ClientId>>>,
}

impl Graph {
    /// Builds the graph for a roster of `n` clients.
    pub fn new(kind: &GraphKind, n: usize) -> Result<Graph> {
        match kind {
            GraphKind::Complete => Ok(Graph { n, lists: None }),
            GraphKind::Harary { degree, seed } => harary(*degree as usize, seed, n),
        }
    }

    /// Number of neighbours each client has.
    pub fn degree(&self) -> usize {
        match &self.lists {
            None => self.n - 1,
            Some(lists) => lists[0].len(),
        }
    }

    /// The sorted neighbours of `client`.
    pub fn neighbours(&self, client: ClientId) -> Vec<ClientId> {
        let client_index = client as usize;
        assert!(client_index < self.n, "client {client} outside the roster");
        match &self.lists {
            None => (0..self.n as ClientId).filter(|v| *v != client).collect(),
            Some(lists) => lists[client_index].clone(),
        }
    }

    /// Whether `a` and `b` mask with each other.
    pub fn adjacent(&self, a: ClientId, b: ClientId) -> bool {
        match &self.lists {
            None => a != b && (a as usize) < self.n && (b as usize) < self.n,
            Some(lists) => lists
                .get(a as usize)
                .is_some_and(|l| l.binary_search(&b).is_ok()),
        }
    }
}

/// H(degree, n) over a permutation drawn from `seed`.
fn harary(degree: usize, seed: &[u8; 32], n: usize) -> Result<Graph> {
    if degree < 2 || !degree.is_multiple_of(2) || degree >= n {
        return Err(Error::Config(format!(
            "SecAgg+ degree must be even, at least 2 and below the roster size {n}; got {degree}"
        )));
    }
    let mut order: Vec<ClientId> = (0..n as ClientId).collect();
    let key = blake3::derive_key("aifactory secagg v1 neighbour graph", seed);
    order.shuffle(&mut ChaCha20Rng::from_seed(key));
    let mut lists = vec![Vec::with_capacity(degree); n];
    for (position, client) in order.iter().enumerate() {
        for step in 1..=degree / 2 {
            lists[*client as usize].push(order[(position + step) % n]);
            lists[*client as usize].push(order[(position + n - step) % n]);
        }
    }
    lists.iter_mut().for_each(|l| l.sort_unstable());
    Ok(Graph {
        n,
        lists: Some(lists),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harary_graph_is_symmetric_regular_and_seeded() {
        let kind = GraphKind::Harary {
            degree: 6,
            seed: [1; 32],
        };
        let graph = Graph::new(&kind, 50).unwrap();
        for u in 0..50 {
            let ns = graph.neighbours(u);
            assert_eq!(ns.len(), 6);
            assert!(!ns.contains(&u));
            for v in ns {
                assert!(graph.adjacent(v, u), "{u} -> {v} but not back");
            }
        }
        let other = Graph::new(
            &GraphKind::Harary {
                degree: 6,
                seed: [2; 32],
            },
            50,
        )
        .unwrap();
        assert_ne!(graph.neighbours(0), other.neighbours(0));
        assert_eq!(
            graph.neighbours(7),
            Graph::new(&kind, 50).unwrap().neighbours(7)
        );
    }

    #[test]
    fn secagg_plus_degree_grows_like_log_n() {
        let degree = |n| match GraphKind::secagg_plus(n, [0; 32]) {
            GraphKind::Harary { degree, .. } => degree,
            GraphKind::Complete => n as u32 - 1,
        };
        assert_eq!(degree(100), 20);
        assert_eq!(degree(1000), 30);
        assert_eq!(GraphKind::secagg_plus(10, [0; 32]), GraphKind::Complete);
    }

    #[test]
    fn odd_or_too_large_degree_is_refused() {
        assert!(
            Graph::new(
                &GraphKind::Harary {
                    degree: 5,
                    seed: [0; 32]
                },
                50
            )
            .is_err()
        );
        assert!(
            Graph::new(
                &GraphKind::Harary {
                    degree: 50,
                    seed: [0; 32]
                },
                50
            )
            .is_err()
        );
    }
}
