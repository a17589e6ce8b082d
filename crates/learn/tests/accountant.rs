//! The RDP accountant against Google's `dp-accounting` (recorded in
//! `vectors/rdp_vectors.json` by `vectors/rdp_vectors.py`), and the planner's inverse.

use aifactory_learn::privacy::planner::plan_noise_multiplier;
use aifactory_learn::privacy::rdp::SgmQuery;

#[derive(serde::Deserialize)]
struct Vector {
    sample_rate: f64,
    noise_multiplier: f64,
    steps: u64,
    delta: f64,
    epsilon: f64,
}

#[derive(serde::Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/rdp_vectors.json"
    ))
    .unwrap();
    serde_json::from_str::<File>(&text).unwrap().vectors
}

#[test]
fn epsilon_agrees_with_dp_accounting_within_one_percent() {
    let v = vectors();
    assert!(v.len() > 100, "the spread of vectors is missing");
    let mut worst = 0f64;
    for t in &v {
        let q = SgmQuery {
            sample_rate: t.sample_rate,
            noise_multiplier: t.noise_multiplier,
            steps: t.steps,
            delta: t.delta,
        };
        let (eps, _) = q.epsilon().unwrap();
        let rel = (eps - t.epsilon).abs() / t.epsilon.max(1e-9);
        worst = worst.max(rel);
        assert!(
            rel <= 0.01 || (eps - t.epsilon).abs() < 1e-9,
            "{q:?}: ours {eps}, dp-accounting {}",
            t.epsilon
        );
    }
    println!("{} vectors, worst relative difference {worst:.2e}", v.len());
}

#[test]
fn the_planner_inverts_the_accountant() {
    for t in vectors()
        .iter()
        .filter(|t| t.epsilon > 0.05 && t.epsilon < 50.0)
        .step_by(7)
    {
        let sigma = plan_noise_multiplier(t.sample_rate, t.steps, t.delta, t.epsilon).unwrap();
        assert!(
            (sigma - t.noise_multiplier).abs() / t.noise_multiplier < 0.01,
            "planned {sigma} for {}",
            t.noise_multiplier
        );
    }
}
