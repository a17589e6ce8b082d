//! Produce and verify round transcripts from the command line, until `aifactory secagg` lands.
//!
//! ```text
//! cargo run --release -p aifactory-secagg --example transcript -- simulate \
//!     --clients 20 --params 1000 --dropout 0.1 [--phase masked-input] [--plus] [--seed 7] --out round.bin
//! cargo run --release -p aifactory-secagg --example transcript -- verify round.bin
//! ```

use std::process::ExitCode;

use aifactory_secagg::simulate::{Phase, Protocol, Simulation};
use aifactory_secagg::{Transcript, decode_transcript};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value after `--name`, parsed, or `default`.
fn flag<T: std::str::FromStr>(
    args: &[String],
    name: &str,
    default: Option<T>,
) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a valid value")),
        None => default.ok_or(format!("{name} is required")),
    }
}

fn phase(name: &str) -> Result<Phase, String> {
    match name {
        "advertise" => Ok(Phase::Advertise),
        "share-keys" => Ok(Phase::ShareKeys),
        "masked-input" => Ok(Phase::MaskedInput),
        "unmask" => Ok(Phase::Unmask),
        other => Err(format!(
            "unknown phase {other}: advertise, share-keys, masked-input or unmask"
        )),
    }
}

fn simulate(args: &[String]) -> Result<(), String> {
    let clients: usize = flag(args, "--clients", None)?;
    let params: usize = flag(args, "--params", None)?;
    let dropout: f64 = flag(args, "--dropout", Some(0.0))?;
    let at = phase(&flag(args, "--phase", Some("masked-input".to_string()))?)?;
    let out: String = flag(args, "--out", None)?;
    let protocol = if args.iter().any(|a| a == "--plus") {
        Protocol::SecAggPlus
    } else {
        Protocol::SecAgg
    };
    let mut sim = Simulation::new(clients, params, protocol);
    sim.seed = flag(args, "--seed", Some(0))?;
    sim.dropouts[at as usize] = dropout;
    let outcome = sim.run().map_err(|e| e.to_string())?;
    let aggregate = outcome.aggregate.map_err(|e| e.to_string())?;
    let transcript = outcome
        .transcript
        .expect("simulations keep their transcript");
    std::fs::write(&out, transcript.encode()).map_err(|e| format!("cannot write {out}: {e}"))?;
    println!(
        "wrote {out}: {} survivors of {clients}, commitment {}",
        aggregate.survivors.len(),
        hex(&transcript.commitment().digest())
    );
    Ok(())
}

fn verify(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("verify needs a transcript file")?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let transcript: Transcript = decode_transcript(&bytes).map_err(|e| e.to_string())?;
    let aggregate = transcript.verify().map_err(|e| e.to_string())?;
    let commitment = transcript.commitment();
    let mean = aggregate.mean(&transcript.config);
    println!("verified: round {}", hex(&commitment.round.0));
    println!(
        "  survivors {} of {}, total weight {}",
        aggregate.survivors.len(),
        transcript.config.clients(),
        aggregate.weight_total()
    );
    println!("  commitment {}", hex(&commitment.digest()));
    println!("  mean[..4] {:?}", &mean[..mean.len().min(4)]);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("simulate") => simulate(&args[1..]),
        Some("verify") => verify(&args[1..]),
        _ => Err("usage: transcript simulate --clients N --params P [--dropout F] [--phase P] [--plus] --out FILE | transcript verify FILE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
