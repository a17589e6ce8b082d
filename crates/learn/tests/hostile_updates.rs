//! Updates from clients are untrusted: a NaN or infinite coordinate is refused with a typed
//! error at every entry point, never passed into the model.

use aifactory_learn::LearnError;
use aifactory_learn::federated::Rule;
use aifactory_learn::federated::server_opt::{ServerOptimizer, ServerState};
use aifactory_learn::privacy::clip_noise::{self, DpConfig};
use aifactory_learn::rng::PrivacySecret;

fn hostile() -> Vec<Vec<Vec<f32>>> {
    let honest = |i: usize| vec![0.1 * i as f32, -0.2, 0.3];
    [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
        .iter()
        .map(|bad| {
            let mut updates: Vec<Vec<f32>> = (0..9).map(honest).collect();
            updates[4][1] = *bad;
            updates
        })
        .collect()
}

fn is_non_finite<T>(result: &Result<T, LearnError>) -> bool {
    matches!(result, Err(LearnError::NonFinite { .. }))
}

#[test]
fn non_finite_updates_are_refused_at_every_entry_point() {
    let rules = [
        Rule::Mean,
        Rule::Median,
        Rule::TrimmedMean { beta: 0.2 },
        Rule::Krum { f: 1 },
        Rule::MultiKrum { f: 1, m: 3 },
        Rule::Bulyan { f: 1 },
    ];
    let dp = DpConfig {
        clip_norm: 1.0,
        noise_multiplier: 1.0,
    };
    for updates in hostile() {
        for rule in rules {
            let got = rule.combine(&updates, &[1.0; 9]);
            assert!(is_non_finite(&got), "{}: {got:?}", rule.name());
        }
        let mut noise = PrivacySecret::for_testing([1; 32]).stream("test", 0);
        let got = clip_noise::dp_mean(&updates, 3, &dp, 9.0, &mut noise);
        assert!(is_non_finite(&got), "dp_mean: {got:?}");
        let mut one = updates[4].clone();
        let got = clip_noise::clip(&mut one, 1.0);
        assert!(is_non_finite(&got), "clip: {got:?}");
        let mut x = vec![0.0; 3];
        let mut server = ServerState::new(ServerOptimizer::Sgd { lr: 1.0 }, 3).unwrap();
        let got = server.apply(&mut x, &updates[4]);
        assert!(is_non_finite(&got), "server apply: {got:?}");
        assert_eq!(
            x,
            vec![0.0; 3],
            "a refused update leaves the model as it was"
        );
    }
}
