//! The client's side of a round: a state machine that answers each phase once, in order.
//!
//! `advertise` → `share_keys` → `masked_input` → `consistency_check` → `unmask`. Each step
//! checks everything it is given (signatures, round, senders, recipients, sizes) and moves the
//! machine on only when it succeeds; a step called out of order is refused. The last two are
//! the honest client's defence against a dishonest trainer: it signs one survivor list per
//! round, reveals shares only for that list and only when t of its own holders and a quorum of
//! the roster signed the same list, and for each peer reveals a share of exactly one of the two
//! secrets, refusing any later request that would reveal the other.

use std::collections::BTreeMap;
use std::sync::Arc;

use aifactory_types::{BoundedBytes, BoundedVec};
use ed25519_zebra::SigningKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::ClientId;
use crate::agreement::{self, public_of};
use crate::commit;
use crate::config::Round;
use crate::error::{Error, Result};
use crate::input::{ClientSeeds, encode_input, encode_integers};
use crate::mask::{self, Sign};
use crate::messages::{
    Advertise, AdvertiseList, ConsistencyCheck, EncryptedShare, MaskedInput, RevealedShare,
    ShareBundle, ShareCommitment, ShareKeys, ShareKind, Signed, SurvivorList, UnmaskRequest,
    UnmaskResponse,
};
use crate::ring;
use crate::seal::{self, SharePair};
use crate::shamir;

/// Where a client is in the round: the step it expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Advertise,
    ShareKeys,
    MaskedInput,
    Consistency,
    Unmask,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Advertise => "advertise",
            Phase::ShareKeys => "share-keys",
            Phase::MaskedInput => "masked-input",
            Phase::Consistency => "consistency-check",
            Phase::Unmask => "unmask",
        }
    }
}

/// One client of one round.
pub struct Client {
    round: Arc<Round>,
    me: ClientId,
    key: SigningKey,
    seeds: ClientSeeds,
    phase: Phase,
    /// This round's advert, computed once (each public key costs a scalar multiplication).
    advert: Advertise,
    /// Adverts of the live neighbours (U1 ∩ N(me)).
    peers: BTreeMap<ClientId, Advertise>,
    /// Share-encryption keys agreed with each live neighbour, kept from phase 1 for phase 2.
    cipher_keys: BTreeMap<ClientId, [u8; 32]>,
    /// Shares held, by owner (U2 ∩ N(me), and me).
    held: BTreeMap<ClientId, SharePair>,
    /// The kind of share already revealed, by owner.
    revealed: BTreeMap<ClientId, ShareKind>,
    /// The one survivor list this client signed.
    signed_list: Option<SurvivorList>,
}

impl Client {
    /// A client with roster id `me`, its roster signing key, and a fresh 32-byte `secret` from
    /// which all its randomness for this round is derived.
    pub fn new(
        round: Arc<Round>,
        me: ClientId,
        key: SigningKey,
        secret: &[u8; 32],
    ) -> Result<Client> {
        round.check_client(me)?;
        if <[u8; 32]>::from(key.verification_key()) != round.config.roster[me as usize] {
            return Err(Error::Config(format!(
                "signing key of client {me} does not match its roster key"
            )));
        }
        let seeds = ClientSeeds::derive(secret, &round.config.round);
        let advert = Advertise {
            round: round.config.round,
            sender: me,
            cipher_public: public_of(&seeds.cipher_secret),
            mask_public: public_of(&seeds.mask_secret),
        };
        Ok(Client {
            round,
            me,
            key,
            seeds,
            phase: Phase::Advertise,
            advert,
            peers: BTreeMap::new(),
            cipher_keys: BTreeMap::new(),
            held: BTreeMap::new(),
            revealed: BTreeMap::new(),
            signed_list: None,
        })
    }

    /// This client's roster id.
    pub fn id(&self) -> ClientId {
        self.me
    }

    fn expect(&self, phase: Phase, got: &'static str) -> Result<()> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(Error::UnexpectedPhase {
                party: "client",
                phase: self.phase.name(),
                got,
            })
        }
    }

    /// Phase 0: the signed advert of this round's two public keys.
    pub fn advertise(&mut self) -> Result<Signed<Advertise>> {
        self.expect(Phase::Advertise, "advertise step")?;
        self.phase = Phase::ShareKeys;
        Ok(Signed::sign(self.advert.clone(), &self.round, &self.key))
    }

    /// Phase 1: checks the adverts, then shares both secrets among the live neighbours and
    /// itself, sealing each neighbour's pair under their agreed key.
    pub fn share_keys(&mut self, list: &AdvertiseList) -> Result<Signed<ShareKeys>> {
        self.expect(Phase::ShareKeys, "advertise list")?;
        let peers = self.check_adverts(list)?;
        let round = &self.round;
        let holders: Vec<ClientId> = round
            .holders(self.me)
            .into_iter()
            .filter(|h| *h == self.me || peers.contains_key(h))
            .collect();
        if holders.len() < round.threshold() {
            return Err(Error::NotEnoughNeighbours {
                client: self.me,
                have: holders.len() - 1,
                need: round.threshold() - 1,
            });
        }
        let xs: Vec<u64> = holders.iter().map(|h| shamir::x_of(*h)).collect();
        let mut rng = ChaCha20Rng::from_seed(self.seeds.sharing);
        let seed_shares = shamir::split(&self.seeds.self_seed, round.threshold(), &xs, &mut rng);
        let key_shares = shamir::split(&self.seeds.mask_secret, round.threshold(), &xs, &mut rng);
        let id = &round.config.round;
        let mut shares = Vec::with_capacity(holders.len());
        let mut cipher_keys = BTreeMap::new();
        let mut commitments = Vec::with_capacity(holders.len());
        for ((holder, seed), key) in holders.iter().zip(seed_shares).zip(key_shares) {
            let pair = SharePair { seed, key };
            commitments.push(ShareCommitment {
                holder: *holder,
                seed: commit::share(id, self.me, *holder, ShareKind::SelfSeed, &seed),
                key: commit::share(id, self.me, *holder, ShareKind::MaskKey, &key),
            });
            if *holder == self.me {
                self.held.insert(self.me, pair);
                continue;
            }
            let cipher = agreement::cipher_key(
                &self.seeds.cipher_secret,
                &peers[holder].cipher_public,
                id,
                self.me,
                *holder,
            )?;
            shares.push(EncryptedShare {
                from: self.me,
                to: *holder,
                sealed: seal::seal(&cipher, id, self.me, *holder, &pair),
            });
            cipher_keys.insert(*holder, cipher);
        }
        let body = ShareKeys {
            round: *id,
            sender: self.me,
            seed_commitment: commit::seed(id, self.me, &self.seeds.self_seed),
            shares: BoundedVec::new(shares).expect("one share per neighbour"),
            commitments: BoundedVec::new(commitments).expect("one commitment per roster client"),
        };
        self.peers = peers;
        self.cipher_keys = cipher_keys;
        self.phase = Phase::MaskedInput;
        Ok(Signed::sign(body, &self.round, &self.key))
    }

    /// Verifies the trainer's advert list; returns the adverts of live neighbours.
    fn check_adverts(&self, list: &AdvertiseList) -> Result<BTreeMap<ClientId, Advertise>> {
        let config = &self.round.config;
        let kind = "advertise list";
        if list.round != config.round {
            return Err(Error::WrongRound { kind });
        }
        let mut last = None;
        let mut peers = BTreeMap::new();
        let mut saw_me = false;
        for signed in list.adverts.iter() {
            let advert = &signed.body;
            if last.is_some_and(|l| l >= advert.sender) {
                return Err(Error::Unexpected {
                    kind,
                    reason: "adverts are not in strictly increasing sender order".into(),
                });
            }
            last = Some(advert.sender);
            if !self.round.holds(self.me, advert.sender) {
                return Err(Error::Unexpected {
                    kind,
                    reason: format!(
                        "advert of client {}, which is not a neighbour",
                        advert.sender
                    ),
                });
            }
            if advert.sender == self.me {
                if *advert != self.advert {
                    return Err(Error::Unexpected {
                        kind,
                        reason: "my own advert was altered".into(),
                    });
                }
                saw_me = true;
            } else {
                // Low-order keys are refused when the agreement is made (`LowOrderKey`).
                peers.insert(advert.sender, advert.clone());
            }
        }
        let signed: Vec<&Signed<Advertise>> = list.adverts.iter().collect();
        Signed::verify_all(&signed, &self.round)?;
        if !saw_me {
            return Err(Error::Unexpected {
                kind,
                reason: "my own advert is missing".into(),
            });
        }
        Ok(peers)
    }

    /// Phase 2: opens the shares sealed to it, then sends its update quantised, weighted by
    /// `samples`, and masked with its self mask and a pairwise mask per neighbour that shared.
    pub fn masked_input(
        &mut self,
        bundle: &ShareBundle,
        update: &[f32],
        samples: u32,
    ) -> Result<Signed<MaskedInput>> {
        self.mask(bundle, |round, me, seeds| {
            encode_input(round, me, update, samples, seeds)
        })
    }

    /// Phase 2 for an exact integer sum: as `masked_input`, but `values` (each at most
    /// 2^b - 1) are summed as they are, with weight 1 (see `encode_integers`).
    pub fn masked_integers(
        &mut self,
        bundle: &ShareBundle,
        values: &[u64],
    ) -> Result<Signed<MaskedInput>> {
        self.mask(bundle, |round, me, _| encode_integers(round, me, values))
    }

    /// Opens the bundle, then masks the input `encode` makes and signs it.
    fn mask(
        &mut self,
        bundle: &ShareBundle,
        encode: impl FnOnce(&Round, ClientId, &ClientSeeds) -> Result<Vec<u64>>,
    ) -> Result<Signed<MaskedInput>> {
        self.expect(Phase::MaskedInput, "share bundle")?;
        let opened = self.open_bundle(bundle)?;
        if opened.len() + 1 < self.round.threshold() {
            return Err(Error::NotEnoughNeighbours {
                client: self.me,
                have: opened.len(),
                need: self.round.threshold() - 1,
            });
        }
        let mut values = encode(&self.round, self.me, &self.seeds)?;
        let id = &self.round.config.round;
        let mut seeds = Vec::with_capacity(opened.len() + 1);
        seeds.push((self.seeds.self_seed, Sign::Plus));
        for peer in opened.keys() {
            seeds.push((
                agreement::mask_seed(
                    &self.seeds.mask_secret,
                    &self.peers[peer].mask_public,
                    id,
                    self.me,
                    *peer,
                )?,
                Sign::pairwise(self.me, *peer),
            ));
        }
        mask::apply_many(&mut values, &seeds);
        let body = MaskedInput {
            round: *id,
            sender: self.me,
            masked_with: BoundedVec::new(opened.keys().copied().collect())
                .expect("one mask per neighbour"),
            masked: BoundedBytes::new(ring::pack(&values, self.round.modulus_bits))
                .expect("a validated round packs within PACKED_BYTES_MAX"),
        };
        self.held.extend(opened);
        self.phase = Phase::Consistency;
        Ok(Signed::sign(body, &self.round, &self.key))
    }

    /// Opens every share in the bundle; each must come from a live neighbour, once, in order.
    fn open_bundle(&self, bundle: &ShareBundle) -> Result<BTreeMap<ClientId, SharePair>> {
        let kind = "share bundle";
        let id = &self.round.config.round;
        if bundle.round != *id {
            return Err(Error::WrongRound { kind });
        }
        if bundle.to != self.me {
            return Err(Error::Unexpected {
                kind,
                reason: format!("addressed to client {}", bundle.to),
            });
        }
        let mut opened = BTreeMap::new();
        let mut last = None;
        for share in bundle.shares.iter() {
            if share.to != self.me {
                return Err(Error::Unexpected {
                    kind,
                    reason: format!("share addressed to client {}", share.to),
                });
            }
            if last.is_some_and(|l| l >= share.from) {
                return Err(Error::Unexpected {
                    kind,
                    reason: "shares are not in strictly increasing author order".into(),
                });
            }
            last = Some(share.from);
            let cipher = self
                .cipher_keys
                .get(&share.from)
                .ok_or_else(|| Error::Unexpected {
                    kind,
                    reason: format!(
                        "share from client {}, which is not a live neighbour",
                        share.from
                    ),
                })?;
            opened.insert(
                share.from,
                seal::open(cipher, id, share.from, self.me, &share.sealed)?,
            );
        }
        Ok(opened)
    }

    /// Phase 3: checks the trainer's survivor list and signs it. A client signs one list per
    /// round: the consistency check of Bonawitz et al. 2017, which stops a trainer from
    /// showing different clients different lists to collect both secrets of one client.
    pub fn consistency_check(&mut self, list: &SurvivorList) -> Result<Signed<ConsistencyCheck>> {
        self.expect(Phase::Consistency, "survivor list")?;
        self.check_list(list)?;
        let body = ConsistencyCheck {
            round: self.round.config.round,
            sender: self.me,
            survivors: list.digest(),
        };
        self.signed_list = Some(list.clone());
        self.phase = Phase::Unmask;
        Ok(Signed::sign(body, &self.round, &self.key))
    }

    /// Phase 4: for each owner it holds shares of, reveals the self-seed share if the owner
    /// survived and the mask-key share if it dropped — never both for one owner, across every
    /// request of the round — once the request shows that enough clients signed the same list.
    pub fn unmask(&mut self, request: &UnmaskRequest) -> Result<Signed<UnmaskResponse>> {
        self.expect(Phase::Unmask, "unmask request")?;
        self.check_request(request)?;
        let survivors = &request.survivors[..];
        let mut revealed = Vec::with_capacity(self.held.len());
        for (owner, pair) in &self.held {
            let kind = if survivors.binary_search(owner).is_ok() {
                ShareKind::SelfSeed
            } else {
                ShareKind::MaskKey
            };
            if let Some(before) = self.revealed.get(owner).filter(|before| **before != kind) {
                return Err(Error::DoubleReveal {
                    peer: *owner,
                    revealed: before.name(),
                    asked: kind.name(),
                });
            }
            let share = match kind {
                ShareKind::SelfSeed => pair.seed,
                ShareKind::MaskKey => pair.key,
            };
            revealed.push(RevealedShare {
                owner: *owner,
                kind,
                share,
            });
        }
        self.revealed
            .extend(revealed.iter().map(|r| (r.owner, r.kind)));
        let body = UnmaskResponse {
            round: self.round.config.round,
            sender: self.me,
            revealed: BoundedVec::new(revealed).expect("one share per roster client"),
        };
        Ok(Signed::sign(body, &self.round, &self.key))
    }

    /// Refuses a survivor list that is malformed, leaves this client out, names a neighbour
    /// that never shared with it (so cannot have sent a masked input), or holds fewer than t of
    /// its holders (fewer could not unmask it, and would leave it with too few pairwise masks).
    fn check_list(&self, list: &SurvivorList) -> Result<()> {
        if list.round != self.round.config.round {
            return Err(Error::WrongRound {
                kind: "survivor list",
            });
        }
        let survivors = &list.survivors[..];
        if survivors.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::BadRequest(
                "survivors are not sorted and unique".into(),
            ));
        }
        if survivors.binary_search(&self.me).is_err() {
            return Err(Error::BadRequest(
                "it lists me as dropped, but I sent my masked input".into(),
            ));
        }
        let mut holders = 0;
        for survivor in survivors {
            self.round.check_client(*survivor)?;
            if self.round.graph.adjacent(self.me, *survivor) && !self.held.contains_key(survivor) {
                return Err(Error::BadRequest(format!(
                    "client {survivor} is listed as a survivor but never shared with me"
                )));
            }
            holders += usize::from(self.round.holds(*survivor, self.me));
        }
        if holders < self.round.threshold() {
            return Err(Error::BadRequest(format!(
                "{holders} of my holders are listed as survivors, fewer than the threshold {}",
                self.round.threshold()
            )));
        }
        Ok(())
    }

    /// Refuses a request for any list but the one this client signed, or one without valid
    /// signatures on that list from t of its holders and from a quorum of the roster.
    fn check_request(&self, request: &UnmaskRequest) -> Result<()> {
        if request.round != self.round.config.round {
            return Err(Error::WrongRound {
                kind: "unmask request",
            });
        }
        let signed = self
            .signed_list
            .as_ref()
            .expect("the unmask phase follows a signed list");
        if request.survivors != signed.survivors {
            return Err(Error::BadRequest(
                "its survivor list differs from the one I signed".into(),
            ));
        }
        let signers: Vec<ClientId> = request.signatures.iter().map(|s| s.signer).collect();
        if signers.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::BadRequest(
                "signatures are not in strictly increasing signer order".into(),
            ));
        }
        if let Some(stranger) = signers
            .iter()
            .find(|s| signed.survivors.binary_search(s).is_err())
        {
            return Err(Error::BadRequest(format!(
                "client {stranger} signed the list but is not on it"
            )));
        }
        let checks = request.checks();
        Signed::verify_all(&checks.iter().collect::<Vec<_>>(), &self.round)?;
        let holders = signers
            .iter()
            .filter(|s| self.round.holds(**s, self.me))
            .count();
        let need = self.round.threshold();
        if holders < need {
            return Err(Error::NotEnoughSignatures {
                whose: "my holders",
                have: holders,
                need,
            });
        }
        let quorum = self.round.quorum();
        if signers.len() < quorum {
            return Err(Error::NotEnoughSignatures {
                whose: "the roster",
                have: signers.len(),
                need: quorum,
            });
        }
        Ok(())
    }

    /// Every share this client holds, both kinds, by owner: what a colluding client hands the
    /// trainer. Honest code never calls it; the adversary tests use it to model collusion.
    pub fn collude(&self) -> Vec<(ClientId, shamir::Share, shamir::Share)> {
        self.held
            .iter()
            .map(|(owner, pair)| (*owner, pair.seed, pair.key))
            .collect()
    }
}
