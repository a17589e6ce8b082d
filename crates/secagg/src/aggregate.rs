//! The result of a round: the sum modulo 2^k, and how to read it.

use crate::ClientId;
use crate::config::RoundConfig;
use crate::error::{Error, Result};
use crate::quantize::dequantize_mean;
use crate::ring;

/// What the trainer learns: the sum of the survivors' quantised, weighted inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// The clients whose inputs are in the sum (U3), sorted.
    pub survivors: Vec<ClientId>,
    /// Σ s·q per parameter, then Σ s, each reduced modulo 2^k.
    pub sums: Vec<u64>,
    /// k, the modulus width.
    pub modulus_bits: u32,
}

impl Aggregate {
    /// Σ s over the survivors: the total FedAvg weight.
    pub fn weight_total(&self) -> u64 {
        *self
            .sums
            .last()
            .expect("an aggregate has the weight coordinate")
    }

    /// The per-parameter sums as signed integers (negative only through DP noise).
    pub fn centred(&self) -> Vec<i128> {
        let params = self.sums.len() - 1;
        self.sums[..params]
            .iter()
            .map(|v| ring::centred(*v, self.modulus_bits))
            .collect()
    }

    /// The sample-weighted mean update (FedAvg), dequantised; refuses a total weight of zero
    /// or above what the survivors could claim (a client sent a malformed masked weight).
    pub fn mean(&self, config: &RoundConfig) -> Result<Vec<f32>> {
        let max = u64::from(config.sample_count_max) * self.survivors.len() as u64;
        let total = self.weight_total();
        if total == 0 || total > max {
            return Err(Error::WeightTotal { total, max });
        }
        dequantize_mean(
            &self.centred(),
            self.weight_total(),
            config.clip,
            u32::from(config.value_bits),
        )
    }

    /// The sums packed to k bits, as stored in a transcript.
    pub fn packed(&self) -> Vec<u8> {
        ring::pack(&self.sums, self.modulus_bits)
    }
}
