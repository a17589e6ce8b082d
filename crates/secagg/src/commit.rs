//! Hash commitments a client makes to its secrets and their shares in phase 1.
//!
//! The owner signs, in its share-keys message, a commitment to each share it deals and to
//! its self-mask seed. A share revealed in phase 3 is then checked against the owner's
//! commitment before use, so a holder who alters a share is caught and named, and a
//! reconstructed seed is checked against the owner's seed commitment, so an owner who deals
//! inconsistent shares is caught too. Shares and seeds are uniform 256-bit-plus values, so
//! a BLAKE3 hash of them reveals nothing a brute force could use.

use crate::messages::ShareKind;
use crate::shamir::Share;
use crate::{ClientId, RoundId};

/// Commitment to the share of `owner`'s `kind` secret held by `holder`.
pub(crate) fn share(
    round: &RoundId,
    owner: ClientId,
    holder: ClientId,
    kind: ShareKind,
    share: &Share,
) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("aifactory secagg v1 share commitment");
    hasher.update(&round.0);
    hasher.update(&owner.to_le_bytes());
    hasher.update(&holder.to_le_bytes());
    hasher.update(&[kind as u8]);
    for limb in share {
        hasher.update(&limb.to_le_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// Commitment to `owner`'s self-mask seed.
pub(crate) fn seed(round: &RoundId, owner: ClientId, seed: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("aifactory secagg v1 self seed commitment");
    hasher.update(&round.0);
    hasher.update(&owner.to_le_bytes());
    hasher.update(seed);
    *hasher.finalize().as_bytes()
}
