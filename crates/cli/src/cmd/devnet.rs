//! `aifactory devnet`: a local network with no set-up. Lays out keys, a genesis and node
//! configurations in a directory (or resumes the one there), runs each validator as its own
//! `aifactory node` process on loopback TCP, prints their API addresses, and stops them all on
//! Ctrl-C. The faucet key is also put in the home key store as `faucet`, so
//! `aifactory tx transfer --from faucet …` works at once.

use std::path::PathBuf;
use std::time::Duration;

use aifactory_node::devnet::{Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use aifactory_wallet::{KeyFile, Protection};
use anyhow::Context as _;

use crate::context::Context;

/// How long a node gets to answer after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long nodes get to stop after Ctrl-C.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Run a local network.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Node i serves its API on BASE_PORT + i and p2p on BASE_PORT + 100 + i.
    #[arg(long, default_value_t = 8700)]
    base_port: u16,
    /// The devnet's directory [default: HOME/devnet].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Extra funded accounts to create (`account-<i>` keys in DIR/keys), for load tests.
    #[arg(long, default_value_t = 0)]
    accounts: usize,
    /// Full nodes to run besides the validators (they follow and serve the API, and vote
    /// only once elected).
    #[arg(long, default_value_t = 0)]
    full_nodes: usize,
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let dir = args.dir.unwrap_or_else(|| context.home.join("devnet"));
    let spec = DevnetSpec {
        validators: args.validators,
        base_port: args.base_port,
        accounts: args.accounts,
        full_nodes: args.full_nodes,
    };
    let devnet = Devnet::init(&dir, spec)?;
    share_faucet_key(&devnet, context)?;
    let program = std::env::current_exe().context("cannot find the aifactory binary")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(supervise(devnet, &program))
}

/// Copies the devnet's faucet key into the home key store, unless a `faucet` key is there.
fn share_faucet_key(devnet: &Devnet, context: &Context) -> anyhow::Result<()> {
    let keystore = context.keystore();
    if keystore.file("faucet").is_ok() {
        return Ok(());
    }
    let path = devnet.faucet_key_path();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)?;
    let key = file.open(None)?;
    keystore.store("faucet", &key, Protection::InsecurePlaintext)?;
    Ok(())
}

async fn supervise(devnet: Devnet, program: &std::path::Path) -> anyhow::Result<()> {
    let verb = if devnet.created {
        "created"
    } else {
        "resuming"
    };
    eprintln!("devnet {verb} in {}", devnet.dir.display());
    let count = devnet.spec.nodes();
    let mut supervisor = Supervisor::start(devnet, program)?;
    for index in 0..count {
        let status = supervisor
            .wait_ready(index, READY_TIMEOUT)
            .await
            .map_err(anyhow::Error::msg)?;
        let spec = supervisor.devnet().spec;
        let role = if index < spec.validators {
            "validator"
        } else {
            "full node"
        };
        println!(
            "node {index} ({role}): api http://{}  p2p {}  height {}  log {}",
            spec.api(index),
            spec.p2p(index),
            status.finalized_height,
            supervisor.devnet().log_path(index).display()
        );
    }
    println!("devnet running; the faucet key is `faucet`. Ctrl-C stops it.");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                for (index, status) in supervisor.exited() {
                    eprintln!(
                        "node {index} exited ({status}); see {}; restarting it",
                        supervisor.devnet().log_path(index).display()
                    );
                    supervisor.restart(index)?;
                }
            }
        }
    }
    eprintln!("stopping the devnet");
    supervisor.stop_all(STOP_GRACE);
    Ok(())
}
