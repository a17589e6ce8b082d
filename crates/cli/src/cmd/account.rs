//! `aifactory account`: an account as a node holds it, and proofs of accounts against a state
//! root. Whatever a node answers about an account is believed only once its Merkle proof leads
//! to the state root the node sent with it.

use std::path::PathBuf;

use aifactory_client::views::AccountView;
use aifactory_ledger::State;
use aifactory_types::amount::format_aif;
use aifactory_types::{AccountProof, Address, Hash};
use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::cmd::genesis;
use crate::cmd::keys::resolve_address;
use crate::cmd::status::{Node, NodeArgs};
use crate::context::Context;

/// `aifactory account`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask a node for an account, check its proof against the node's state root, and print it.
    Show {
        /// The account: an address or a key name.
        account: String,
        #[command(flatten)]
        node: NodeArgs,
    },
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
        Command::Show { account, node } => {
            let address = resolve_address(context, &account)?;
            let view = fetch_verified(&Node::connect(&node)?, &address)?;
            context.print(&view, describe);
        }
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

/// The account at `address` from `node`, after checking that its proof is of that address and
/// leads to the state root the node sent with it.
pub(crate) fn fetch_verified(node: &Node, address: &Address) -> anyhow::Result<AccountView> {
    let view = match node.run(node.client.account(address)) {
        Ok(view) => view,
        Err(error) if error.is_not_found() => {
            bail!("no such account {address} on this chain: it has never received tokens")
        }
        Err(error) => return Err(node.explain(error)),
    };
    verified(view, address)
}

/// `view` if it proves the account at `address` under its own state root, an error otherwise.
fn verified(view: AccountView, address: &Address) -> anyhow::Result<AccountView> {
    if view.proof.address != *address {
        bail!(
            "the node answered for account {} when asked for {address}: not trusting it",
            view.proof.address
        );
    }
    if !view.proof.verify(&view.state_root) {
        bail!(
            "the node's proof of {address} does not lead to the state root it sent ({}): \
             the account data cannot be trusted",
            view.state_root
        );
    }
    Ok(view)
}

fn describe(view: &AccountView) -> String {
    let account = &view.proof.account;
    let mut text = format!(
        "address    {}\n\
         balance    {} AIF\n\
         nonce      {}\n\
         bonded     {} AIF",
        view.proof.address,
        format_aif(account.balance),
        account.nonce,
        format_aif(account.bonded),
    );
    if account.unbonding.is_empty() {
        text.push_str("\nunbonding  none");
    }
    for entry in account.unbonding.iter() {
        text.push_str(&format!(
            "\nunbonding  {} AIF, withdrawable from height {}",
            format_aif(entry.amount),
            entry.release_height
        ));
    }
    text.push_str(&format!(
        "\nproof      verified against state root {} at height {}",
        view.state_root, view.height
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aifactory_ledger::testing::TestChain;

    fn view_of(chain: &TestChain, index: usize) -> AccountView {
        AccountView {
            height: chain.state.height(),
            state_root: chain.state.root(),
            proof: chain.state.account_proof(&chain.address(index)).unwrap(),
        }
    }

    #[test]
    fn an_honest_proof_verifies() {
        let chain = TestChain::new(3, 1_000);
        let view = view_of(&chain, 1);
        assert_eq!(verified(view.clone(), &chain.address(1)).unwrap(), view);
    }

    #[test]
    fn a_tampered_balance_or_root_is_refused() {
        let chain = TestChain::new(3, 1_000);
        let mut richer = view_of(&chain, 1);
        richer.proof.account.balance += 1;
        let error = verified(richer, &chain.address(1)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("does not lead to the state root"),
            "{error}"
        );

        let mut rerooted = view_of(&chain, 1);
        rerooted.state_root = Hash([7; 32]);
        assert!(verified(rerooted, &chain.address(1)).is_err());
    }

    #[test]
    fn a_valid_proof_of_another_account_is_refused() {
        let chain = TestChain::new(3, 1_000);
        let error = verified(view_of(&chain, 2), &chain.address(1)).unwrap_err();
        assert!(error.to_string().contains("when asked for"), "{error}");
    }
}
