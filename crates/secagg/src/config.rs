//! The public description of one aggregation round, as the chain fixes it.
//!
//! Everything here is known to every party before the round starts: the round id, the roster
//! of client signing keys (a client's id is its index), the vector length, the threshold, the
//! masking graph, the quantiser and the optional differential privacy. A `Round` is that
//! configuration validated, with its graph built once and shared by the parties in a process.

use std::sync::Arc;

use aifactory_types::BoundedVec;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_zebra::VerificationKey;

use crate::dp::{self, DpConfig};
use crate::error::{Error, Result};
use crate::graph::{Graph, GraphKind};
use crate::limits::{
    CLIENTS_MAX, MESSAGE_BYTES_MAX, MODULUS_BITS_MAX, PARAMS_MAX, SAMPLE_COUNT_MAX, VALUE_BITS_MAX,
};
use crate::quantize::levels;
use crate::{ClientId, RoundId};

/// The error for a roster of `clients` keys, outside what a round allows.
pub(crate) fn roster_size_error(clients: usize) -> Error {
    Error::Config(format!(
        "roster has {clients} clients; a round needs 2 to {CLIENTS_MAX}"
    ))
}

/// The public parameters of one round.
#[derive(Debug, Clone, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct RoundConfig {
    /// Unique id of the round (e.g. a hash of job and round number); bound into every signature.
    pub round: RoundId,
    /// Ed25519 verification keys of the clients; a client's id is its index here.
    pub roster: BoundedVec<[u8; 32], CLIENTS_MAX>,
    /// Length of every client's parameter vector.
    pub params: u32,
    /// Shamir threshold t: shares needed to recover a secret, and survivors needed to finish.
    pub threshold: u32,
    /// The masking graph: complete (SecAgg) or Harary (SecAgg+).
    pub graph: GraphKind,
    /// Clip range c: coordinates are clamped to [-c, c] before quantising.
    pub clip: f32,
    /// Bits b of precision per quantised coordinate.
    pub value_bits: u8,
    /// Largest sample count (FedAvg weight) a client may claim.
    pub sample_count_max: u32,
    /// Distributed differential privacy, if the job asks for it.
    pub dp: Option<DpConfig>,
}

/// The least threshold a round may use: a strict majority of the `holders` (neighbours plus
/// the owner) of each secret, so that no trainer gathers t shares of both an owner's secrets.
pub fn threshold_min(holders: usize) -> usize {
    holders / 2 + 1
}

/// The default threshold: the least t with 2t − h ≥ ⌈h/3⌉ for `holders` h. Fewer than a third
/// of a neighbourhood may drop, and, with the consistency check, fewer than t − 1 of it may
/// collude (see [`Round::colluders_max`]).
pub fn threshold_default(holders: usize) -> usize {
    (holders + holders.div_ceil(3)).div_ceil(2)
}

/// Consistency signatures an unmasking request needs in all, for a roster of `clients`: the
/// default threshold of the complete graph, so two different survivor lists can both gather
/// that many only if at least ⌈n/3⌉ clients collude with the trainer.
pub fn consistency_quorum(clients: usize) -> usize {
    threshold_default(clients)
}

impl RoundConfig {
    /// Clients on the roster.
    pub fn clients(&self) -> usize {
        self.roster.len()
    }

    /// Coordinates of a masked vector: the parameters plus one for the sample count.
    pub fn vector_len(&self) -> usize {
        self.params as usize + 1
    }

    /// Each client's noise standard deviation in quantisation steps, if DP is on.
    pub fn noise_std(&self) -> Option<f64> {
        self.dp.as_ref().map(|dp| {
            dp::client_noise_std(
                dp,
                self.clip,
                u32::from(self.value_bits),
                self.params as usize,
                self.threshold as usize,
            )
        })
    }

    /// k: the modulus is 2^k, the smallest width in which the sum of every client's largest
    /// possible input (weighted value plus noise) fits with a sign bit to spare, so it never wraps.
    pub fn modulus_bits(&self) -> u32 {
        let noise = self.noise_std().map_or(0, dp::noise_bound);
        let per_client = u128::from(levels(u32::from(self.value_bits)))
            * u128::from(self.sample_count_max)
            + u128::from(noise);
        let bound = per_client * self.clients() as u128;
        (128 - bound.leading_zeros()) + 1
    }

    /// Checks every field; a round may only start from a configuration that passes.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| Err(Error::Config(reason));
        let n = self.clients();
        if !(2..=CLIENTS_MAX).contains(&n) {
            return Err(roster_size_error(n));
        }
        if self.params == 0 || self.params as usize > PARAMS_MAX {
            return fail(format!("params {} outside 1..={PARAMS_MAX}", self.params));
        }
        if self.value_bits == 0 || u32::from(self.value_bits) > VALUE_BITS_MAX {
            return fail(format!(
                "value bits {} outside 1..={VALUE_BITS_MAX}",
                self.value_bits
            ));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return fail(format!(
                "clip range {} must be finite and positive",
                self.clip
            ));
        }
        if self.sample_count_max == 0 || self.sample_count_max > SAMPLE_COUNT_MAX {
            return fail(format!(
                "sample count max {} outside 1..={SAMPLE_COUNT_MAX}",
                self.sample_count_max
            ));
        }
        if let Some(dp) = &self.dp {
            if !(dp.clip_norm_l2.is_finite() && dp.clip_norm_l2 > 0.0) {
                return fail("DP clip norm must be finite and positive".into());
            }
            if !(dp.noise_multiplier.is_finite() && dp.noise_multiplier > 0.0) {
                return fail("DP noise multiplier must be finite and positive".into());
            }
            if self.sample_count_max != 1 {
                return fail("DP rounds use unit weights: sample count max must be 1".into());
            }
        }
        let graph = Graph::new(&self.graph, n)?;
        let holders = graph.degree() + 1;
        let t = self.threshold as usize;
        if t < threshold_min(holders) || t > holders {
            return fail(format!(
                "threshold {t} must be a strict majority of the {holders} holders of each secret, \
                 between {} and {holders}",
                threshold_min(holders)
            ));
        }
        let k = self.modulus_bits();
        if k > MODULUS_BITS_MAX {
            return fail(format!(
                "the sum needs a {k}-bit modulus, above {MODULUS_BITS_MAX}: lower value bits, sample count max or noise"
            ));
        }
        if crate::ring::packed_len(self.vector_len(), k) + 4096 > MESSAGE_BYTES_MAX {
            return fail("masked vector would exceed the message size limit".into());
        }
        for (id, key) in self.roster.iter().enumerate() {
            if VerificationKey::try_from(*key).is_err() {
                return fail(format!(
                    "roster key of client {id} is not a valid ed25519 key"
                ));
            }
            if self.roster[..id].contains(key) {
                return fail(format!("roster key of client {id} appears twice"));
            }
        }
        Ok(())
    }

    /// The configuration's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("encoding to a Vec cannot fail")
    }

    /// Decodes and validates a configuration from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<RoundConfig> {
        let config: RoundConfig =
            crate::messages::decode_bounded("round config", bytes, MESSAGE_BYTES_MAX)?;
        config.validate()?;
        Ok(config)
    }
}

/// A validated configuration with its masking graph, shared by the parties of a round.
#[derive(Debug)]
pub struct Round {
    /// The public configuration.
    pub config: RoundConfig,
    /// The masking graph derived from it.
    pub graph: Graph,
    /// The modulus width k, cached.
    pub modulus_bits: u32,
    /// BLAKE3 of the encoded configuration: every signature of the round covers it.
    pub digest: [u8; 32],
}

impl Round {
    /// Validates `config` and builds its graph.
    pub fn new(config: RoundConfig) -> Result<Arc<Round>> {
        config.validate()?;
        let graph = Graph::new(&config.graph, config.clients())?;
        let modulus_bits = config.modulus_bits();
        let digest = *blake3::hash(&config.encode()).as_bytes();
        Ok(Arc::new(Round {
            config,
            graph,
            modulus_bits,
            digest,
        }))
    }

    /// The Shamir threshold t.
    pub fn threshold(&self) -> usize {
        self.config.threshold as usize
    }

    /// The clients holding shares of `owner`'s secrets: its neighbours and itself, sorted.
    pub fn holders(&self, owner: ClientId) -> Vec<ClientId> {
        let mut holders = self.graph.neighbours(owner);
        let at = holders.partition_point(|h| *h < owner);
        holders.insert(at, owner);
        holders
    }

    /// Whether `holder` holds shares of `owner`'s secrets.
    pub fn holds(&self, holder: ClientId, owner: ClientId) -> bool {
        holder == owner || self.graph.adjacent(holder, owner)
    }

    /// Consistency signatures an unmasking request needs in all (see [`consistency_quorum`]).
    pub fn quorum(&self) -> usize {
        consistency_quorum(self.config.clients())
    }

    /// The most clients that may collude with the trainer without it learning more than the
    /// sum: fewer than 2·quorum − n, so every honest client acts on one survivor list, and at
    /// most t − 2, so every survivor keeps an honest live neighbour among its t listed holders.
    pub fn colluders_max(&self) -> usize {
        let n = self.config.clients();
        (2 * self.quorum())
            .saturating_sub(n + 1)
            .min(self.threshold().saturating_sub(2))
    }

    /// Checks a client id is on the roster.
    pub fn check_client(&self, id: ClientId) -> Result<()> {
        if (id as usize) < self.config.clients() {
            Ok(())
        } else {
            Err(Error::UnknownClient(id))
        }
    }
}
