//! `aifactory account`: proofs of accounts against a state root.

use std::path::PathBuf;

use aifactory_ledger::State;
use aifactory_types::{AccountProof, Hash};
use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::cmd::genesis;
use crate::cmd::keys::resolve_address;
use crate::context::Context;

/// `aifactory account`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print an account with its proof against the state root of a genesis file.
    Proof {
        /// The account: an address or a key name.
        account: String,
        /// The genesis file whose state to prove against.
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Check an account proof (as printed by `account proof` or the API) against a root.
    VerifyProof {
        /// The proof file (JSON).
        proof: PathBuf,
        /// The state root to check against (default: the one recorded in the file).
        #[arg(long)]
        root: Option<Hash>,
    },
}

/// A proof with the root it was made against.
#[derive(Debug, Serialize, Deserialize)]
struct RootedProof {
    state_root: Hash,
    #[serde(flatten)]
    proof: AccountProof,
}

/// Runs `aifactory account`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Proof { account, genesis } => {
            let address = resolve_address(context, &account)?;
            let state = State::from_genesis(&genesis::load(&genesis)?)?;
            let proof = state
                .account_proof(&address)
                .ok_or_else(|| anyhow!("account {address} does not exist in that state"))?;
            let rooted = RootedProof {
                state_root: state.root(),
                proof,
            };
            println!("{}", serde_json::to_string_pretty(&rooted)?);
        }
        Command::VerifyProof { proof, root } => {
            let text = std::fs::read_to_string(&proof)
                .with_context(|| format!("reading {}", proof.display()))?;
            let rooted: RootedProof = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an account proof", proof.display()))?;
            let root = root.unwrap_or(rooted.state_root);
            if !rooted.proof.verify(&root) {
                bail!(
                    "INVALID: the proof of {} does not lead to state root {root}",
                    rooted.proof.address
                );
            }
            let verdict = serde_json::json!({
                "valid": true,
                "address": rooted.proof.address,
                "state_root": root,
                "account": rooted.proof.account,
            });
            context.print(&verdict, |_| {
                format!(
                    "valid: {} holds balance {} (nonce {}) under state root {root}",
                    rooted.proof.address, rooted.proof.account.balance, rooted.proof.account.nonce
                )
            });
        }
    }
    Ok(())
}
