//! Phase 3 on the trainer's side: recover the secrets the survivors revealed and strip every
//! mask that did not cancel.
//!
//! The sum of the survivors' masked inputs still holds (a) each survivor's self mask and
//! (b) for each client that shared keys but dropped before sending its input, the pairwise
//! masks its surviving neighbours applied towards it. With t shares of each survivor's
//! self-mask seed and of each such dropped client's mask key, both are recomputed and
//! subtracted; pairwise masks between two survivors cancel by themselves. Every recovered
//! secret is checked against its owner's signed commitment (seed) or advertised public key
//! (mask key) before use. The same function serves the trainer and a transcript verifier.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::ClientId;
use crate::aggregate::Aggregate;
use crate::agreement::{self, public_of};
use crate::commit;
use crate::config::Round;
use crate::error::{Error, Result};
use crate::mask::{self, Sign};
use crate::messages::{Advertise, MaskedInput, ShareKeys, ShareKind, Signed, UnmaskResponse};
use crate::ring;
use crate::shamir::{self, Share};

/// The accepted messages of a round, by sender.
pub(crate) struct Accepted<'a> {
    pub(crate) adverts: &'a BTreeMap<ClientId, Signed<Advertise>>,
    pub(crate) share_keys: &'a BTreeMap<ClientId, Signed<ShareKeys>>,
    pub(crate) inputs: &'a BTreeMap<ClientId, Signed<MaskedInput>>,
    pub(crate) responses: &'a BTreeMap<ClientId, Signed<UnmaskResponse>>,
}

/// One mask to subtract from the sum.
type Removal = ([u8; 32], Sign);

/// Recovers the secrets and returns the unmasked sum, or aborts without revealing anything.
pub(crate) fn aggregate(round: &Round, accepted: &Accepted<'_>) -> Result<Aggregate> {
    let survivors: Vec<ClientId> = accepted.inputs.keys().copied().collect();
    let removals = removals(round, accepted, &survivors)?;
    let len = round.config.vector_len();
    let bits = round.modulus_bits;
    let inputs: Vec<&[u8]> = accepted
        .inputs
        .values()
        .map(|m| &m.body.masked[..])
        .collect();
    let sum_inputs = inputs
        .par_iter()
        .map(|packed| {
            ring::unpack(packed, bits, len).expect("masked inputs are checked on receipt")
        })
        .reduce(
            || vec![0u64; len],
            |mut a, b| {
                ring::add_assign(&mut a, &b);
                a
            },
        );
    let sum_masks = removals
        .par_iter()
        .fold(
            || vec![0u64; len],
            |mut acc, (seed, sign)| {
                mask::apply(&mut acc, seed, *sign);
                acc
            },
        )
        .reduce(
            || vec![0u64; len],
            |mut a, b| {
                ring::add_assign(&mut a, &b);
                a
            },
        );
    let mut sums = sum_inputs;
    ring::add_assign(&mut sums, &sum_masks);
    ring::reduce(&mut sums, bits);
    Ok(Aggregate {
        survivors,
        sums,
        modulus_bits: bits,
    })
}

/// Every mask left in the sum, recovered from the revealed shares.
fn removals(
    round: &Round,
    accepted: &Accepted<'_>,
    survivors: &[ClientId],
) -> Result<Vec<Removal>> {
    let id = &round.config.round;
    let mut removals = Vec::new();
    for owner in survivors {
        let seed = reconstruct(round, accepted, *owner, ShareKind::SelfSeed)?;
        if commit::seed(id, *owner, &seed) != accepted.share_keys[owner].body.seed_commitment {
            return Err(Error::Reconstruction {
                owner: *owner,
                kind: ShareKind::SelfSeed.name(),
            });
        }
        removals.push((seed, Sign::Minus));
    }
    let dropped = accepted
        .share_keys
        .keys()
        .filter(|c| !accepted.inputs.contains_key(c));
    for owner in dropped {
        let neighbours: Vec<ClientId> = round
            .graph
            .neighbours(*owner)
            .into_iter()
            .filter(|v| accepted.inputs.contains_key(v))
            .collect();
        if neighbours.is_empty() {
            continue;
        }
        let secret = reconstruct(round, accepted, *owner, ShareKind::MaskKey)?;
        if public_of(&secret) != accepted.adverts[owner].body.mask_public {
            return Err(Error::Reconstruction {
                owner: *owner,
                kind: ShareKind::MaskKey.name(),
            });
        }
        for survivor in neighbours {
            let peer_public = &accepted.adverts[&survivor].body.mask_public;
            let seed = agreement::mask_seed(&secret, peer_public, id, *owner, survivor)?;
            removals.push((seed, Sign::pairwise(survivor, *owner).flip()));
        }
    }
    Ok(removals)
}

/// Interpolates `owner`'s `kind` secret from the first t revealed shares, in holder order.
fn reconstruct(
    round: &Round,
    accepted: &Accepted<'_>,
    owner: ClientId,
    kind: ShareKind,
) -> Result<[u8; 32]> {
    let t = round.threshold();
    let points: Vec<(u64, Share)> = accepted
        .responses
        .iter()
        .filter_map(|(holder, response)| {
            let revealed = &response.body.revealed[..];
            let at = revealed.binary_search_by_key(&owner, |r| r.owner).ok()?;
            (revealed[at].kind == kind).then(|| (shamir::x_of(*holder), revealed[at].share))
        })
        .take(t)
        .collect();
    if points.len() < t {
        return Err(Error::NotEnoughShares {
            owner,
            kind: kind.name(),
            have: points.len(),
            need: t,
        });
    }
    shamir::combine(&points).ok_or(Error::Reconstruction {
        owner,
        kind: kind.name(),
    })
}
