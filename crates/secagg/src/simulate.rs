//! An in-memory driver that runs a whole round, with chosen dropouts at each phase.
//!
//! Every message goes through its encoder and its untrusted-bytes decoder, as it would over
//! a network, and each party's work is timed on its own. Everything is derived from one seed:
//! the roster keys, the clients' secrets, their updates and sample counts, and who drops, so
//! a run replays exactly. Tests, the CLI's `secagg simulate` and the benchmark all use it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aifactory_types::BoundedVec;
use ed25519_zebra::SigningKey;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::aggregate::Aggregate;
use crate::client::Client;
use crate::config::{Round, RoundConfig, roster_size_error, threshold_default};
use crate::dp::DpConfig;
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphKind};
use crate::input::{ClientSeeds, encode_input};
use crate::messages::{self, encode};
use crate::ring;
use crate::server::Server;
use crate::transcript::Transcript;
use crate::{ClientId, RoundId};

/// The five phases, in order; a client that drops at a phase sends nothing from it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Phase 0: advertise keys.
    Advertise,
    /// Phase 1: share keys.
    ShareKeys,
    /// Phase 2: masked input.
    MaskedInput,
    /// Phase 3: signing the survivor list.
    ConsistencyCheck,
    /// Phase 4: unmasking.
    Unmask,
}

impl Phase {
    /// All phases, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Advertise,
        Phase::ShareKeys,
        Phase::MaskedInput,
        Phase::ConsistencyCheck,
        Phase::Unmask,
    ];
}

/// Which masking graph a simulated round uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Complete graph (Bonawitz et al. 2017).
    SecAgg,
    /// Sparse Harary graph of degree ~3·log2(n) (Bell et al. 2020).
    SecAggPlus,
}

/// The parameters of a simulated round.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Roster size n.
    pub clients: usize,
    /// Parameters per update.
    pub params: usize,
    /// Masking graph.
    pub protocol: Protocol,
    /// Shamir threshold; `None` picks the default (`threshold_default` of the holders).
    pub threshold: Option<usize>,
    /// Fraction of the roster that drops at each phase, in `Phase::ALL` order.
    pub dropouts: [f64; 5],
    /// Seed of everything random in the run.
    pub seed: u64,
    /// Quantisation bits b.
    pub value_bits: u8,
    /// Clip range c.
    pub clip: f32,
    /// Largest sample count; clients draw theirs uniformly from 1..=this.
    pub sample_count_max: u32,
    /// Differential privacy, if any.
    pub dp: Option<DpConfig>,
    /// Whether to keep the transcript (costs a copy of every message).
    pub keep_transcript: bool,
}

impl Simulation {
    /// A round of `clients` × `params` with no dropouts and defaults for the rest.
    pub fn new(clients: usize, params: usize, protocol: Protocol) -> Simulation {
        Simulation {
            clients,
            params,
            protocol,
            threshold: None,
            dropouts: [0.0; 5],
            seed: 0,
            value_bits: 16,
            clip: 1.0,
            sample_count_max: 1000,
            dp: None,
            keep_transcript: true,
        }
    }
}

/// Costs measured in a run.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Mean time one client spent in its own steps, decoding what it got included (over the
    /// clients that completed every phase).
    pub client_time: Duration,
    /// Time the trainer spent receiving, closing phases and recovering the sum.
    pub trainer_time: Duration,
    /// Mean bytes one client sent, over the clients that sent anything.
    pub client_bytes_sent: usize,
    /// Mean bytes one client received, over the clients that received anything.
    pub client_bytes_received: usize,
    /// Neighbours per client in the masking graph.
    pub degree: usize,
}

/// What a simulated round produced.
#[derive(Debug)]
pub struct Outcome {
    /// The public configuration used.
    pub config: RoundConfig,
    /// The trainer's result, or why the round aborted.
    pub aggregate: Result<Aggregate>,
    /// The transcript, when kept and the round finished.
    pub transcript: Option<Transcript>,
    /// The plain sum modulo 2^k of the quantised inputs of the clients that sent one.
    pub expected: Vec<u64>,
    /// The clients that dropped at each phase, in `Phase::ALL` order.
    pub dropped: [Vec<ClientId>; 5],
    /// Clients that refused a step (and so dropped), with why.
    pub refusals: Vec<(ClientId, Error)>,
    /// Measured costs.
    pub cost: Cost,
}

/// Derives a 32-byte value for `purpose` and `index` from the run's seed.
fn derived(seed: u64, purpose: &str, index: usize) -> [u8; 32] {
    let mut hasher =
        blake3::Hasher::new_derive_key(&format!("aifactory secagg v1 simulation {purpose}"));
    hasher.update(&seed.to_le_bytes());
    hasher.update(&(index as u64).to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// What a run measures besides the aggregate.
struct Tally {
    /// Every client, with its costs.
    parties: BTreeMap<ClientId, Party>,
    /// The trainer's time.
    trainer: Duration,
    /// The messages a client refused, and why.
    refusals: Vec<(ClientId, Error)>,
    /// The plain sum of the masked inputs the trainer received (empty before phase 2 ends).
    expected: Vec<u64>,
}

/// One simulated client with its private inputs and accounting.
struct Party {
    client: Client,
    update: Vec<f32>,
    samples: u32,
    secret: [u8; 32],
    time: Duration,
    sent: usize,
    received: usize,
    completed: bool,
}

impl Party {
    /// Runs `step` on the client, timing it; a refusal drops the client.
    fn step<T>(
        &mut self,
        refusals: &mut Vec<(ClientId, Error)>,
        step: impl FnOnce(&mut Client) -> Result<T>,
    ) -> Option<T> {
        let start = Instant::now();
        let result = step(&mut self.client);
        self.time += start.elapsed();
        result
            .map_err(|e| refusals.push((self.client.id(), e)))
            .ok()
    }
}

impl Simulation {
    /// The public configuration of the simulated round.
    pub fn config(&self) -> Result<RoundConfig> {
        let graph = match self.protocol {
            Protocol::SecAgg => GraphKind::Complete,
            Protocol::SecAggPlus => {
                GraphKind::secagg_plus(self.clients, derived(self.seed, "graph", 0))
            }
        };
        let roster = (0..self.clients)
            .map(|i| {
                SigningKey::from(derived(self.seed, "signing key", i))
                    .verification_key()
                    .into()
            })
            .collect();
        let holders = Graph::new(&graph, self.clients)?.degree() + 1;
        let config = RoundConfig {
            round: RoundId(derived(self.seed, "round", 0)),
            roster: BoundedVec::new(roster).map_err(|e| roster_size_error(e.len))?,
            params: u32::try_from(self.params)
                .map_err(|_| Error::Config("too many params".into()))?,
            threshold: self.threshold.unwrap_or_else(|| threshold_default(holders)) as u32,
            graph,
            clip: self.clip,
            value_bits: self.value_bits,
            sample_count_max: self.sample_count_max,
            dp: self.dp.clone(),
        };
        config.validate()?;
        Ok(config)
    }

    /// Chooses who drops at each phase: `fraction × n` (rounded) among those still in.
    fn dropouts(&self) -> [Vec<ClientId>; 5] {
        let mut rng = ChaCha20Rng::from_seed(derived(self.seed, "dropouts", 0));
        let mut alive: Vec<ClientId> = (0..self.clients as ClientId).collect();
        alive.shuffle(&mut rng);
        let mut dropped: [Vec<ClientId>; 5] = Default::default();
        for (phase, fraction) in self.dropouts.iter().enumerate() {
            let count = ((fraction * self.clients as f64).round() as usize).min(alive.len());
            let mut out: Vec<ClientId> = alive.drain(..count).collect();
            out.sort_unstable();
            dropped[phase] = out;
        }
        dropped
    }

    /// Runs the round. Errors only if the configuration is invalid; an aborted round is an
    /// `Outcome` whose `aggregate` is the abort.
    pub fn run(&self) -> Result<Outcome> {
        let config = self.config()?;
        let round = Round::new(config.clone())?;
        let dropped = self.dropouts();
        let mut server = Server::new(round.clone());
        let mut tally = Tally {
            parties: self.parties(&round)?,
            trainer: Duration::ZERO,
            refusals: Vec::new(),
            expected: Vec::new(),
        };
        let aggregate = self.phases(&round, &dropped, &mut server, &mut tally)?;
        let transcript = match (&aggregate, self.keep_transcript) {
            (Ok(a), true) => Some(server.transcript(a)),
            _ => None,
        };
        Ok(self.outcome(config, aggregate, transcript, dropped, tally, &round))
    }

    /// Runs the four phases, every message through its encoder and decoder; `Ok(Err(_))` is a
    /// round the trainer aborted, `tally` holding what was measured up to the abort.
    fn phases(
        &self,
        round: &Round,
        dropped: &[Vec<ClientId>; 5],
        server: &mut Server,
        tally: &mut Tally,
    ) -> Result<Result<Aggregate>> {
        let drops_at =
            |phase: Phase, id: ClientId| dropped[phase as usize].binary_search(&id).is_ok();
        let Tally {
            parties,
            trainer,
            refusals,
            expected,
        } = tally;
        let mut timed = |f: &mut dyn FnMut()| {
            let start = Instant::now();
            f();
            *trainer += start.elapsed();
        };

        // Phase 0: advertise.
        for party in parties
            .values_mut()
            .filter(|p| !drops_at(Phase::Advertise, p.client.id()))
        {
            let Some(bytes) = party.step(refusals, |c| c.advertise().map(|m| m.encode())) else {
                continue;
            };
            party.sent += bytes.len();
            timed(&mut || {
                let _ =
                    messages::decode_advertise(&bytes).and_then(|m| server.receive_advertise(m));
            });
        }
        let mut lists = BTreeMap::new();
        let mut abort = None;
        timed(&mut || match server.close_advertise() {
            Ok(l) => lists = l.into_iter().map(|(c, l)| (c, encode(&l))).collect(),
            Err(e) => abort = Some(e),
        });
        if let Some(e) = abort {
            return Ok(Err(e));
        }

        // Phase 1: share keys.
        let mut messages = Vec::new();
        for (id, bytes) in &lists {
            let party = parties.get_mut(id).expect("lists go to roster clients");
            party.received += bytes.len();
            if drops_at(Phase::ShareKeys, *id) {
                continue;
            }
            if let Some(out) = party.step(refusals, |c| {
                c.share_keys(&messages::decode_advertise_list(bytes)?)
                    .map(|m| m.encode())
            }) {
                party.sent += out.len();
                messages.push(out);
            }
        }
        let mut bundles = BTreeMap::new();
        timed(&mut || {
            for bytes in &messages {
                let _ =
                    messages::decode_share_keys(bytes).and_then(|m| server.receive_share_keys(m));
            }
            match server.close_share_keys() {
                Ok(b) => bundles = b.into_iter().map(|(c, b)| (c, encode(&b))).collect(),
                Err(e) => abort = Some(e),
            }
        });
        if let Some(e) = abort {
            return Ok(Err(e));
        }

        // Phase 2: masked input.
        messages.clear();
        let mut senders = Vec::new();
        for (id, bytes) in &bundles {
            let party = parties.get_mut(id).expect("bundles go to roster clients");
            party.received += bytes.len();
            if drops_at(Phase::MaskedInput, *id) {
                continue;
            }
            let (update, samples) = (party.update.clone(), party.samples);
            if let Some(out) = party.step(refusals, |c| {
                c.masked_input(&messages::decode_share_bundle(bytes)?, &update, samples)
                    .map(|m| m.encode())
            }) {
                party.sent += out.len();
                messages.push(out);
                senders.push(*id);
            }
        }
        *expected = self.expected(round, parties, &senders)?;
        let mut request = Vec::new();
        timed(&mut || {
            for bytes in &messages {
                let _ = messages::decode_masked_input(bytes)
                    .and_then(|m| server.receive_masked_input(m));
            }
            match server.close_masked_input() {
                Ok(r) => request = encode(&r),
                Err(e) => abort = Some(e),
            }
        });
        messages.clear();
        if let Some(e) = abort {
            return Ok(Err(e));
        }

        // Phase 3: consistency check.
        let survivors = messages::decode_survivor_list(&request)?
            .survivors
            .into_inner();
        messages.clear();
        for id in &survivors {
            let party = parties.get_mut(id).expect("survivors are roster clients");
            party.received += request.len();
            if drops_at(Phase::ConsistencyCheck, *id) {
                continue;
            }
            if let Some(out) = party.step(refusals, |c| {
                c.consistency_check(&messages::decode_survivor_list(&request)?)
                    .map(|m| m.encode())
            }) {
                party.sent += out.len();
                messages.push(out);
            }
        }
        timed(&mut || {
            for bytes in &messages {
                let _ = messages::decode_consistency_check(bytes)
                    .and_then(|m| server.receive_consistency_check(m));
            }
            match server.close_consistency_check() {
                Ok(r) => request = encode(&r),
                Err(e) => abort = Some(e),
            }
        });
        drop(messages);
        if let Some(e) = abort {
            return Ok(Err(e));
        }

        // Phase 4: unmask.
        let signers: Vec<ClientId> = messages::decode_unmask_request(&request)?
            .signatures
            .iter()
            .map(|s| s.signer)
            .collect();
        let mut responses = Vec::new();
        for id in &signers {
            let party = parties.get_mut(id).expect("signers are roster clients");
            party.received += request.len();
            if drops_at(Phase::Unmask, *id) {
                continue;
            }
            if let Some(out) = party.step(refusals, |c| {
                c.unmask(&messages::decode_unmask_request(&request)?)
                    .map(|m| m.encode())
            }) {
                party.sent += out.len();
                party.completed = true;
                responses.push(out);
            }
        }
        let mut aggregate = Err(Error::Transcript("not run".into()));
        timed(&mut || {
            for bytes in &responses {
                let _ = messages::decode_unmask_response(bytes)
                    .and_then(|m| server.receive_unmask_response(m));
            }
            aggregate = server.finish();
        });
        Ok(aggregate)
    }

    /// The roster's clients with their seeded keys, secrets, updates and sample counts.
    /// Client `client`'s update (uniform in [-1.2, 1.2] per coordinate) and sample count, as
    /// the run draws them: public so tests can compare the aggregate with the float inputs.
    pub fn input(&self, client: ClientId) -> (Vec<f32>, u32) {
        let mut rng = ChaCha20Rng::from_seed(derived(self.seed, "update", client as usize));
        let update = (0..self.params)
            .map(|_| rng.gen_range(-1.2f32..1.2))
            .collect();
        (update, rng.gen_range(1..=self.sample_count_max))
    }

    fn parties(&self, round: &std::sync::Arc<Round>) -> Result<BTreeMap<ClientId, Party>> {
        (0..self.clients)
            .map(|i| {
                let secret = derived(self.seed, "client secret", i);
                let (update, samples) = self.input(i as ClientId);
                let key = SigningKey::from(derived(self.seed, "signing key", i));
                let client = Client::new(round.clone(), i as ClientId, key, &secret)?;
                Ok((
                    i as ClientId,
                    Party {
                        client,
                        update,
                        samples,
                        secret,
                        time: Duration::ZERO,
                        sent: 0,
                        received: 0,
                        completed: false,
                    },
                ))
            })
            .collect()
    }

    /// The plain sum of the senders' quantised inputs, computed in the clear.
    fn expected(
        &self,
        round: &Round,
        parties: &BTreeMap<ClientId, Party>,
        senders: &[ClientId],
    ) -> Result<Vec<u64>> {
        let mut sum = vec![0u64; round.config.vector_len()];
        for id in senders {
            let party = &parties[id];
            let seeds = ClientSeeds::derive(&party.secret, &round.config.round);
            ring::add_assign(
                &mut sum,
                &encode_input(round, *id, &party.update, party.samples, &seeds)?,
            );
        }
        ring::reduce(&mut sum, round.modulus_bits);
        Ok(sum)
    }

    fn outcome(
        &self,
        config: RoundConfig,
        aggregate: Result<Aggregate>,
        transcript: Option<Transcript>,
        dropped: [Vec<ClientId>; 5],
        tally: Tally,
        round: &Round,
    ) -> Outcome {
        // Costs are those of clients that went through every phase, when any did.
        let parties = &tally.parties;
        let completed: Vec<&Party> = parties.values().filter(|p| p.completed).collect();
        let active = if completed.is_empty() {
            parties.values().filter(|p| p.sent > 0).collect()
        } else {
            completed
        };
        let count = active.len().max(1);
        let cost = Cost {
            client_time: active.iter().map(|p| p.time).sum::<Duration>() / count as u32,
            trainer_time: tally.trainer,
            client_bytes_sent: active.iter().map(|p| p.sent).sum::<usize>() / count,
            client_bytes_received: active.iter().map(|p| p.received).sum::<usize>() / count,
            degree: round.graph.degree(),
        };
        Outcome {
            config,
            aggregate,
            transcript,
            expected: tally.expected,
            dropped,
            refusals: tally.refusals,
            cost,
        }
    }
}
