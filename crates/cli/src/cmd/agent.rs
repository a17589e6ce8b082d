//! `aifactory agent provider|trainer|validator|gateway --config FILE`: run one role's agent until
//! Ctrl-C or SIGTERM. Logs go to standard error, as text or JSON lines (`--log-format json`).

use std::path::PathBuf;

use aifactory_agents::config::{self, ProviderConfig, TrainerConfig, ValidatorConfig};
use aifactory_agents::gateway::{GatewayConfig, GatewayRole};
use aifactory_agents::provider::Provider;
use aifactory_agents::runtime::{self, Agent};
use aifactory_agents::trainer::Trainer;
use aifactory_agents::validator::Validator;
use aifactory_node::config::{LogFormat, LogSection};
use anyhow::Context as _;
use clap::Subcommand;

use crate::context::Context;

/// Arguments of `aifactory agent`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    role: RoleArg,
    /// Log lines as `text` or `json`.
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    /// A `tracing` filter for the logs.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
}

#[derive(Debug, Subcommand)]
enum RoleArg {
    /// Register a dataset, join the jobs your policy accepts, train on your rows each round.
    Provider {
        /// The provider's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Claim jobs, combine each round's updates, publish the model and close the round.
    Trainer {
        /// The trainer's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Recompute each job's rounds, score its model on held-out rows, commit and reveal.
    Validator {
        /// The validator's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Serve deployed models for paid calls with signed receipts, and claim the vouchers.
    Gateway {
        /// The gateway's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub(crate) fn run(args: Args, _context: &Context) -> anyhow::Result<()> {
    let format = match args.log_format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => anyhow::bail!("--log-format is text or json, not {other:?}"),
    };
    aifactory_node::daemon::init_logging(&LogSection {
        format,
        level: args.log_level.clone(),
    });
    // A gateway answers many requests at once: its HTTP, checks and signatures get every core.
    // The other roles wait on the chain and do their heavy work off the async threads.
    let mut builder = match args.role {
        RoleArg::Gateway { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let tokio = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    tokio.block_on(async move {
        match args.role {
            RoleArg::Provider { config } => {
                let config: ProviderConfig = config::load(&config)?;
                let agent = Agent::start(&config.agent)?;
                let role = Provider::new(config.provider, &agent)?;
                runtime::run(agent, role, shutdown()).await;
            }
            RoleArg::Trainer { config } => {
                let config: TrainerConfig = config::load(&config)?;
                let agent = Agent::start(&config.agent)?;
                let role = Trainer::new(config.trainer, &agent)?;
                runtime::run(agent, role, shutdown()).await;
            }
            RoleArg::Validator { config } => {
                let config: ValidatorConfig = config::load(&config)?;
                let agent = Agent::start(&config.agent)?;
                let role = Validator::new(config.validator, &agent)?;
                runtime::run(agent, role, shutdown()).await;
            }
            RoleArg::Gateway { config } => {
                let config: GatewayConfig = config::load(&config)?;
                let agent = Agent::start(&config.agent)?;
                let (role, listening) = GatewayRole::start(&config, &agent).await?;
                // The address on one line of standard output, for whoever started it.
                println!("gateway listening on http://{listening}");
                runtime::run(agent, role, shutdown()).await;
            }
        }
        Ok(())
    })
}
