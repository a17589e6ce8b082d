//! `aifactory secagg`: run a secure-aggregation round in memory to a transcript, and verify a
//! transcript by recomputing its aggregate bit for bit.

use std::path::PathBuf;

use aifactory_secagg::simulate::{Phase, Protocol, Simulation};
use aifactory_secagg::{Transcript, decode_transcript};
use anyhow::{Context as _, anyhow};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use crate::context::Context;

/// `aifactory secagg`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recompute a round's aggregate from its transcript and print the round's commitment.
    Verify {
        /// The transcript file (as written by `secagg simulate` or a trainer).
        transcript: PathBuf,
    },
    /// Run a whole round in memory, with dropouts, and write its transcript.
    Simulate {
        /// Clients on the roster.
        #[arg(long)]
        clients: usize,
        /// Parameters per update.
        #[arg(long)]
        params: usize,
        /// Fraction of the clients that drop, between 0 and 1.
        #[arg(long, default_value_t = 0.0)]
        dropout: f64,
        /// The phase at which they drop.
        #[arg(long, value_enum, default_value_t = DropPhase::MaskedInput)]
        phase: DropPhase,
        /// Use the sparse SecAgg+ graph instead of the complete graph.
        #[arg(long)]
        plus: bool,
        /// Seed of every random choice in the round.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the transcript.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A phase of the protocol, as named on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DropPhase {
    Advertise,
    ShareKeys,
    MaskedInput,
    ConsistencyCheck,
    Unmask,
}

impl From<DropPhase> for Phase {
    fn from(phase: DropPhase) -> Phase {
        match phase {
            DropPhase::Advertise => Phase::Advertise,
            DropPhase::ShareKeys => Phase::ShareKeys,
            DropPhase::MaskedInput => Phase::MaskedInput,
            DropPhase::ConsistencyCheck => Phase::ConsistencyCheck,
            DropPhase::Unmask => Phase::Unmask,
        }
    }
}

/// What both subcommands print about a verified round.
#[derive(Debug, Serialize)]
struct Report {
    round: String,
    clients: usize,
    survivors: usize,
    weight_total: u64,
    commitment: String,
    mean_head: Vec<f32>,
}

fn report(transcript: &Transcript) -> anyhow::Result<Report> {
    let aggregate = transcript.verify()?;
    let commitment = transcript.commitment();
    let mean = aggregate.mean(&transcript.config)?;
    Ok(Report {
        round: hex::encode(commitment.round.0),
        clients: transcript.config.clients(),
        survivors: aggregate.survivors.len(),
        weight_total: aggregate.weight_total(),
        commitment: hex::encode(commitment.digest()),
        mean_head: mean.into_iter().take(4).collect(),
    })
}

fn human(report: &Report) -> String {
    format!(
        "round {}\n  survivors {} of {}, total weight {}\n  commitment {}\n  mean[..4] {:?}",
        report.round,
        report.survivors,
        report.clients,
        report.weight_total,
        report.commitment,
        report.mean_head
    )
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Verify { transcript } => {
            let bytes = std::fs::read(&transcript)
                .with_context(|| format!("reading {}", transcript.display()))?;
            let transcript = decode_transcript(&bytes)?;
            let report = report(&transcript).context("the transcript does not verify")?;
            context.print(&report, |r| format!("verified: {}", human(r)));
        }
        Command::Simulate {
            clients,
            params,
            dropout,
            phase,
            plus,
            seed,
            out,
        } => {
            if !(0.0..=1.0).contains(&dropout) {
                return Err(anyhow!("--dropout must be between 0 and 1, got {dropout}"));
            }
            let protocol = if plus {
                Protocol::SecAggPlus
            } else {
                Protocol::SecAgg
            };
            let mut simulation = Simulation::new(clients, params, protocol);
            simulation.seed = seed;
            simulation.dropouts[Phase::from(phase) as usize] = dropout;
            let outcome = simulation.run()?;
            outcome.aggregate.context("the round aborted")?;
            let transcript = outcome
                .transcript
                .expect("a finished simulation keeps its transcript");
            std::fs::write(&out, transcript.encode())
                .with_context(|| format!("writing {}", out.display()))?;
            let report = report(&transcript)?;
            context.print(&report, |r| {
                format!("wrote {}: {}", out.display(), human(r))
            });
        }
    }
    Ok(())
}
