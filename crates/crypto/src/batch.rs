//! Batch signature verification spread over the machine's cores.
//!
//! A block's signatures are checked together: each core verifies a chunk as one batch (a
//! single multi-scalar multiplication, much cheaper than one check per signature). Only when a
//! chunk fails are its signatures checked one by one, to name the culprit.

use ed25519_zebra::batch;
use rayon::prelude::*;

use crate::{Address, Signature, SignatureError, is_small_order};

/// Signatures per batch: large enough to amortise the batch's fixed cost, small enough that
/// both cores get work on a modest block.
const BATCH_CHUNK_SIZE: usize = 256;

/// One signature to check: `signer` claims to have signed `message`, a transaction's digest
/// or a message framed in its namespace ([`crate::Namespace::frame`]).
#[derive(Debug, Clone, Copy)]
pub struct SignedMessage<'a> {
    /// The claimed signer.
    pub signer: &'a Address,
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Checks all `messages`; on failure returns the index of the first bad one and why.
pub fn verify_batch(messages: &[SignedMessage<'_>]) -> Result<(), (usize, SignatureError)> {
    // One chunk runs on the caller's thread: handing it to the pool would only wake the pool's
    // threads, which spin looking for more work, on cores the caller needs.
    if messages.len() <= BATCH_CHUNK_SIZE {
        return verify_chunk(messages);
    }
    messages
        .par_chunks(BATCH_CHUNK_SIZE)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            verify_chunk(chunk).map_err(|(i, e)| (chunk_index * BATCH_CHUNK_SIZE + i, e))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

fn verify_chunk(chunk: &[SignedMessage<'_>]) -> Result<(), (usize, SignatureError)> {
    // The batch would accept a small-order key's forgeries; one by one, they are refused.
    if chunk.iter().any(|message| is_small_order(message.signer)) {
        return verify_one_by_one(chunk);
    }
    let mut verifier = batch::Verifier::new();
    for message in chunk {
        let key = ed25519_zebra::VerificationKeyBytes::from(message.signer.0);
        let signature = ed25519_zebra::Signature::from(message.signature.0);
        verifier.queue((key, signature, message.message));
    }
    if verifier.verify(rand_core::OsRng).is_ok() {
        return Ok(());
    }
    verify_one_by_one(chunk)?;
    // ZIP-215 guarantees batch and single checks agree; reaching here would break that.
    unreachable!("batch verification failed but every signature verified alone")
}

/// Checks each signature alone; names the first bad one.
fn verify_one_by_one(chunk: &[SignedMessage<'_>]) -> Result<(), (usize, SignatureError)> {
    for (index, message) in chunk.iter().enumerate() {
        message
            .signature
            .verify_bytes(message.signer, message.message)
            .map_err(|error| (index, error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, Hash, SecretKey};

    static TEST: Domain = Domain::new("batch test");

    fn signed(count: usize) -> Vec<(Address, Hash, Signature)> {
        (0..count)
            .map(|i| {
                let key = SecretKey::from_bytes([(i % 251) as u8 + 1; 32]);
                let digest = TEST.hash(&[&i.to_le_bytes()]);
                (key.address(), digest, key.sign(&digest))
            })
            .collect()
    }

    fn views(items: &[(Address, Hash, Signature)]) -> Vec<SignedMessage<'_>> {
        items
            .iter()
            .map(|(signer, digest, signature)| SignedMessage {
                signer,
                message: digest.as_bytes(),
                signature,
            })
            .collect()
    }

    #[test]
    fn all_valid_pass() {
        let items = signed(600);
        assert_eq!(verify_batch(&views(&items)), Ok(()));
        assert_eq!(verify_batch(&[]), Ok(()));
    }

    #[test]
    fn small_order_forgeries_are_refused_in_a_batch() {
        let mut items = signed(600);
        let forged = crate::keys::tests::small_order_addresses()[3];
        items[420] = (forged, items[420].1, crate::keys::tests::forgery());
        assert_eq!(
            verify_batch(&views(&items)),
            Err((420, SignatureError::SmallOrderKey))
        );
    }

    #[test]
    fn the_first_bad_signature_is_named() {
        let mut items = signed(600);
        items[300].2.0[5] ^= 1;
        items[450].1 = TEST.hash(&[b"other"]);
        let error = verify_batch(&views(&items)).unwrap_err();
        assert_eq!(error.0, 300);
    }
}
