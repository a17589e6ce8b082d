//! `aifactory predict`: pay a gateway for an answer through a payment channel, and check the
//! receipt that comes with it.
//!
//! The channel is reused while it has room (its id and the last voucher signed are kept in
//! `$AIFACTORY_HOME/channels/`), or opened. Each call's voucher is written there durably before
//! it is sent, so a crash never makes the next call sign less than what a gateway may hold;
//! a gateway that holds more (a lost local file) says so in its 402, and the call is signed
//! again from there, once.

use std::path::{Path, PathBuf};

use aifactory_client::ClientError;
use aifactory_client::views::gateway::{PredictRequest, PredictResponse};
use aifactory_client::views::lifecycle::PageRequest;
use aifactory_store::durable::{Access, write_durably};
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{ChannelId, DeploymentId, DeploymentStatus, ModelId, OpenChannel};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Address, Amount, Event, Payload};
use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::cmd::keys::open;
use crate::cmd::lifecycle::{fetch, parse_amount};
use crate::cmd::receipt::{SavedAnswer, check};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::execute;
use crate::context::Context;

/// Blocks a reused channel must still have before expiry: the gateway refuses vouchers
/// closer to it than it needs to claim.
const EXPIRY_MARGIN_BLOCKS: u64 = 100;

/// `aifactory predict`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model to ask.
    #[arg(long)]
    model: ModelId,
    /// CSV rows with a header naming the model's columns.
    #[arg(long)]
    input: PathBuf,
    /// The paying key.
    #[arg(long)]
    from: String,
    /// A deployment of the model (default: the cheapest active one).
    #[arg(long)]
    deployment: Option<DeploymentId>,
    /// A new channel's deposit, in AIF (default: 100 calls' worth).
    #[arg(long, value_parser = parse_amount)]
    deposit: Option<Amount>,
    /// A new channel's life, in blocks.
    #[arg(long, value_name = "BLOCKS", default_value_t = 10_000)]
    expires_in: u64,
    /// Call this gateway URL instead of the deployment's.
    #[arg(long)]
    gateway: Option<String>,
    /// Read the key's passphrase from this file.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    node: NodeArgs,
}

/// The channel a consumer pays a deployment through, and its last voucher.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct ChannelState {
    channel: ChannelId,
    amount: Amount,
}

fn state_path(context: &Context, deployment: DeploymentId, consumer: &Address) -> PathBuf {
    context
        .home
        .join("channels")
        .join(format!("{deployment}-{consumer}.json"))
}

fn save_state(path: &Path, state: ChannelState) -> anyhow::Result<()> {
    let dir = path.parent().expect("under the home directory");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_vec(&state).expect("serialises");
    write_durably(path, &json, Access::Default)
        .with_context(|| format!("writing {}", path.display()))
}

/// What `predict` prints.
#[derive(Debug, Serialize)]
struct Printed {
    deployment: DeploymentId,
    channel: ChannelId,
    paid: Amount,
    saved: PathBuf,
    answer: PredictResponse,
}

/// Runs `aifactory predict`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let node = Node::connect(&args.node)?;
    let input = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let id = match args.deployment {
        Some(id) => id,
        None => cheapest(&node, args.model)?,
    };
    let deployment = fetch(&node, node.client.deployment(id), || {
        format!("no deployment {id} on this chain")
    })?;
    let d = deployment.deployment.value.clone();
    if d.model != args.model {
        bail!(
            "deployment {id} serves model {}, not {}",
            d.model,
            args.model
        );
    }
    let consumer = context.keystore().show(&args.from)?.address;
    let status = node.call(node.client.status())?;
    let path = state_path(context, id, &consumer);
    let mut state = reusable(&node, &path, consumer, d.price_per_call, status.height)?;
    if state.is_none() {
        let deposit = args.deposit.unwrap_or(d.price_per_call.saturating_mul(100));
        let open = OpenChannel {
            deployment: id,
            deposit,
            expiry_height: status.height.saturating_add(args.expires_in),
        };
        let receipt = execute(
            context,
            &node,
            &args.from,
            args.passphrase_file.clone(),
            Payload::OpenChannel(open),
        )?;
        let channel = receipt
            .events
            .iter()
            .find_map(|e| match e {
                Event::ChannelOpened { channel, .. } => Some(*channel),
                _ => None,
            })
            .ok_or_else(|| anyhow!("the channel opened but its receipt names no channel"))?;
        state = Some(ChannelState { channel, amount: 0 });
    }
    let mut state = state.expect("reused or opened");
    let key = open(context, &args.from, args.passphrase_file.clone())?;
    let chain_id = ChainId::new(status.chain_id.clone()).map_err(|e| anyhow!("chain id: {e}"))?;
    let gateway = aifactory_client::Client::new(args.gateway.as_deref().unwrap_or(d.url.as_str()))?;
    let mut amount = state.amount.saturating_add(d.price_per_call);
    let mut resynced = false;
    let answer = loop {
        state.amount = amount;
        save_state(&path, state)?;
        let request = PredictRequest::paid(&key, &chain_id, state.channel, amount, input.clone());
        match node.run(gateway.predict(args.model, &request)) {
            Ok(answer) => break answer,
            Err(error) if !resynced && expected_amount(&error).is_some_and(|e| e > amount) => {
                amount = expected_amount(&error).expect("checked");
                resynced = true;
            }
            Err(error) => return Err(anyhow!("the gateway refused the call: {error}")),
        }
    };
    check(
        &answer.receipt,
        &deployment,
        &status.chain_id,
        &input,
        &answer.rows,
    )
    .context("the gateway's receipt does not hold")?;
    if answer.receipt.receipt.amount != amount || answer.receipt.receipt.channel != state.channel {
        bail!("the receipt names another voucher than the one sent");
    }
    let receipts = context.home.join("receipts");
    std::fs::create_dir_all(&receipts)?;
    let saved = receipts.join(format!("{}-{}.json", state.channel, amount));
    let kept = SavedAnswer {
        input,
        rows: answer.rows.clone(),
        receipt: answer.receipt.clone(),
    };
    write_durably(&saved, &serde_json::to_vec_pretty(&kept)?, Access::Default)?;
    let printed = Printed {
        deployment: id,
        channel: state.channel,
        paid: amount,
        saved,
        answer,
    };
    context.print(&printed, describe);
    Ok(())
}

/// The amount a gateway's 402 says would pay.
fn expected_amount(error: &ClientError) -> Option<Amount> {
    match error {
        ClientError::Api {
            status: 402,
            details: Some(details),
            ..
        } => details["expected_amount"].as_u64(),
        _ => None,
    }
}

/// The cheapest active deployment of `model`.
fn cheapest(node: &Node, model: ModelId) -> anyhow::Result<DeploymentId> {
    let page = node.call(node.client.model_deployments(model, PageRequest::default()))?;
    page.items
        .iter()
        .filter(|item| item.deployment.status == DeploymentStatus::Active)
        .min_by_key(|item| (item.deployment.price_per_call, item.id))
        .map(|item| item.id)
        .ok_or_else(|| anyhow!("no gateway serves model {model}"))
}

/// The kept channel if it is still open, the consumer's, with room for a call and time left.
fn reusable(
    node: &Node,
    path: &Path,
    consumer: Address,
    price: Amount,
    height: u64,
) -> anyhow::Result<Option<ChannelState>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(mut state) = serde_json::from_str::<ChannelState>(&text) else {
        return Ok(None);
    };
    let view = match node.run(node.client.channel(state.channel)) {
        Ok(view) => view,
        Err(error) if error.is_not_found() => return Ok(None),
        Err(error) => return Err(node.explain(error)),
    };
    let channel = view.channel.value;
    state.amount = state.amount.max(channel.claimed);
    let room = channel.deposit >= state.amount.saturating_add(price);
    let time = channel.expiry_height > height.saturating_add(EXPIRY_MARGIN_BLOCKS);
    Ok((channel.consumer == consumer && room && time).then_some(state))
}

fn describe(p: &Printed) -> String {
    let mut text = String::new();
    for (i, row) in p.answer.rows.iter().enumerate() {
        let probabilities: Vec<String> = row
            .probabilities
            .iter()
            .map(|q| format!("{q:.4}"))
            .collect();
        text.push_str(&format!(
            "row {i}: class {}  ({})\n",
            row.class,
            probabilities.join(", ")
        ));
    }
    let r = &p.answer.receipt;
    text.push_str(&format!(
        "paid {} AIF in all on channel {} (deployment {})\n\
         receipt verified: signed by {} at height {}; saved to {}",
        format_aif(p.paid),
        p.channel,
        p.deployment,
        r.gateway,
        r.receipt.height,
        p.saved.display()
    ));
    text
}
