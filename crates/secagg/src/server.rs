//! The trainer's side of a round: collect each phase's messages, close the phase, repeat.
//!
//! Each `receive_*` checks one client message completely — round, signature by the roster
//! key, membership in the previous phase's set, no duplicate, exact shape — and either keeps
//! it or refuses it with an error, leaving the state unchanged. Each `close_*` fixes the set
//! of senders (U1, U2, U3, U4), aborts the round if fewer than t remain (or, for the
//! consistency signatures, fewer than the quorum), and returns what the trainer sends on. `finish` recovers the sum, or aborts with no partial sum revealed.

use std::collections::BTreeMap;
use std::sync::Arc;

use aifactory_types::{BoundedBytes, BoundedVec};

use crate::ClientId;
use crate::aggregate::Aggregate;
use crate::agreement;
use crate::commit;
use crate::config::Round;
use crate::error::{Error, Result};
use crate::limits::CLIENTS_MAX;
use crate::messages::{
    Advertise, AdvertiseList, Body, ConsistencyCheck, MaskedInput, ShareBundle, ShareKeys,
    ShareKind, Signed, SurvivorList, SurvivorSignature, UnmaskRequest, UnmaskResponse,
};
use crate::recover::{self, Accepted};
use crate::ring;
use crate::transcript::Transcript;

/// Where the trainer is in the round: the messages it is collecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Adverts,
    ShareKeys,
    Inputs,
    Checks,
    Responses,
    Finished,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Adverts => "advertise",
            Phase::ShareKeys => "share-keys",
            Phase::Inputs => "masked-input",
            Phase::Checks => "consistency-check",
            Phase::Responses => "unmask",
            Phase::Finished => "finished",
        }
    }
}

/// The trainer of one round.
pub struct Server {
    round: Arc<Round>,
    phase: Phase,
    adverts: BTreeMap<ClientId, Signed<Advertise>>,
    share_keys: BTreeMap<ClientId, Signed<ShareKeys>>,
    inputs: BTreeMap<ClientId, Signed<MaskedInput>>,
    list: Option<SurvivorList>,
    checks: BTreeMap<ClientId, Signed<ConsistencyCheck>>,
    request: Option<UnmaskRequest>,
    responses: BTreeMap<ClientId, Signed<UnmaskResponse>>,
}

impl Server {
    /// A trainer for `round`, waiting for adverts.
    pub fn new(round: Arc<Round>) -> Server {
        Server {
            round,
            phase: Phase::Adverts,
            adverts: BTreeMap::new(),
            share_keys: BTreeMap::new(),
            inputs: BTreeMap::new(),
            list: None,
            checks: BTreeMap::new(),
            request: None,
            responses: BTreeMap::new(),
        }
    }

    fn expect(&self, phase: Phase, got: &'static str) -> Result<()> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(Error::UnexpectedPhase {
                party: "trainer",
                phase: self.phase.name(),
                got,
            })
        }
    }

    /// Common checks: phase, round, signature, previous-phase membership, no duplicate.
    fn admit<T: Body>(
        &self,
        phase: Phase,
        message: &Signed<T>,
        previous: Option<&BTreeMap<ClientId, impl Sized>>,
        seen: &BTreeMap<ClientId, impl Sized>,
    ) -> Result<ClientId> {
        self.expect(phase, T::KIND)?;
        message.verify(&self.round)?;
        let sender = message.body.sender();
        if previous.is_some_and(|p| !p.contains_key(&sender)) {
            return Err(Error::Unexpected {
                kind: T::KIND,
                reason: format!("client {sender} did not finish the previous phase"),
            });
        }
        if seen.contains_key(&sender) {
            return Err(Error::Duplicate {
                kind: T::KIND,
                sender,
            });
        }
        Ok(sender)
    }

    /// Phase 0: keeps a client's advert.
    pub fn receive_advertise(&mut self, message: Signed<Advertise>) -> Result<()> {
        let sender = self.admit(
            Phase::Adverts,
            &message,
            None::<&BTreeMap<ClientId, ()>>,
            &self.adverts,
        )?;
        if agreement::is_low_order(&message.body.cipher_public)
            || agreement::is_low_order(&message.body.mask_public)
        {
            return Err(Error::LowOrderKey(sender));
        }
        self.adverts.insert(sender, message);
        Ok(())
    }

    /// Closes phase 0 (fixing U1): for each client, its own advert and its live neighbours'.
    pub fn close_advertise(&mut self) -> Result<BTreeMap<ClientId, AdvertiseList>> {
        self.expect(Phase::Adverts, "close of advertise")?;
        self.check_enough("advertise", self.adverts.len())?;
        let lists = self
            .adverts
            .keys()
            .map(|client| {
                let adverts = self
                    .adverts
                    .iter()
                    .filter(|(peer, _)| self.round.holds(**peer, *client))
                    .map(|(_, advert)| advert.clone())
                    .collect();
                (
                    *client,
                    AdvertiseList {
                        round: self.round.config.round,
                        adverts: BoundedVec::new(adverts).expect("one advert per roster client"),
                    },
                )
            })
            .collect();
        self.phase = Phase::ShareKeys;
        Ok(lists)
    }

    fn check_enough(&self, phase: &'static str, have: usize) -> Result<()> {
        let need = self.round.threshold();
        if have < need {
            Err(Error::TooFewSurvivors { phase, have, need })
        } else {
            Ok(())
        }
    }

    /// The live neighbours of `client` among `live`, sorted.
    fn live_neighbours<V>(&self, client: ClientId, live: &BTreeMap<ClientId, V>) -> Vec<ClientId> {
        self.round
            .graph
            .neighbours(client)
            .into_iter()
            .filter(|v| live.contains_key(v))
            .collect()
    }

    /// Phase 1: keeps a client's sealed shares after checking they go to exactly its live
    /// neighbours, with a commitment pair for every holder.
    pub fn receive_share_keys(&mut self, message: Signed<ShareKeys>) -> Result<()> {
        let sender = self.admit(
            Phase::ShareKeys,
            &message,
            Some(&self.adverts),
            &self.share_keys,
        )?;
        let body = &message.body;
        let neighbours = self.live_neighbours(sender, &self.adverts);
        let recipients: Vec<ClientId> = body.shares.iter().map(|s| s.to).collect();
        let bad = |reason: String| {
            Err(Error::Unexpected {
                kind: ShareKeys::KIND,
                reason,
            })
        };
        if body.shares.iter().any(|s| s.from != sender) {
            return bad(format!(
                "client {sender} sent shares authored by another client"
            ));
        }
        if recipients != neighbours {
            return bad(format!(
                "client {sender} must seal shares to exactly its live neighbours {neighbours:?}"
            ));
        }
        let holders: Vec<ClientId> = body.commitments.iter().map(|c| c.holder).collect();
        if holders
            != self
                .round
                .holders(sender)
                .into_iter()
                .filter(|h| *h == sender || self.adverts.contains_key(h))
                .collect::<Vec<_>>()
        {
            return bad(format!(
                "client {sender} must commit to one share pair per holder"
            ));
        }
        self.share_keys.insert(sender, message);
        Ok(())
    }

    /// Closes phase 1: each client's bundle of shares sealed to it (U2).
    pub fn close_share_keys(&mut self) -> Result<BTreeMap<ClientId, ShareBundle>> {
        self.expect(Phase::ShareKeys, "close of share-keys")?;
        self.check_enough("share-keys", self.share_keys.len())?;
        let id = self.round.config.round;
        let mut bundles: BTreeMap<ClientId, ShareBundle> = self
            .share_keys
            .keys()
            .map(|c| {
                (
                    *c,
                    ShareBundle {
                        round: id,
                        to: *c,
                        shares: BoundedVec::default(),
                    },
                )
            })
            .collect();
        for message in self.share_keys.values() {
            for share in message.body.shares.iter() {
                if let Some(bundle) = bundles.get_mut(&share.to) {
                    bundle
                        .shares
                        .push(share.clone())
                        .expect("a bundle holds one share per neighbour");
                }
            }
        }
        self.phase = Phase::Inputs;
        Ok(bundles)
    }

    /// Phase 2: keeps a client's masked input after checking its size, encoding and that it is
    /// masked with exactly its neighbours that shared keys.
    pub fn receive_masked_input(&mut self, message: Signed<MaskedInput>) -> Result<()> {
        let sender = self.admit(
            Phase::Inputs,
            &message,
            Some(&self.share_keys),
            &self.inputs,
        )?;
        let neighbours = self.live_neighbours(sender, &self.share_keys);
        if message.body.masked_with[..] != neighbours[..] {
            return Err(Error::Unexpected {
                kind: MaskedInput::KIND,
                reason: format!(
                    "client {sender} must mask with exactly its neighbours that shared keys {neighbours:?}"
                ),
            });
        }
        ring::unpack(
            &message.body.masked,
            self.round.modulus_bits,
            self.round.config.vector_len(),
        )?;
        self.inputs.insert(sender, message);
        Ok(())
    }

    /// Closes phase 2: the survivor list (U3) to send every survivor; aborts below t.
    pub fn close_masked_input(&mut self) -> Result<SurvivorList> {
        self.expect(Phase::Inputs, "close of masked-input")?;
        self.check_enough("masked-input", self.inputs.len())?;
        let list = SurvivorList {
            round: self.round.config.round,
            survivors: BoundedVec::new(self.inputs.keys().copied().collect())
                .expect("one input per roster client"),
        };
        self.list = Some(list.clone());
        self.phase = Phase::Checks;
        Ok(list)
    }

    /// Phase 3: keeps a survivor's signature on the survivor list after checking it signed
    /// exactly the list this trainer sent.
    pub fn receive_consistency_check(&mut self, message: Signed<ConsistencyCheck>) -> Result<()> {
        let sender = self.admit(Phase::Checks, &message, Some(&self.inputs), &self.checks)?;
        let list = self.list.as_ref().expect("the checks phase has a list");
        if message.body.survivors != list.digest() {
            return Err(Error::Unexpected {
                kind: ConsistencyCheck::KIND,
                reason: format!("client {sender} signed another survivor list"),
            });
        }
        self.checks.insert(sender, message);
        Ok(())
    }

    /// Closes phase 3 (fixing U4): the unmasking request, the list with every signature on
    /// it; aborts below t signers or below the roster's consistency quorum.
    pub fn close_consistency_check(&mut self) -> Result<UnmaskRequest> {
        self.expect(Phase::Checks, "close of consistency-check")?;
        self.check_enough("consistency-check", self.checks.len())?;
        let quorum = self.round.quorum();
        if self.checks.len() < quorum {
            return Err(Error::TooFewSurvivors {
                phase: "consistency-check",
                have: self.checks.len(),
                need: quorum,
            });
        }
        let list = self.list.clone().expect("the checks phase has a list");
        let signatures = self
            .checks
            .values()
            .map(|m| SurvivorSignature {
                signer: m.body.sender,
                signature: m.signature,
            })
            .collect();
        let request = UnmaskRequest {
            round: list.round,
            survivors: list.survivors,
            signatures: BoundedVec::new(signatures).expect("one signature per roster client"),
        };
        self.request = Some(request.clone());
        self.phase = Phase::Responses;
        Ok(request)
    }

    /// Phase 4: keeps a signer's revealed shares after checking each against its owner's
    /// signed commitment and that the kinds follow the survivor list.
    pub fn receive_unmask_response(&mut self, message: Signed<UnmaskResponse>) -> Result<()> {
        let sender = self.admit(
            Phase::Responses,
            &message,
            Some(&self.checks),
            &self.responses,
        )?;
        let id = &self.round.config.round;
        let mut owners: Vec<ClientId> = self.live_neighbours(sender, &self.share_keys);
        owners.insert(owners.partition_point(|o| *o < sender), sender);
        let revealed = &message.body.revealed[..];
        if revealed.iter().map(|r| r.owner).ne(owners.iter().copied()) {
            return Err(Error::Unexpected {
                kind: UnmaskResponse::KIND,
                reason: format!("client {sender} must reveal one share for each of {owners:?}"),
            });
        }
        for share in revealed {
            let expected = if self.inputs.contains_key(&share.owner) {
                ShareKind::SelfSeed
            } else {
                ShareKind::MaskKey
            };
            if share.kind != expected {
                return Err(Error::Unexpected {
                    kind: UnmaskResponse::KIND,
                    reason: format!(
                        "client {sender} revealed a {} share of client {}, expected {}",
                        share.kind.name(),
                        share.owner,
                        expected.name()
                    ),
                });
            }
            let commitments = &self.share_keys[&share.owner].body.commitments;
            let at = commitments
                .binary_search_by_key(&sender, |c| c.holder)
                .expect("holders checked in phase 1");
            let committed = match share.kind {
                ShareKind::SelfSeed => commitments[at].seed,
                ShareKind::MaskKey => commitments[at].key,
            };
            if commit::share(id, share.owner, sender, share.kind, &share.share) != committed {
                return Err(Error::BadShare {
                    holder: sender,
                    owner: share.owner,
                });
            }
        }
        self.responses.insert(sender, message);
        Ok(())
    }

    /// Closes phase 4: the unmasked sum, or an abort naming what was missing.
    pub fn finish(&mut self) -> Result<Aggregate> {
        self.expect(Phase::Responses, "close of unmask")?;
        let accepted = Accepted {
            adverts: &self.adverts,
            share_keys: &self.share_keys,
            inputs: &self.inputs,
            responses: &self.responses,
        };
        let aggregate = recover::aggregate(&self.round, &accepted)?;
        self.phase = Phase::Finished;
        Ok(aggregate)
    }

    /// The round's transcript, once finished: every accepted message and the result.
    pub fn transcript(&self, aggregate: &Aggregate) -> Transcript {
        assert_eq!(
            self.phase,
            Phase::Finished,
            "a transcript is taken after finish"
        );
        Transcript {
            config: self.round.config.clone(),
            adverts: per_client(&self.adverts),
            share_keys: per_client(&self.share_keys),
            masked_inputs: per_client(&self.inputs),
            request: self
                .request
                .clone()
                .expect("finished rounds have a request"),
            responses: per_client(&self.responses),
            result: BoundedBytes::new(aggregate.packed())
                .expect("a validated round packs within PACKED_BYTES_MAX"),
        }
    }
}

/// One message of each client, in client order, for the transcript.
fn per_client<T: Clone, const MAX: usize>(messages: &BTreeMap<ClientId, T>) -> BoundedVec<T, MAX> {
    const { assert!(MAX >= CLIENTS_MAX) };
    BoundedVec::new(messages.values().cloned().collect()).expect("one message per roster client")
}
