//! Whole rounds through the in-memory driver: the aggregate is exactly the plain sum of the
//! quantised inputs, whoever drops and whenever, or the round aborts with nothing revealed.

use aifactory_secagg::simulate::{Outcome, Phase, Protocol, Simulation};
use aifactory_secagg::{Error, Graph, decode_transcript};
use proptest::prelude::*;

/// Runs `sim` and checks the one thing every successful round must satisfy.
fn check(sim: &Simulation) -> Outcome {
    let outcome = sim.run().expect("valid configuration");
    let aggregate = outcome
        .aggregate
        .as_ref()
        .unwrap_or_else(|e| panic!("{sim:?} aborted: {e}"));
    assert_eq!(
        aggregate.sums, outcome.expected,
        "{sim:?}: aggregate differs from the plain sum"
    );
    assert!(
        outcome.refusals.is_empty(),
        "{sim:?}: refusals {:?}",
        outcome.refusals
    );
    outcome
}

/// For `n` clients and each rate, drops that fraction at each phase in turn; the aggregate
/// must equal the plain sum of the survivors' quantised inputs, and the transcript verify.
fn check_size(n: usize, rates: &[f64]) {
    let cases = rates.iter().flat_map(|r| {
        let phases: &[Phase] = if *r == 0.0 {
            &[Phase::Advertise]
        } else {
            &Phase::ALL
        };
        phases.iter().map(move |p| (*r, *p))
    });
    for (rate, phase) in cases {
        let mut sim = Simulation::new(n, 12, Protocol::SecAgg);
        sim.dropouts[phase as usize] = rate;
        sim.seed = n as u64 * 31 + phase as u64;
        sim.keep_transcript = n <= 10;
        let outcome = check(&sim);
        let survivors = outcome.aggregate.as_ref().unwrap().survivors.len();
        let dropped_before_input: usize = outcome.dropped[..3].iter().map(Vec::len).sum();
        assert_eq!(
            survivors,
            n - dropped_before_input,
            "n={n} rate={rate} phase={phase:?}"
        );
        let expected_drops = (rate * n as f64).round() as usize;
        assert_eq!(outcome.dropped[phase as usize].len(), expected_drops);
        if let Some(transcript) = &outcome.transcript {
            assert_eq!(transcript.verify().as_ref(), outcome.aggregate.as_ref());
        }
    }
}

#[test]
fn aggregate_equals_plain_sum_n3_every_rate_and_phase() {
    check_size(3, &[0.0, 0.1, 0.3]);
}

#[test]
fn aggregate_equals_plain_sum_n10_every_rate_and_phase() {
    check_size(10, &[0.0, 0.1, 0.3]);
}

#[test]
fn aggregate_equals_plain_sum_n100_no_and_10pc_drops_every_phase() {
    check_size(100, &[0.0, 0.1]);
}

#[test]
fn aggregate_equals_plain_sum_n100_30pc_drops_every_phase() {
    check_size(100, &[0.3]);
}

#[test]
fn secagg_plus_equals_plain_sum_with_dropouts_at_each_phase() {
    for phase in Phase::ALL {
        let mut sim = Simulation::new(100, 8, Protocol::SecAggPlus);
        sim.dropouts[phase as usize] = 0.1;
        sim.seed = 7 + phase as u64;
        let outcome = check(&sim);
        assert_eq!(outcome.cost.degree, 20);
        assert!(outcome.transcript.unwrap().verify().is_ok());
    }
}

#[test]
fn fedavg_mean_matches_the_weighted_float_mean() {
    let mut sim = Simulation::new(6, 50, Protocol::SecAgg);
    sim.clip = 1.0; // updates are drawn in [-1.2, 1.2]: some coordinates clip.
    sim.dropouts[Phase::MaskedInput as usize] = 0.2;
    let outcome = check(&sim);
    let aggregate = outcome.aggregate.unwrap();
    let inputs: Vec<(Vec<f32>, u32)> = aggregate.survivors.iter().map(|c| sim.input(*c)).collect();
    let weight: u64 = inputs.iter().map(|(_, s)| u64::from(*s)).sum();
    assert_eq!(aggregate.weight_total(), weight);
    let mean = aggregate.mean(&outcome.config).unwrap();
    // Stochastic rounding moves each coordinate by less than one step, so the weighted mean
    // of the rounded values is within one step of the weighted mean of the clipped floats.
    let step = aifactory_secagg::quantize::quantum(1.0, 16);
    for (j, got) in mean.iter().enumerate() {
        let exact: f64 = inputs
            .iter()
            .map(|(u, s)| f64::from(u[j].clamp(-1.0, 1.0)) * f64::from(*s))
            .sum::<f64>()
            / weight as f64;
        assert!(
            (f64::from(*got) - exact).abs() < step,
            "coordinate {j}: {got} vs {exact}"
        );
    }
}

#[test]
fn too_few_survivors_abort_without_a_sum() {
    let mut sim = Simulation::new(10, 4, Protocol::SecAgg);
    sim.dropouts[Phase::MaskedInput as usize] = 0.5; // 5 left, t = 7
    let outcome = sim.run().unwrap();
    assert_eq!(
        outcome.aggregate,
        Err(Error::TooFewSurvivors {
            phase: "masked-input",
            have: 5,
            need: 7
        })
    );
    assert!(outcome.transcript.is_none());

    let mut sim = Simulation::new(10, 4, Protocol::SecAgg);
    sim.dropouts[Phase::Unmask as usize] = 0.5; // 10 inputs, only 5 answer
    let outcome = sim.run().unwrap();
    assert!(
        matches!(
            outcome.aggregate,
            Err(Error::NotEnoughShares {
                have: 5,
                need: 7,
                ..
            })
        ),
        "{:?}",
        outcome.aggregate
    );
}

#[test]
fn transcript_round_trips_through_bytes_and_verifies() {
    let mut sim = Simulation::new(8, 30, Protocol::SecAgg);
    sim.dropouts = [0.0, 0.125, 0.125, 0.0, 0.0];
    let outcome = check(&sim);
    let transcript = outcome.transcript.unwrap();
    let decoded = decode_transcript(&transcript.encode()).unwrap();
    assert_eq!(decoded, transcript);
    assert_eq!(
        decoded.verify_against(&transcript.commitment()),
        outcome.aggregate
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Over random n, t and drop patterns: with the complete graph the round succeeds exactly
    /// when at least t clients remain at every phase, and then equals the plain sum.
    #[test]
    fn any_drop_pattern_gives_the_exact_sum_or_a_clean_abort(
        n in 3usize..40,
        extra_threshold in 0usize..4,
        dropouts in proptest::array::uniform5(0.0f64..0.35),
        seed in any::<u64>(),
        plus in any::<bool>(),
    ) {
        let protocol = if plus && n >= 12 { Protocol::SecAggPlus } else { Protocol::SecAgg };
        let mut sim = Simulation::new(n, 6, protocol);
        sim.seed = seed;
        sim.dropouts = dropouts;
        let config = sim.config().unwrap();
        let holders = Graph::new(&config.graph, n).unwrap().degree() + 1;
        sim.threshold = Some((config.threshold as usize + extra_threshold).min(holders));
        let t = sim.threshold.unwrap();
        let outcome = sim.run().unwrap();
        let mut left = n;
        let mut enough = true;
        for dropped in &outcome.dropped {
            left -= dropped.len();
            enough &= left >= t;
        }
        match &outcome.aggregate {
            Ok(aggregate) => prop_assert_eq!(&aggregate.sums, &outcome.expected),
            Err(e) => prop_assert!(
                matches!(e, Error::TooFewSurvivors { .. } | Error::NotEnoughShares { .. }),
                "unexpected error {}", e
            ),
        }
        if protocol == Protocol::SecAgg {
            prop_assert_eq!(outcome.aggregate.is_ok(), enough, "t={} dropped={:?}", t, outcome.dropped);
        }
    }
}

#[test]
fn tampered_transcripts_are_refused() {
    let mut sim = Simulation::new(8, 30, Protocol::SecAgg);
    sim.dropouts = [0.0, 0.0, 0.125, 0.0, 0.0];
    let transcript = check(&sim).transcript.unwrap();
    let commitment = transcript.commitment();

    let mut result = transcript.clone();
    result.result[3] ^= 1;
    assert!(
        matches!(result.verify(), Err(Error::Transcript(reason)) if reason.contains("recorded result"))
    );

    let mut fewer_inputs = transcript.clone();
    fewer_inputs.masked_inputs.pop();
    assert!(
        matches!(fewer_inputs.verify(), Err(Error::Transcript(reason)) if reason.contains("survivor list"))
    );

    // Dropping one of 7 responses still leaves t = 5 shares per secret, so the sum
    // recomputes — but the transcript no longer opens the recorded commitment.
    let mut fewer_responses = transcript.clone();
    fewer_responses.responses.pop();
    assert!(fewer_responses.verify().is_ok());
    assert!(matches!(
        fewer_responses.verify_against(&commitment),
        Err(Error::Transcript(_))
    ));

    // Every signature covers the configuration's digest: a transcript re-labelled with
    // another quantiser (which would change how the same sums decode) does not verify.
    let mut reconfigured = transcript.clone();
    reconfigured.config.clip *= 2.0;
    assert!(matches!(
        reconfigured.verify(),
        Err(Error::BadSignature {
            kind: "advertise",
            sender: 0
        })
    ));

    let mut forged = transcript.clone();
    forged.masked_inputs[0].body.masked[0] ^= 1;
    assert!(matches!(
        forged.verify(),
        Err(Error::BadSignature {
            kind: "masked-input",
            ..
        })
    ));

    let mut other = Simulation::new(8, 30, Protocol::SecAgg);
    other.seed = 99;
    let replayed_from = check(&other).transcript.unwrap();
    let mut replayed = transcript.clone();
    replayed.masked_inputs[0] = replayed_from.masked_inputs[0].clone();
    assert_eq!(
        replayed.verify(),
        Err(Error::WrongRound {
            kind: "masked-input"
        })
    );
}
