//! A round's transcript, its on-chain commitment, and bit-for-bit verification.
//!
//! The transcript is every message the trainer accepted, as the clients signed it, plus the
//! unmasking request (the survivor list with its consistency signatures) and the result. The commitment the chain records is small: the hash of the
//! configuration, the digest of each masked input, one hash over the unmasking responses and
//! the hash of the result. Anyone holding the transcript checks it against the commitment and
//! recomputes the aggregate by replaying every message through a fresh trainer state
//! machine, which re-verifies every signature, every shape, every revealed share against its
//! owner's commitment, and re-derives every mask: the result must match to the last bit.

use aifactory_types::{BoundedBytes, BoundedVec};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::aggregate::Aggregate;
use crate::config::{Round, RoundConfig};
use crate::error::{Error, Result};
use crate::limits::{CLIENTS_MAX, PACKED_BYTES_MAX, TRANSCRIPT_BYTES_MAX};
use crate::messages::{
    self, Advertise, MaskedInput, ShareKeys, Signed, UnmaskRequest, UnmaskResponse,
};
use crate::server::Server;
use crate::{ClientId, RoundId};

/// Everything needed to recompute a round's aggregate.
#[derive(Debug, Clone, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Transcript {
    /// The public configuration.
    pub config: RoundConfig,
    /// Accepted adverts (U1), in sender order.
    pub adverts: BoundedVec<Signed<Advertise>, CLIENTS_MAX>,
    /// Accepted share-keys messages (U2), in sender order.
    pub share_keys: BoundedVec<Signed<ShareKeys>, CLIENTS_MAX>,
    /// Accepted masked inputs (U3), in sender order.
    pub masked_inputs: BoundedVec<Signed<MaskedInput>, CLIENTS_MAX>,
    /// The unmasking request the trainer sent: the survivor list and the signatures on it.
    pub request: UnmaskRequest,
    /// Accepted unmasking responses, in sender order.
    pub responses: BoundedVec<Signed<UnmaskResponse>, CLIENTS_MAX>,
    /// The aggregate the trainer claims, packed to k bits.
    pub result: BoundedBytes<PACKED_BYTES_MAX>,
}

/// What the chain records for a round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RoundCommitment {
    /// The round.
    pub round: RoundId,
    /// BLAKE3 of the encoded configuration.
    pub config: [u8; 32],
    /// Digest of each masked input's signed body, by sender.
    pub masked_inputs: BoundedVec<(ClientId, [u8; 32]), CLIENTS_MAX>,
    /// BLAKE3 over the unmasking request and the digests of every unmasking response, in
    /// sender order.
    pub unmasking: [u8; 32],
    /// BLAKE3 of the packed result.
    pub result: [u8; 32],
}

impl RoundCommitment {
    /// One hash of the whole commitment.
    pub fn digest(&self) -> [u8; 32] {
        messages::digest(self)
    }
}

impl Transcript {
    /// The transcript as one storable blob.
    pub fn encode(&self) -> Vec<u8> {
        messages::encode(self)
    }

    /// The round commitment this transcript opens.
    pub fn commitment(&self) -> RoundCommitment {
        let mut unmasking =
            blake3::Hasher::new_derive_key("aifactory secagg v2 unmasking commitment");
        unmasking.update(&messages::digest(&self.request));
        for response in self.responses.iter() {
            unmasking.update(&response.body.sender.to_le_bytes());
            unmasking.update(&messages::digest(&response.body));
        }
        RoundCommitment {
            round: self.config.round,
            config: *blake3::hash(&self.config.encode()).as_bytes(),
            masked_inputs: BoundedVec::new(
                self.masked_inputs
                    .iter()
                    .map(|m| (m.body.sender, messages::digest(&m.body)))
                    .collect(),
            )
            .expect("one digest per masked input"),
            unmasking: *unmasking.finalize().as_bytes(),
            result: *blake3::hash(&self.result).as_bytes(),
        }
    }

    /// Replays the round through a fresh trainer and checks the result bit for bit; returns the
    /// recomputed aggregate.
    pub fn verify(&self) -> Result<Aggregate> {
        let round = Round::new(self.config.clone())?;
        let mut server = Server::new(round);
        for advert in self.adverts.iter() {
            server.receive_advertise(advert.clone())?;
        }
        server.close_advertise()?;
        for share_keys in self.share_keys.iter() {
            server.receive_share_keys(share_keys.clone())?;
        }
        server.close_share_keys()?;
        for input in self.masked_inputs.iter() {
            server.receive_masked_input(input.clone())?;
        }
        if server.close_masked_input()? != self.request.list() {
            return Err(Error::Transcript(
                "the survivor list does not match the masked inputs".into(),
            ));
        }
        for check in self.request.checks() {
            server.receive_consistency_check(check)?;
        }
        if server.close_consistency_check()? != self.request {
            return Err(Error::Transcript(
                "the unmasking request does not match its signatures".into(),
            ));
        }
        for response in self.responses.iter() {
            server.receive_unmask_response(response.clone())?;
        }
        let aggregate = server.finish()?;
        if aggregate.packed()[..] != self.result[..] {
            return Err(Error::Transcript(
                "the recorded result differs from the recomputed aggregate".into(),
            ));
        }
        Ok(aggregate)
    }

    /// Verifies the transcript and that it opens `commitment`.
    pub fn verify_against(&self, commitment: &RoundCommitment) -> Result<Aggregate> {
        if self.commitment() != *commitment {
            return Err(Error::Transcript(
                "the transcript does not open the recorded commitment".into(),
            ));
        }
        self.verify()
    }
}

/// Decodes a transcript from untrusted bytes (its contents are checked by `verify`).
pub fn decode_transcript(bytes: &[u8]) -> Result<Transcript> {
    messages::decode_bounded("transcript", bytes, TRANSCRIPT_BYTES_MAX)
}

/// Decodes a round commitment from untrusted bytes.
pub fn decode_commitment(bytes: &[u8]) -> Result<RoundCommitment> {
    messages::decode_bounded("round commitment", bytes, crate::limits::MESSAGE_BYTES_MAX)
}
