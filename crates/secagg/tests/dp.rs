//! Differential privacy composed with secure aggregation: the sum stays exact (noise included)
//! and carries at least the promised noise.

use aifactory_secagg::dp::{DpConfig, client_noise_std, sensitivity_steps};
use aifactory_secagg::simulate::{Phase, Protocol, Simulation};
use aifactory_secagg::{ClientSeeds, Round, encode_input};

fn dp() -> DpConfig {
    DpConfig {
        clip_norm_l2: 1.0,
        noise_multiplier: 1.1,
    }
}

#[test]
fn dp_round_sums_exactly_with_noise_and_unit_weights() {
    let mut sim = Simulation::new(10, 200, Protocol::SecAgg);
    sim.sample_count_max = 1;
    sim.dp = Some(dp());
    sim.dropouts[Phase::MaskedInput as usize] = 0.2;
    let outcome = sim.run().unwrap();
    let aggregate = outcome.aggregate.unwrap();
    assert_eq!(aggregate.sums, outcome.expected);
    assert_eq!(aggregate.weight_total(), 8);
    assert!(outcome.transcript.unwrap().verify().is_ok());
}

#[test]
fn dp_requires_unit_weights() {
    let mut sim = Simulation::new(5, 10, Protocol::SecAgg);
    sim.dp = Some(dp());
    sim.sample_count_max = 10;
    assert!(sim.config().is_err());
}

#[test]
fn each_client_adds_the_documented_noise_and_t_of_them_reach_the_target() {
    let mut sim = Simulation::new(10, 20_000, Protocol::SecAgg);
    sim.sample_count_max = 1;
    sim.dp = Some(dp());
    let config = sim.config().unwrap();
    let round = Round::new(config.clone()).unwrap();
    let t = round.threshold();
    let std = client_noise_std(&dp(), config.clip, 16, 20_000, t);
    assert_eq!(config.noise_std(), Some(std));
    // A zero update quantises to 32767 or 32768 (half of 2^16 - 1 levels): the rest is noise.
    let zero = vec![0.0f32; 20_000];
    let mut sum_of_t = vec![0f64; 20_000];
    for client in 0..t {
        let seeds = ClientSeeds::derive(&[client as u8; 32], &config.round);
        let values = encode_input(&round, client as u32, &zero, 1, &seeds).unwrap();
        let noise: Vec<f64> = values[..20_000]
            .iter()
            .map(|v| (*v as i64 - 32767) as f64 - 0.5)
            .collect();
        let var = noise.iter().map(|x| x * x).sum::<f64>() / noise.len() as f64;
        assert!(
            (var.sqrt() / std - 1.0).abs() < 0.03,
            "client std {} vs {std}",
            var.sqrt()
        );
        sum_of_t.iter_mut().zip(&noise).for_each(|(s, n)| *s += n);
    }
    // t clients together: standard deviation z·Δ₂, the Gaussian mechanism the accountant charges.
    let target = 1.1 * sensitivity_steps(&dp(), config.clip, 16, 20_000);
    let var = sum_of_t.iter().map(|x| x * x).sum::<f64>() / sum_of_t.len() as f64;
    assert!(
        (var.sqrt() / target - 1.0).abs() < 0.03,
        "sum std {} vs {target}",
        var.sqrt()
    );
}
