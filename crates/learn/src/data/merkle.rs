//! The BLAKE3 Merkle root of a table's rows, and inclusion proofs.
//!
//! A row is encoded canonically (cell count, then each cell as a presence byte, a u64
//! length and its UTF-8 bytes), so the root depends on the values, not on CSV quoting or
//! spacing. Leaves are H(0x00 ‖ row), inner nodes H(0x01 ‖ left ‖ right), both with BLAKE3
//! under a domain key, and the tree has the shape of RFC 6962 (Certificate Transparency):
//! an odd node at the end of a level is carried up unchanged. The root of an empty table
//! is the domain-keyed hash of nothing. A proof lists the sibling hashes from the leaf
//! upward, each marked left or right; verification recomputes the root.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_max};
use crate::limits;

/// A 32-byte hash.
pub type Hash = [u8; 32];

const DOMAIN: &str = "aifactory-learn row merkle v1";

fn hasher() -> blake3::Hasher {
    blake3::Hasher::new_derive_key(DOMAIN)
}

/// Canonical bytes of a row.
pub fn encode_row(row: &[Option<String>]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + row.len() * 16);
    b.extend_from_slice(&(row.len() as u64).to_le_bytes());
    for c in row {
        match c {
            None => b.push(0),
            Some(s) => {
                b.push(1);
                b.extend_from_slice(&(s.len() as u64).to_le_bytes());
                b.extend_from_slice(s.as_bytes());
            }
        }
    }
    b
}

/// The leaf hash of a row.
pub fn leaf(row: &[Option<String>]) -> Hash {
    let mut h = hasher();
    h.update(&[0]);
    h.update(&encode_row(row));
    *h.finalize().as_bytes()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = hasher();
    h.update(&[1]);
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|p| {
            if p.len() == 2 {
                node(&p[0], &p[1])
            } else {
                p[0]
            }
        })
        .collect()
}

/// The Merkle root of rows.
pub fn root(rows: &[Vec<Option<String>>]) -> Result<Hash> {
    check_max("merkle leaves", rows.len(), limits::MERKLE_LEAVES_MAX)?;
    if rows.is_empty() {
        return Ok(*hasher().finalize().as_bytes());
    }
    let mut level: Vec<Hash> = rows.iter().map(|r| leaf(r)).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    Ok(level[0])
}

/// One step of a proof: a sibling hash and whether it sits on the left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStep {
    /// The sibling's hash, hex.
    pub sibling: String,
    /// Whether the sibling is the left child.
    pub left: bool,
}

/// An inclusion proof for row `index` of `rows`.
pub fn prove(rows: &[Vec<Option<String>>], index: usize) -> Result<Vec<ProofStep>> {
    check_max("merkle leaves", rows.len(), limits::MERKLE_LEAVES_MAX)?;
    if index >= rows.len() {
        return Err(LearnError::Data(format!(
            "row {index} is past the end ({} rows)",
            rows.len()
        )));
    }
    let mut level: Vec<Hash> = rows.iter().map(|r| leaf(r)).collect();
    let mut i = index;
    let mut proof = Vec::new();
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            proof.push(ProofStep {
                sibling: hex::encode(level[sibling]),
                left: sibling < i,
            });
        }
        level = next_level(&level);
        i /= 2;
    }
    Ok(proof)
}

/// Whether `proof` shows `row` under `root`.
pub fn verify(root: &Hash, row: &[Option<String>], proof: &[ProofStep]) -> bool {
    let mut h = leaf(row);
    for step in proof {
        let Ok(bytes) = hex::decode(&step.sibling) else {
            return false;
        };
        let Ok(s) = <Hash>::try_from(bytes.as_slice()) else {
            return false;
        };
        h = if step.left {
            node(&s, &h)
        } else {
            node(&h, &s)
        };
    }
    &h == root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Vec<Option<String>>> {
        (0..n)
            .map(|i| vec![Some(format!("r{i}")), (i % 3 == 0).then(|| "x".to_string())])
            .collect()
    }

    #[test]
    fn every_row_proves_and_tampered_rows_fail() {
        for n in [1, 2, 3, 5, 8, 13] {
            let t = rows(n);
            let r = root(&t).unwrap();
            for i in 0..n {
                let p = prove(&t, i).unwrap();
                assert!(verify(&r, &t[i], &p), "n {n} row {i}");
                let mut bad = t[i].clone();
                bad[0] = Some("tampered".into());
                assert!(!verify(&r, &bad, &p));
                if n > 1 {
                    assert!(
                        !verify(&r, &t[(i + 1) % n], &p),
                        "a proof is for one position"
                    );
                }
            }
        }
        assert!(prove(&rows(3), 3).is_err());
    }

    #[test]
    fn root_has_the_rfc6962_shape_and_depends_on_every_row() {
        let t = rows(3);
        let want = node(&node(&leaf(&t[0]), &leaf(&t[1])), &leaf(&t[2]));
        assert_eq!(root(&t).unwrap(), want);
        let mut u = t.clone();
        u[2][1] = Some(String::new()); // missing vs empty string differ
        assert_ne!(root(&u).unwrap(), want);
        assert_ne!(root(&rows(4)).unwrap(), root(&rows(3)).unwrap());
    }
}
