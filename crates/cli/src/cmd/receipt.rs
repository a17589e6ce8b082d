//! `aifactory receipt verify`: check a gateway's signed receipt offline against the chain:
//! its signature, that its signer is the deployment's gateway and its model the deployment's,
//! and that its hashes are those of the input and output kept with it. `aifactory receipt
//! challenge`: dispute such an answer on chain, behind a bond.

use std::path::{Path, PathBuf};

use aifactory_client::views::gateway::PredictedRow;
use aifactory_client::views::inference::DeploymentView;
use aifactory_types::lifecycle::{ChallengeReceipt, SignedInferenceReceipt, output_bytes};
use aifactory_types::{Amount, Hash, Payload};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::cmd::lifecycle::{fetch, parse_amount};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// `aifactory receipt`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check a saved answer (from `aifactory predict`) against a node: the gateway's signature,
    /// the deployment, and the hashes of the input and output.
    Verify {
        /// The answer file `predict` saved.
        file: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Challenge a saved answer: store its input and output in the node's blob store, then
    /// send a `Challenge` with a bond. Staked voters re-run the model; a gateway found wrong
    /// is slashed and you are paid, a right one keeps part of your bond.
    Challenge {
        /// The answer file `predict` saved.
        file: PathBuf,
        /// Tokens to lock behind the challenge, in AIF (at least `challenge_bond_min`).
        #[arg(long, value_parser = parse_amount)]
        bond: Amount,
        #[command(flatten)]
        sender: Sender,
    },
}

/// An answer as `predict` keeps it: the input, the rows, and the receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedAnswer {
    /// The input exactly as sent.
    pub(crate) input: String,
    /// The gateway's rows.
    pub(crate) rows: Vec<PredictedRow>,
    /// The gateway's receipt.
    pub(crate) receipt: SignedInferenceReceipt,
}

/// Checks `receipt` for `input` and `rows` against `deployment` on the chain `chain_id`.
pub(crate) fn check(
    receipt: &SignedInferenceReceipt,
    deployment: &DeploymentView,
    chain_id: &str,
    input: &str,
    rows: &[PredictedRow],
) -> anyhow::Result<()> {
    let r = &receipt.receipt;
    let d = &deployment.deployment.value;
    if receipt.verify().is_err() {
        bail!("the receipt's signature does not verify");
    }
    if receipt.gateway != d.gateway {
        bail!(
            "the receipt is signed by {}, not by deployment {}'s gateway {}",
            receipt.gateway,
            deployment.deployment.key,
            d.gateway
        );
    }
    if r.deployment != deployment.deployment.key
        || r.model != d.model
        || r.model_hash != d.model_hash
    {
        bail!("the receipt names another deployment, model or model blob than the chain's");
    }
    if r.chain_id.as_str() != chain_id {
        bail!(
            "the receipt is for chain {:?}, not {chain_id:?}",
            r.chain_id.as_str()
        );
    }
    if r.input_hash != Hash::from(blake3::hash(input.as_bytes())) {
        bail!("the receipt's input hash is not the input's");
    }
    if r.output_hash != Hash::from(blake3::hash(&answer_bytes(rows))) {
        bail!("the receipt's output hash is not the answer's");
    }
    Ok(())
}

/// The canonical bytes of an answer's rows, as the receipt's `output_hash` covers them.
fn answer_bytes(rows: &[PredictedRow]) -> Vec<u8> {
    let classes = rows.first().map_or(0, |row| row.probabilities.len());
    let probabilities: Vec<f32> = rows
        .iter()
        .flat_map(|row| row.probabilities.clone())
        .collect();
    output_bytes(classes, &probabilities)
}

/// Reads an answer `predict` saved.
fn read_saved(file: &Path) -> anyhow::Result<SavedAnswer> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an answer saved by predict", file.display()))
}

/// Checks a saved answer against what `node` shows of its deployment and chain.
fn check_saved(node: &Node, saved: &SavedAnswer) -> anyhow::Result<()> {
    let id = saved.receipt.receipt.deployment;
    let deployment = fetch(node, node.client.deployment(id), || {
        format!("no deployment {id} on this chain")
    })?;
    let status = node.call(node.client.status())?;
    check(
        &saved.receipt,
        &deployment,
        &status.chain_id,
        &saved.input,
        &saved.rows,
    )?;
    if saved.receipt.receipt.height > status.height {
        bail!(
            "the receipt claims height {}, beyond the chain's {}",
            saved.receipt.receipt.height,
            status.height
        );
    }
    Ok(())
}

/// Runs `aifactory receipt`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Verify { file, node } => {
            let saved = read_saved(&file)?;
            check_saved(&Node::connect(&node)?, &saved)?;
            context.print(&saved.receipt, |r| {
                format!(
                    "receipt valid: deployment {} (model {}) answered on channel {} for {} base units in all, at height {}; signed by {}",
                    r.receipt.deployment,
                    r.receipt.model,
                    r.receipt.channel,
                    r.receipt.amount,
                    r.receipt.height,
                    r.gateway
                )
            });
            Ok(())
        }
        Command::Challenge { file, bond, sender } => {
            let saved = read_saved(&file)?;
            let node = Node::connect(&sender.delivery.node)?;
            // The answer must be what its receipt signs, or the voters could not re-run it.
            check_saved(&node, &saved)
                .with_context(|| format!("{} cannot be challenged", file.display()))?;
            let r = &saved.receipt.receipt;
            let output = answer_bytes(&saved.rows);
            for (what, hash, bytes) in [
                ("input", r.input_hash, saved.input.clone().into_bytes()),
                ("output", r.output_hash, output),
            ] {
                node.call(node.client.put_blob(&hash, bytes.into()))
                    .with_context(|| format!("storing the {what} blob"))?;
            }
            let payload = Payload::Challenge(ChallengeReceipt {
                receipt: saved.receipt,
                bond,
            });
            send_from(context, sender, payload)
        }
    }
}
