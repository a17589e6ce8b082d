//! What the devnet benches share.

use std::time::Duration;

use aifactory_node::devnet::Devnet;
use aifactory_node::supervisor::Supervisor;

/// The environment variable `name` as a number, or `default` when unset or not a number.
pub(crate) fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts every node of `devnet` from the bench's `aifactory` binary and waits until the
/// first `validators` have each finalized a block.
pub(crate) async fn start_devnet(devnet: Devnet, validators: usize) -> Supervisor {
    let program = env!("CARGO_BIN_EXE_aifactory");
    let supervisor = Supervisor::start(devnet, program.as_ref()).expect("nodes start");
    for index in 0..validators {
        supervisor
            .wait_height(index, 1, Duration::from_secs(60))
            .await
            .expect("the devnet makes blocks");
    }
    supervisor
}
