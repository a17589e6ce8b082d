//! `aifactory tx`: build, sign, submit and inspect transactions: transfers, staking
//! (`stake`, `unstake`, `withdraw`) and candidacy for the validator set (`join-validators`,
//! `leave-validators`), each sent the same way; `dataset`, `model` and `job` send theirs
//! through [`send_from`] too.
//!
//! Submitting fills in what the command line left out (the chain id from the node's status,
//! the nonce from the sender's account, whose proof is checked first), signs, submits, and then
//! polls the transaction's status until it is in a finalized block, the node drops it, or the
//! timeout passes. `--sign-only` does none of the talking: it signs offline and prints.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aifactory_client::views::{TxStatus, TxView};
use aifactory_types::amount::{format_aif, parse_aif};
use aifactory_types::payload::{Stake, Transfer, Unstake};
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Address, Amount, Event, Hash, Payload, SignedTransaction, Transaction, TxOutcome,
};
use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cmd::account::fetch_verified;
use crate::cmd::keys::{open, resolve_address};
use crate::cmd::status::{Node, NodeArgs};
use crate::context::Context;

/// How often to ask the node whether a submitted transaction is in a finalized block.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How often the spinner redraws.
const SPINNER_TICK: Duration = Duration::from_millis(100);

/// The chain `--sign-only` signs for when `--chain-id` is not given.
const OFFLINE_CHAIN_ID_DEFAULT: &str = "aifactory-devnet";

/// `aifactory tx`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send tokens to another account, and wait for the transfer to be final.
    Transfer {
        /// The sending key's name.
        #[arg(long)]
        from: String,
        /// The recipient: an address or a key name.
        #[arg(long)]
        to: String,
        /// How much, in AIF (up to nine decimals).
        #[arg(long)]
        amount: String,
        /// A memo for the recipient.
        #[arg(long, default_value = "")]
        memo: String,
        #[command(flatten)]
        envelope: Envelope,
        #[command(flatten)]
        delivery: Delivery,
    },
    /// Bond tokens from the balance as stake, and wait for it to be final.
    Stake {
        /// How much, in AIF; the resulting stake must reach the chain's `stake_min`.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Start unbonding stake; `withdraw` returns it after the unbonding period.
    Unstake {
        /// How much, in AIF; what stays bonded must be zero or at least `stake_min`.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Return every matured unbonding entry to the balance.
    Withdraw {
        #[command(flatten)]
        sender: Sender,
    },
    /// Become a candidate for the validator set (needs `validator_stake_min` bonded); the
    /// next epoch's set is elected, by bonded stake, at the end of this epoch.
    JoinValidators {
        #[command(flatten)]
        sender: Sender,
    },
    /// Stop being a candidate; a sitting validator keeps its seat until the epoch ends.
    LeaveValidators {
        #[command(flatten)]
        sender: Sender,
    },
    /// Ask a node where a transaction is: pending, in a block with its receipt, or dropped.
    Show {
        /// The transaction's id (64 hex digits).
        hash: Hash,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Decode a signed transaction given as hex, check its signature, and print it.
    Decode {
        /// The transaction's bytes in hex.
        hex: String,
    },
}

/// Who sends a transaction, and how: flattened into every command that sends one.
#[derive(Debug, clap::Args)]
pub(crate) struct Sender {
    /// The sending key's name.
    #[arg(long)]
    pub(crate) from: String,
    #[command(flatten)]
    envelope: Envelope,
    #[command(flatten)]
    pub(crate) delivery: Delivery,
}

/// Fields every transaction carries.
#[derive(Debug, clap::Args)]
struct Envelope {
    /// The sender's next nonce (default: the node's record of the account; required with
    /// --sign-only).
    #[arg(long)]
    nonce: Option<u64>,
    /// The fee in base units.
    #[arg(long, default_value_t = 1_000)]
    fee: Amount,
    /// The chain the transaction is for (default: the node's; `aifactory-devnet` with
    /// --sign-only).
    #[arg(long)]
    chain_id: Option<String>,
    /// The last height at which it may be included.
    #[arg(long, default_value_t = u64::MAX)]
    expiry_height: u64,
    /// Read the key's passphrase from this file.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// What to do with the signed transaction.
#[derive(Debug, clap::Args)]
pub(crate) struct Delivery {
    /// Only sign and print the encoded transaction, for submitting later or elsewhere.
    #[arg(long)]
    sign_only: bool,
    /// Return as soon as the node accepts the transaction, without waiting for a block.
    #[arg(long, conflicts_with = "sign_only")]
    no_wait: bool,
    /// How long to wait for the transaction to be in a finalized block.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 30)]
    timeout_s: u64,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

#[derive(Serialize)]
struct Printed {
    id: String,
    hex: String,
    transaction: Transaction,
}

fn printed(signed: &SignedTransaction) -> Printed {
    Printed {
        id: signed.hash().to_string(),
        hex: hex::encode(signed.encode()),
        transaction: signed.tx.clone(),
    }
}

/// Runs `aifactory tx`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Transfer {
            from,
            to,
            amount,
            memo,
            envelope,
            delivery,
        } => {
            let payload = Payload::Transfer(Transfer {
                to: resolve_address(context, &to)?,
                amount: parse_aif(&amount)?,
                memo: aifactory_types::BoundedVec::new(memo.into_bytes())
                    .map_err(|e| anyhow!("the memo is too long: {e}"))?,
            });
            send(context, &from, payload, envelope, delivery)
        }
        Command::Stake { amount, sender } => {
            let payload = Payload::Stake(Stake {
                amount: parse_aif(&amount)?,
            });
            send_from(context, sender, payload)
        }
        Command::Unstake { amount, sender } => {
            let payload = Payload::Unstake(Unstake {
                amount: parse_aif(&amount)?,
            });
            send_from(context, sender, payload)
        }
        Command::Withdraw { sender } => send_from(context, sender, Payload::Withdraw),
        Command::JoinValidators { sender } => send_from(context, sender, Payload::JoinValidators),
        Command::LeaveValidators { sender } => send_from(context, sender, Payload::LeaveValidators),
        Command::Show { hash, node } => {
            let node = Node::connect(&node)?;
            let view = node.call(node.client.tx(&hash))?;
            context.print(&view, describe);
            Ok(())
        }
        Command::Decode { hex } => {
            let bytes = hex::decode(hex.trim()).context("the transaction is not valid hex")?;
            let signed = SignedTransaction::decode(&bytes)?;
            let verified = signed
                .clone()
                .verify()
                .context("the signature does not verify")?;
            let out = printed(verified.signed());
            context.print(&out, |p| {
                format!(
                    "id {}\nsignature valid\n{}",
                    p.id,
                    serde_json::to_string_pretty(&p.transaction).expect("serialises")
                )
            });
            Ok(())
        }
    }
}

/// Signs `payload` from `from` and either prints it (`--sign-only`) or submits it.
fn send(
    context: &Context,
    from: &str,
    payload: Payload,
    envelope: Envelope,
    delivery: Delivery,
) -> anyhow::Result<()> {
    if delivery.sign_only {
        sign_offline(context, from, payload, envelope)
    } else {
        submit(context, from, payload, envelope, delivery)
    }
}

/// [`send`] for a command whose only arguments are the [`Sender`]'s.
pub(crate) fn send_from(context: &Context, sender: Sender, payload: Payload) -> anyhow::Result<()> {
    send(
        context,
        &sender.from,
        payload,
        sender.envelope,
        sender.delivery,
    )
}

/// Signs without a node and prints the encoded transaction.
fn sign_offline(
    context: &Context,
    from: &str,
    payload: Payload,
    envelope: Envelope,
) -> anyhow::Result<()> {
    let nonce = envelope.nonce.ok_or_else(|| {
        anyhow!("--sign-only needs --nonce: signing offline cannot ask a node for the next nonce")
    })?;
    let chain_id = envelope
        .chain_id
        .clone()
        .unwrap_or_else(|| OFFLINE_CHAIN_ID_DEFAULT.to_owned());
    let signed = sign(context, from, payload, &envelope, chain_id, nonce)?;
    context.print(&printed(&signed), |p| p.hex.clone());
    Ok(())
}

/// Fills in the chain id and nonce from the node, signs, submits, and (unless `--no-wait`)
/// waits for the transaction to be final and prints its receipt.
fn submit(
    context: &Context,
    from: &str,
    payload: Payload,
    envelope: Envelope,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let sender = context.keystore().show(from)?.address;
    let node = Node::connect(&delivery.node)?
        .with_offline_hint("or pass --sign-only --nonce N to sign without one");
    let chain_id = match &envelope.chain_id {
        Some(chain_id) => chain_id.clone(),
        None => node.call(node.client.status())?.chain_id,
    };
    let nonce = match envelope.nonce {
        Some(nonce) => nonce,
        None => next_nonce(&node, &sender)?,
    };
    let signed = sign(context, from, payload, &envelope, chain_id, nonce)?;
    let accepted = node.call(node.client.submit_tx(&signed))?;
    if delivery.no_wait {
        context.print(&accepted, |a| {
            format!(
                "accepted {}: follow it with `aifactory tx show {}`",
                a.tx_hash, a.tx_hash
            )
        });
        return Ok(());
    }
    let spinner = spinner(context, &accepted.tx_hash);
    let waited = wait_finalized(
        &node,
        &accepted.tx_hash,
        Duration::from_secs(delivery.timeout_s),
        &spinner,
    );
    spinner.finish_and_clear();
    let view = waited?;
    context.print(&view, describe);
    if let TxStatus::Included {
        receipt:
            aifactory_types::Receipt {
                outcome: TxOutcome::Failed(error),
                ..
            },
        ..
    } = &view.status
    {
        bail!(
            "transaction {} is final but its action failed: {error} (the fee was paid and \
             the nonce used)",
            view.tx_hash
        );
    }
    Ok(())
}

/// Signs `payload` as key `from` (the default fee, no expiry), submits it to `node`, waits
/// until it is final and returns its receipt: for commands that act on what a transaction
/// did (the id of what it created, say). A failed action is an error.
pub(crate) fn execute(
    context: &Context,
    node: &Node,
    from: &str,
    passphrase_file: Option<PathBuf>,
    payload: Payload,
) -> anyhow::Result<aifactory_types::Receipt> {
    let envelope = Envelope {
        nonce: None,
        fee: 1_000,
        chain_id: None,
        expiry_height: u64::MAX,
        passphrase_file,
    };
    let sender = context.keystore().show(from)?.address;
    let chain_id = node.call(node.client.status())?.chain_id;
    let nonce = next_nonce(node, &sender)?;
    let signed = sign(context, from, payload, &envelope, chain_id, nonce)?;
    let accepted = node.call(node.client.submit_tx(&signed))?;
    let view = wait_finalized(
        node,
        &accepted.tx_hash,
        Duration::from_secs(30),
        &ProgressBar::hidden(),
    )?;
    match view.status {
        TxStatus::Included { receipt, .. } => match receipt.outcome {
            TxOutcome::Success => Ok(receipt),
            TxOutcome::Failed(error) => bail!("transaction {} failed: {error}", view.tx_hash),
        },
        other => bail!("transaction {} is not final: {other:?}", view.tx_hash),
    }
}

/// The sender's next nonce, from its account as the node proves it.
fn next_nonce(node: &Node, sender: &Address) -> anyhow::Result<u64> {
    let view = fetch_verified(node, sender).context("looking up the sender's next nonce")?;
    Ok(view.proof.account.nonce)
}

fn sign(
    context: &Context,
    from: &str,
    payload: Payload,
    envelope: &Envelope,
    chain_id: String,
    nonce: u64,
) -> anyhow::Result<SignedTransaction> {
    let key = open(context, from, envelope.passphrase_file.clone())?;
    let tx = Transaction {
        chain_id: ChainId::new(chain_id).map_err(|e| anyhow!("chain id: {e}"))?,
        sender: key.address(),
        nonce,
        fee: envelope.fee,
        expiry_height: envelope.expiry_height,
        payload,
    };
    Ok(tx.sign(&key))
}

/// A spinner on standard error while waiting, only for a person watching a terminal.
fn spinner(context: &Context, tx_hash: &Hash) -> ProgressBar {
    if context.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.set_message(format!("waiting for {tx_hash} to be in a finalized block"));
    spinner.enable_steady_tick(SPINNER_TICK);
    spinner
}

/// Polls until the transaction is in a block at or below the finalized height; fails if the
/// node drops it or `timeout` passes first.
fn wait_finalized(
    node: &Node,
    tx_hash: &Hash,
    timeout: Duration,
    spinner: &ProgressBar,
) -> anyhow::Result<TxView> {
    let deadline = Instant::now() + timeout;
    loop {
        let view = node.call(node.client.tx(tx_hash))?;
        match &view.status {
            TxStatus::Pending => {}
            TxStatus::Included { height, .. } => {
                if node.call(node.client.status())?.finalized_height >= *height {
                    return Ok(view);
                }
                spinner.set_message(format!("in block {height}, waiting for it to be finalized"));
            }
            TxStatus::Dropped { error } => {
                bail!("the node dropped transaction {tx_hash} without including it: {error}")
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "transaction {tx_hash} was not in a finalized block after {} s; it may still \
                 be included: check with `aifactory tx show {tx_hash}`",
                timeout.as_secs()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn describe(view: &TxView) -> String {
    let head = format!("transaction  {}\n", view.tx_hash);
    let body = match &view.status {
        TxStatus::Pending => "status       pending (in the mempool, not yet in a block)".to_owned(),
        TxStatus::Dropped { error } => {
            format!("status       dropped without being included: {error}")
        }
        TxStatus::Included {
            height,
            block_hash,
            index,
            receipt,
        } => {
            let outcome = match &receipt.outcome {
                TxOutcome::Success => "success".to_owned(),
                TxOutcome::Failed(error) => format!("failed: {error}"),
            };
            let mut text = format!(
                "status       included\n\
                 block        {height} ({block_hash}), position {index}\n\
                 outcome      {outcome}\n\
                 fee paid     {} AIF",
                format_aif(receipt.fee_paid)
            );
            for event in receipt.events.iter().filter_map(describe_event) {
                text.push_str("\nevent        ");
                text.push_str(&event);
            }
            text
        }
    };
    head + &body
}

/// What an event did, in a few words; `None` for the fee, which has its own line.
fn describe_event(event: &Event) -> Option<String> {
    let text = match event {
        Event::FeePaid { .. } => return None,
        Event::Transferred { to, amount, .. } => {
            format!("transferred {} AIF to {to}", format_aif(*amount))
        }
        Event::Staked { amount, .. } => format!("staked {} AIF", format_aif(*amount)),
        Event::Unbonding {
            amount,
            release_height,
            ..
        } => format!(
            "unbonding {} AIF, withdrawable from height {release_height}",
            format_aif(*amount)
        ),
        Event::Withdrawn { amount, .. } => format!("withdrew {} AIF", format_aif(*amount)),
        Event::CandidateJoined { from_epoch, .. } => format!(
            "now a validator candidate; if elected at the end of this epoch, validates from \
             epoch {from_epoch}"
        ),
        Event::CandidateLeft { from_epoch, .. } => format!(
            "no longer a validator candidate; a sitting validator leaves the set at epoch \
             {from_epoch}"
        ),
        Event::DatasetRegistered { dataset, .. } => format!("registered dataset {dataset}"),
        Event::ModelRegistered { model, .. } => format!("registered model {model}"),
        Event::JobOpened {
            job, recruit_until, ..
        } => format!("opened job {job}, recruiting until height {recruit_until}"),
        // The rest of the lifecycle's events as they serialise: kind and fields.
        other => serde_json::to_string(other).expect("events serialise"),
    };
    Some(text)
}
