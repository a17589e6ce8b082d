//! `aifactory node`: runs a validator from a TOML configuration until SIGINT or SIGTERM.
//! The flags (and their `AIFACTORY_*` environment variables) override the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use aifactory_node::config::{LogFormat, NodeConfig};
use aifactory_node::daemon;
use anyhow::Context as _;

use crate::context::Context;

/// Run a node.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The node's configuration file (TOML; every setting is documented in docs/node.md).
    #[arg(long, env = "AIFACTORY_NODE_CONFIG")]
    config: PathBuf,
    /// Where the node keeps its data (overrides `data_dir`).
    #[arg(long, env = "AIFACTORY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The p2p listen address (overrides `p2p.listen`).
    #[arg(long, env = "AIFACTORY_P2P_LISTEN")]
    p2p_listen: Option<SocketAddr>,
    /// The API listen address (overrides `api.listen`).
    #[arg(long, env = "AIFACTORY_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// `text` or `json` log lines (overrides `log.format`).
    #[arg(long, env = "AIFACTORY_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// A tracing filter such as `info` or `aifactory_node=debug` (overrides `log.level`).
    #[arg(long, env = "AIFACTORY_LOG")]
    log_level: Option<String>,
}

pub(crate) fn run(args: Args, _context: &Context) -> anyhow::Result<()> {
    let mut config = NodeConfig::load(&args.config)?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.p2p_listen {
        config.p2p.listen = listen;
    }
    if let Some(listen) = args.api_listen {
        config.api.listen = listen;
    }
    if let Some(format) = args.log_format {
        config.log.format = format;
    }
    if let Some(level) = args.log_level {
        config.log.level = level;
    }
    config.validate()?;
    daemon::init_logging(&config.log);
    daemon::run(config).context("the node stopped with an error")
}
