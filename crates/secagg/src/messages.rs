//! The wire: every message of the four phases, its signature, and a decoder for untrusted bytes.
//!
//! Every client message is a `Signed<T>`: the body and an ed25519 signature, by the sender's
//! roster key, over `namespace(T) ‖ 0 ‖ BLAKE3(config) ‖ BLAKE3(borsh(body))`. The namespace
//! is unique per message kind, and the digest of the whole round configuration (which holds
//! the round id) binds the signature to this round and to every public parameter of it: a
//! signature cannot be replayed into another round, reinterpreted as another kind, or kept
//! valid in a transcript whose configuration was altered. The body repeats the round id so
//! a replay is refused with a clear `WrongRound` before the signature is even checked.
//! The BLAKE3 digest of the body is also what a round commitment records for the message.
//!
//! Messages from the trainer (`AdvertiseList`, `ShareBundle`, `SurvivorList`, `UnmaskRequest`)
//! are not signed: everything in them that matters is either signed by a client (adverts, the
//! consistency signatures on the survivor list), sealed by a client (shares), or checked by
//! each client against what it saw.
//!
//! Each `decode_*` function takes untrusted bytes, refuses more than `MESSAGE_BYTES_MAX`,
//! caps every variable-length field by a `*_MAX` limit, refuses trailing bytes and
//! non-canonical field elements, and returns an error — never panics — on anything else.

use aifactory_types::{BoundedBytes, BoundedVec};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_zebra::{Signature, SigningKey, VerificationKey, VerificationKeyBytes};

use crate::config::Round;
use crate::error::{Error, Result};
use crate::limits::{CLIENTS_MAX, MESSAGE_BYTES_MAX, NEIGHBOURS_MAX, PACKED_BYTES_MAX};
use crate::seal::SEALED_BYTES;
use crate::shamir::{self, Share};
use crate::{ClientId, RoundId};

/// A message body that a client signs.
pub trait Body: BorshSerialize {
    /// The message kind; also the signing namespace suffix.
    const KIND: &'static str;
    /// The round the message belongs to.
    fn round(&self) -> &RoundId;
    /// The client that sent it.
    fn sender(&self) -> ClientId;
}

/// A client message with its ed25519 signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signed<T> {
    /// The signed content.
    pub body: T,
    /// Signature over the namespaced digest of `body`.
    pub signature: [u8; 64],
}

/// The bytes a signature covers: namespace, configuration digest, and digest of the body.
fn signed_bytes<T: Body>(body: &T, config_digest: &[u8; 32]) -> Vec<u8> {
    let mut bytes = format!("aifactory/secagg/v1/{}", T::KIND).into_bytes();
    bytes.push(0);
    bytes.extend_from_slice(config_digest);
    bytes.extend_from_slice(&digest(body));
    bytes
}

/// BLAKE3 of the body's canonical encoding: what commitments record for a message.
pub fn digest<T: BorshSerialize>(body: &T) -> [u8; 32] {
    *blake3::hash(&borsh::to_vec(body).expect("encoding to a Vec cannot fail")).as_bytes()
}

impl<T: Body> Signed<T> {
    /// Signs `body` for `round` with the sender's key.
    pub fn sign(body: T, round: &Round, key: &SigningKey) -> Signed<T> {
        let signature = key.sign(&signed_bytes(&body, &round.digest)).to_bytes();
        Signed { body, signature }
    }

    /// Checks the round and the signature against the sender's roster key.
    pub fn verify(&self, round: &Round) -> Result<()> {
        let roster = &round.config.roster;
        if *self.body.round() != round.config.round {
            return Err(Error::WrongRound { kind: T::KIND });
        }
        let sender = self.body.sender();
        let key = roster
            .get(sender as usize)
            .ok_or(Error::UnknownClient(sender))?;
        let bad = || Error::BadSignature {
            kind: T::KIND,
            sender,
        };
        let key = VerificationKey::try_from(*key).map_err(|_| bad())?;
        key.verify(
            &Signature::from(self.signature),
            &signed_bytes(&self.body, &round.digest),
        )
        .map_err(|_| bad())
    }

    /// Verifies many messages of one kind at once (batch verification, about twice as fast);
    /// on failure, names the first message whose signature is bad.
    /// The batch's random coefficients come from the OS; they affect only how fast a bad
    /// batch is caught, never the outcome.
    pub fn verify_all(messages: &[&Signed<T>], round: &Round) -> Result<()> {
        let roster = &round.config.roster;
        let mut batch = ed25519_zebra::batch::Verifier::new();
        let signed: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| signed_bytes(&m.body, &round.digest))
            .collect();
        for (message, bytes) in messages.iter().zip(&signed) {
            if *message.body.round() != round.config.round {
                return Err(Error::WrongRound { kind: T::KIND });
            }
            let sender = message.body.sender();
            let key = roster
                .get(sender as usize)
                .ok_or(Error::UnknownClient(sender))?;
            batch.queue((
                VerificationKeyBytes::from(*key),
                Signature::from(message.signature),
                bytes,
            ));
        }
        if batch.verify(rand_core::OsRng).is_ok() {
            return Ok(());
        }
        messages.iter().try_for_each(|m| m.verify(round))
    }

    /// The message as a storable blob.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("encoding to a Vec cannot fail")
    }
}

/// Phase 0, client → trainer: the client's two X25519 public keys for this round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Advertise {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub sender: ClientId,
    /// Public key whose agreements encrypt shares.
    pub cipher_public: [u8; 32],
    /// Public key whose agreements seed pairwise masks.
    pub mask_public: [u8; 32],
}

/// Phase 0, trainer → clients: every advert received (the set U1).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AdvertiseList {
    /// The round.
    pub round: RoundId,
    /// The signed adverts, in sender order.
    pub adverts: BoundedVec<Signed<Advertise>, CLIENTS_MAX>,
}

/// One client's pair of Shamir shares sealed to one neighbour.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EncryptedShare {
    /// Author of the shares (the owner of the secrets).
    pub from: ClientId,
    /// Recipient (the holder).
    pub to: ClientId,
    /// The sealed `SharePair`.
    pub sealed: [u8; SEALED_BYTES],
}

/// The owner's commitments to the two shares one holder received.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ShareCommitment {
    /// The holder.
    pub holder: ClientId,
    /// Commitment to the self-mask-seed share.
    pub seed: [u8; 32],
    /// Commitment to the mask-key share.
    pub key: [u8; 32],
}

/// Phase 1, client → trainer: shares sealed to each live neighbour, and commitments to them.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ShareKeys {
    /// The round.
    pub round: RoundId,
    /// The sender (owner of the shared secrets).
    pub sender: ClientId,
    /// Commitment to the self-mask seed, checked after reconstruction.
    pub seed_commitment: [u8; 32],
    /// One sealed pair per live neighbour, in recipient order.
    pub shares: BoundedVec<EncryptedShare, NEIGHBOURS_MAX>,
    /// One commitment pair per holder (live neighbours and the sender), in holder order.
    pub commitments: BoundedVec<ShareCommitment, CLIENTS_MAX>,
}

/// Phase 1, trainer → one client: the shares its live neighbours sealed to it (the set U2).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ShareBundle {
    /// The round.
    pub round: RoundId,
    /// The recipient.
    pub to: ClientId,
    /// Sealed shares addressed to `to`, in author order.
    pub shares: BoundedVec<EncryptedShare, NEIGHBOURS_MAX>,
}

/// Phase 2, client → trainer: the masked, quantised, weighted update.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MaskedInput {
    /// The round.
    pub round: RoundId,
    /// The sender.
    pub sender: ClientId,
    /// The neighbours whose pairwise masks are in `masked`, sorted.
    pub masked_with: BoundedVec<ClientId, NEIGHBOURS_MAX>,
    /// `params + 1` coordinates packed to k bits each.
    pub masked: BoundedBytes<PACKED_BYTES_MAX>,
}

/// Phase 3, trainer → survivors: the clients whose masked inputs arrived (the set U3), for
/// each survivor to check and sign.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SurvivorList {
    /// The round.
    pub round: RoundId,
    /// Survivors, sorted and unique.
    pub survivors: BoundedVec<ClientId, CLIENTS_MAX>,
}

impl SurvivorList {
    /// What a consistency signature covers: BLAKE3 of the encoded list (round included).
    pub fn digest(&self) -> [u8; 32] {
        digest(self)
    }
}

/// Phase 3, client → trainer: the client's signature on the one survivor list it was given
/// (Bonawitz et al.'s consistency check); an honest client signs one list per round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ConsistencyCheck {
    /// The round.
    pub round: RoundId,
    /// The signer, a survivor.
    pub sender: ClientId,
    /// [`SurvivorList::digest`] of the list it was given.
    pub survivors: [u8; 32],
}

/// One client's consistency signature, as an unmasking request carries it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SurvivorSignature {
    /// The signer.
    pub signer: ClientId,
    /// Its signature on a `ConsistencyCheck` of the request's list.
    pub signature: [u8; 64],
}

/// Phase 4, trainer → signers: the survivor list and the consistency signatures on it (the
/// set U4, in signer order). A client reveals shares only for the list it signed itself,
/// and only when t of its own holders and a quorum of the roster signed that same list.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct UnmaskRequest {
    /// The round.
    pub round: RoundId,
    /// Survivors, sorted and unique.
    pub survivors: BoundedVec<ClientId, CLIENTS_MAX>,
    /// Signatures on the list, in strictly increasing signer order.
    pub signatures: BoundedVec<SurvivorSignature, CLIENTS_MAX>,
}

impl UnmaskRequest {
    /// The survivor list the signatures are about.
    pub fn list(&self) -> SurvivorList {
        SurvivorList {
            round: self.round,
            survivors: self.survivors.clone(),
        }
    }

    /// The signed consistency checks the request carries, rebuilt from its signatures.
    pub fn checks(&self) -> Vec<Signed<ConsistencyCheck>> {
        let survivors = self.list().digest();
        self.signatures
            .iter()
            .map(|s| Signed {
                body: ConsistencyCheck {
                    round: self.round,
                    sender: s.signer,
                    survivors,
                },
                signature: s.signature,
            })
            .collect()
    }
}

/// Which of an owner's two secrets a share belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum ShareKind {
    /// The self-mask seed b: revealed for survivors, to strip their self masks.
    SelfSeed,
    /// The mask secret key: revealed for dropped clients, to strip their pairwise masks.
    MaskKey,
}

impl ShareKind {
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ShareKind::SelfSeed => "self-mask seed",
            ShareKind::MaskKey => "mask key",
        }
    }
}

/// One share revealed in phase 3.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RevealedShare {
    /// Whose secret this is a share of.
    pub owner: ClientId,
    /// Which secret.
    pub kind: ShareKind,
    /// The share (the holder's x-coordinate is implied by the sender).
    pub share: Share,
}

/// Phase 3, client → trainer: one share per owner it holds shares of.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct UnmaskResponse {
    /// The round.
    pub round: RoundId,
    /// The sender (the holder).
    pub sender: ClientId,
    /// The revealed shares, in owner order.
    pub revealed: BoundedVec<RevealedShare, CLIENTS_MAX>,
}

macro_rules! body {
    ($type:ty, $kind:literal) => {
        impl Body for $type {
            const KIND: &'static str = $kind;
            fn round(&self) -> &RoundId {
                &self.round
            }
            fn sender(&self) -> ClientId {
                self.sender
            }
        }
    };
}
body!(Advertise, "advertise");
body!(ShareKeys, "share-keys");
body!(MaskedInput, "masked-input");
body!(ConsistencyCheck, "consistency-check");
body!(UnmaskResponse, "unmask-response");

/// Decodes a `T` from untrusted bytes: a size cap, borsh with capped fields, no trailing bytes.
pub(crate) fn decode_bounded<T: BorshDeserialize>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T> {
    if bytes.len() > max {
        return Err(Error::TooLong {
            what,
            len: bytes.len(),
            max,
        });
    }
    borsh::from_slice(bytes).map_err(|e| Error::Decode {
        what,
        reason: e.to_string(),
    })
}

/// Encodes any wire value to its canonical bytes.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("encoding to a Vec cannot fail")
}

/// Decodes a signed phase-0 advert from untrusted bytes.
pub fn decode_advertise(bytes: &[u8]) -> Result<Signed<Advertise>> {
    decode_bounded("advertise", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes the trainer's list of adverts from untrusted bytes.
pub fn decode_advertise_list(bytes: &[u8]) -> Result<AdvertiseList> {
    decode_bounded("advertise list", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes a signed phase-1 share message from untrusted bytes.
pub fn decode_share_keys(bytes: &[u8]) -> Result<Signed<ShareKeys>> {
    decode_bounded("share-keys", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes the trainer's bundle of shares for one client from untrusted bytes.
pub fn decode_share_bundle(bytes: &[u8]) -> Result<ShareBundle> {
    decode_bounded("share bundle", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes a signed phase-2 masked input from untrusted bytes.
pub fn decode_masked_input(bytes: &[u8]) -> Result<Signed<MaskedInput>> {
    decode_bounded("masked-input", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes the trainer's survivor list from untrusted bytes.
pub fn decode_survivor_list(bytes: &[u8]) -> Result<SurvivorList> {
    decode_bounded("survivor list", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes a signed consistency check from untrusted bytes.
pub fn decode_consistency_check(bytes: &[u8]) -> Result<Signed<ConsistencyCheck>> {
    decode_bounded("consistency-check", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes the trainer's unmasking request from untrusted bytes.
pub fn decode_unmask_request(bytes: &[u8]) -> Result<UnmaskRequest> {
    decode_bounded("unmask request", bytes, MESSAGE_BYTES_MAX)
}

/// Decodes a signed phase-3 response from untrusted bytes; refuses non-canonical shares.
pub fn decode_unmask_response(bytes: &[u8]) -> Result<Signed<UnmaskResponse>> {
    let response: Signed<UnmaskResponse> =
        decode_bounded("unmask-response", bytes, MESSAGE_BYTES_MAX)?;
    if response
        .body
        .revealed
        .iter()
        .any(|r| !shamir::is_canonical(&r.share))
    {
        return Err(Error::Decode {
            what: "unmask-response",
            reason: "share limb is not a field element".into(),
        });
    }
    Ok(response)
}
