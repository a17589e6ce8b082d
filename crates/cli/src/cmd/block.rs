//! `aifactory block`: a block as a node holds it, with what became of each transaction.

use aifactory_client::views::{BlockId, BlockView};
use aifactory_types::amount::format_aif;
use aifactory_types::{Payload, Receipt, SignedTransaction, TxOutcome};
use clap::Subcommand;

use crate::cmd::status::{Node, NodeArgs};
use crate::context::Context;

/// `aifactory block`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a block's header and each transaction's sender, kind and outcome.
    Show {
        /// Which block: `latest`, a height (the first block is 1), or a block hash.
        #[arg(default_value = "latest", value_name = "latest|HEIGHT|HASH")]
        id: BlockId,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Runs `aifactory block`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Show { id, node } => {
            let node = Node::connect(&node)?;
            let view = node.call(node.client.block(id))?;
            context.print(&view, describe);
        }
    }
    Ok(())
}

fn describe(view: &BlockView) -> String {
    let header = &view.block.header;
    let mut text = format!(
        "block         {}\n\
         hash          {}\n\
         parent        {}\n\
         timestamp_ms  {}\n\
         proposer      {}\n\
         txs root      {}\n\
         state root    {}\n\
         txs           {}",
        header.height,
        view.hash,
        header.parent,
        header.timestamp_ms,
        header.proposer,
        header.txs_root,
        header.state_root,
        view.block.txs.len(),
    );
    for (index, tx) in view.block.txs.iter().enumerate() {
        let receipt = view.receipts.as_ref().and_then(|r| r.get(index));
        text.push_str(&format!("\n  {}", describe_tx(tx, receipt)));
    }
    text
}

/// One line per transaction: id, sender, what it does, and how it ended.
fn describe_tx(tx: &SignedTransaction, receipt: Option<&Receipt>) -> String {
    let outcome = match receipt.map(|r| &r.outcome) {
        Some(TxOutcome::Success) => "success".to_owned(),
        Some(TxOutcome::Failed(error)) => format!("failed: {error}"),
        None => "outcome unknown (this node no longer keeps the block's receipts)".to_owned(),
    };
    format!(
        "{}  from {}  {}  {outcome}",
        tx.hash(),
        tx.tx.sender,
        kind(&tx.tx.payload)
    )
}

/// What a payload does, in a few words.
fn kind(payload: &Payload) -> String {
    match payload {
        Payload::Transfer(transfer) => {
            format!(
                "transfer {} AIF to {}",
                format_aif(transfer.amount),
                transfer.to
            )
        }
        Payload::Stake(stake) => format!("stake {} AIF", format_aif(stake.amount)),
        Payload::Unstake(unstake) => format!("unstake {} AIF", format_aif(unstake.amount)),
        Payload::Withdraw => "withdraw".to_owned(),
        Payload::JoinValidators => "join validators".to_owned(),
        Payload::LeaveValidators => "leave validators".to_owned(),
        Payload::RegisterDataset(d) => format!("register a dataset of {} rows", d.rows),
        Payload::UpdateDataset(d) => format!("update dataset {}", d.dataset),
        Payload::RetireDataset(d) => format!("retire dataset {}", d.dataset),
        Payload::RegisterModel(_) => "register a model".to_owned(),
        Payload::OpenJob(terms) => format!(
            "open a job on model {} with {} AIF",
            terms.model,
            format_aif(terms.budget)
        ),
        Payload::CancelJob(j) => format!("cancel job {}", j.job),
        Payload::ClaimJob(j) => format!("claim job {}", j.job),
        Payload::JoinJob(j) => format!("join job {} with dataset {}", j.job, j.dataset),
        Payload::PostPhase(p) => {
            format!("post in job {} round {} phase {}", p.job, p.round, p.phase)
        }
        Payload::CloseRound(r) => format!("close job {} round {}", r.job, r.round),
        Payload::CommitScore(c) => format!("commit a score for job {}", c.job),
        Payload::RevealScore(r) => format!("reveal a score for job {}", r.job),
        Payload::Deploy(d) => format!(
            "deploy model {} at {} AIF a call",
            d.model,
            format_aif(d.price_per_call)
        ),
        Payload::Undeploy(u) => format!("undeploy deployment {}", u.deployment),
        Payload::OpenChannel(o) => format!(
            "open a channel to deployment {} with {} AIF",
            o.deployment,
            format_aif(o.deposit)
        ),
        Payload::TopUpChannel(t) => format!(
            "top up channel {} by {} AIF",
            t.channel,
            format_aif(t.amount)
        ),
        Payload::ExtendChannel(e) => {
            format!("extend channel {} to height {}", e.channel, e.expiry_height)
        }
        Payload::ClaimChannels(c) => format!("claim {} channel vouchers", c.claims.len()),
        Payload::CloseChannel(c) => format!("close channel {}", c.channel),
        Payload::Challenge(c) => format!(
            "challenge an answer of deployment {} with a bond of {} AIF",
            c.receipt.receipt.deployment,
            format_aif(c.bond)
        ),
        Payload::VoteChallenge(v) => format!(
            "vote {:?} on challenge {} with {} AIF",
            v.verdict,
            v.challenge,
            format_aif(v.stake)
        ),
    }
}
