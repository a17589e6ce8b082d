//! `aifactory privacy`: the RDP accountant for the sampled Gaussian mechanism, and the
//! planner that finds the noise a job needs for a target ε.

use aifactory_learn::privacy::planner::plan_noise_multiplier;
use aifactory_learn::privacy::rdp::SgmQuery;
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;

/// `aifactory privacy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print ε after T steps (or rounds) of the sampled Gaussian mechanism.
    Epsilon {
        /// Sampling rate q (batch / rows, or clients per round / clients).
        #[arg(long)]
        sample_rate: f64,
        /// Noise multiplier σ.
        #[arg(long)]
        noise_multiplier: f64,
        /// Steps T.
        #[arg(long)]
        steps: u64,
        /// δ.
        #[arg(long, default_value_t = 1e-5)]
        delta: f64,
    },
    /// Find the smallest noise multiplier that keeps ε at or below a target.
    Plan {
        /// The target ε.
        #[arg(long)]
        target_epsilon: f64,
        /// Sampling rate q.
        #[arg(long)]
        sample_rate: f64,
        /// Steps T.
        #[arg(long)]
        steps: u64,
        /// δ.
        #[arg(long, default_value_t = 1e-5)]
        delta: f64,
    },
}

#[derive(Debug, Serialize)]
struct Answer {
    sample_rate: f64,
    noise_multiplier: f64,
    steps: u64,
    delta: f64,
    epsilon: f64,
    order: f64,
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let (sample_rate, noise_multiplier, steps, delta) = match args.command {
        Command::Epsilon {
            sample_rate,
            noise_multiplier,
            steps,
            delta,
        } => (sample_rate, noise_multiplier, steps, delta),
        Command::Plan {
            target_epsilon,
            sample_rate,
            steps,
            delta,
        } => (
            sample_rate,
            plan_noise_multiplier(sample_rate, steps, delta, target_epsilon)?,
            steps,
            delta,
        ),
    };
    let (epsilon, order) = SgmQuery {
        sample_rate,
        noise_multiplier,
        steps,
        delta,
    }
    .epsilon()?;
    let answer = Answer {
        sample_rate,
        noise_multiplier,
        steps,
        delta,
        epsilon,
        order,
    };
    context.print(&answer, |a| {
        format!(
            "epsilon {:.4} at delta {:e} (q {}, sigma {:.4}, {} steps; best RDP order {})",
            a.epsilon, a.delta, a.sample_rate, a.noise_multiplier, a.steps, a.order
        )
    });
    Ok(())
}
