//! Secure aggregation benchmark: client time, trainer time and bytes per client for
//! SecAgg and SecAgg+ beside plain summing, and SecAgg+ at a larger roster.
//!
//! Run by `scripts/bench-secagg` (release build); prints a human table and, last, one JSON
//! line per case that the script reads to compare with Flower. Arguments:
//! `bench [CLIENTS] [PARAMS] [DROPOUT] [LARGE_CLIENTS]` (defaults 100 100000 0.1 1000).

use std::time::{Duration, Instant};

use aifactory_secagg::simulate::{Outcome, Phase, Protocol, Simulation};

fn arg<T: std::str::FromStr>(index: usize, default: T) -> T {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs one simulated round with `dropout` of the roster dropping after sharing keys (the
/// case that makes the trainer rebuild pairwise masks) and prints its costs.
fn run(label: &str, clients: usize, params: usize, dropout: f64, protocol: Protocol) -> Outcome {
    let mut sim = Simulation::new(clients, params, protocol);
    sim.dropouts[Phase::MaskedInput as usize] = dropout;
    sim.keep_transcript = false;
    let start = Instant::now();
    let outcome = sim.run().expect("valid configuration");
    let wall = start.elapsed();
    let aggregate = outcome.aggregate.as_ref().expect("round completes");
    assert_eq!(
        aggregate.sums, outcome.expected,
        "aggregate must equal the plain sum"
    );
    let c = &outcome.cost;
    println!(
        "{label:<10} n={clients:<5} params={params:<7} degree={:<4} k={} bits  client {:>8.1} ms  trainer {:>9.1} ms  sent/client {:>9} B  received/client {:>9} B  (simulation wall {:.1} s)",
        c.degree,
        aggregate.modulus_bits,
        ms(c.client_time),
        ms(c.trainer_time),
        c.client_bytes_sent,
        c.client_bytes_received,
        wall.as_secs_f64(),
    );
    println!(
        "JSON {{\"case\":\"{label}\",\"clients\":{clients},\"params\":{params},\"degree\":{},\"client_ms\":{:.3},\"trainer_ms\":{:.3},\"client_bytes_sent\":{}}}",
        c.degree,
        ms(c.client_time),
        ms(c.trainer_time),
        c.client_bytes_sent
    );
    outcome
}

/// Plain summing of the same number of f32 vectors: the cost floor with no privacy.
fn plain(clients: usize, params: usize) {
    let vectors: Vec<Vec<f32>> = (0..clients)
        .map(|i| {
            (0..params)
                .map(|j| ((i * 31 + j) % 97) as f32 * 0.01)
                .collect()
        })
        .collect();
    let start = Instant::now();
    let mut sum = vec![0f32; params];
    for v in &vectors {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    let trainer = start.elapsed();
    std::hint::black_box(&sum);
    let bytes = params * 4;
    println!(
        "{:<10} n={clients:<5} params={params:<7} client      0.0 ms  trainer {:>9.1} ms  sent/client {bytes:>9} B",
        "plain",
        ms(trainer)
    );
    println!(
        "JSON {{\"case\":\"plain\",\"clients\":{clients},\"params\":{params},\"degree\":0,\"client_ms\":0,\"trainer_ms\":{:.3},\"client_bytes_sent\":{bytes}}}",
        ms(trainer)
    );
}

fn main() {
    let clients: usize = arg(1, 100);
    let params: usize = arg(2, 100_000);
    let dropout: f64 = arg(3, 0.1);
    let large: usize = arg(4, 1000);
    println!(
        "# {clients} clients x {params} params, {:.0}% dropping after sharing keys; rayon threads {}",
        dropout * 100.0,
        rayon::current_num_threads()
    );
    plain(clients, params);
    run("secagg", clients, params, dropout, Protocol::SecAgg);
    let small = run("secagg+", clients, params, dropout, Protocol::SecAggPlus);
    if large > 0 {
        let big = run("secagg+", large, params, dropout, Protocol::SecAggPlus);
        let (a, b) = (&small.cost, &big.cost);
        println!(
            "# SecAgg+ growth {clients} -> {large} clients: degree x{:.2}, client time x{:.2}, bytes sent x{:.2} (log2 n grows x{:.2}, n grows x{:.0})",
            b.degree as f64 / a.degree as f64,
            b.client_time.as_secs_f64() / a.client_time.as_secs_f64(),
            b.client_bytes_sent as f64 / a.client_bytes_sent as f64,
            (large as f64).log2() / (clients as f64).log2(),
            large as f64 / clients as f64,
        );
    }
}
