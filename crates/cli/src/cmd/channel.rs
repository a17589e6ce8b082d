//! `aifactory channel`: open a payment channel to a deployment's gateway, top it up, extend
//! it, close it, sign vouchers on it, and read channels with their proofs checked.

use std::path::PathBuf;

use aifactory_client::views::inference::{AccountChannels, ChannelView};
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{
    Channel, ChannelId, CloseChannel, DeploymentId, ExtendChannel, OpenChannel, TopUpChannel,
    sign_voucher,
};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Amount, Payload};
use anyhow::{Context as _, anyhow};
use clap::Subcommand;

use crate::cmd::keys::{open, resolve_address};
use crate::cmd::lifecycle::{fetch, parse_amount};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// `aifactory channel`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

/// When a channel expires: an exact height, or blocks after the node's height.
#[derive(Debug, clap::Args)]
struct Expiry {
    /// The channel's last height: the gateway may claim until it.
    #[arg(long, value_name = "HEIGHT", conflicts_with = "expires_in")]
    expires_at: Option<u64>,
    /// Blocks from the node's current height to the channel's last height.
    #[arg(long, value_name = "BLOCKS", default_value_t = 10_000)]
    expires_in: u64,
}

impl Expiry {
    /// The expiry height, asking the node for its height if needed.
    fn height(&self, sender: &Sender) -> anyhow::Result<u64> {
        if let Some(height) = self.expires_at {
            return Ok(height);
        }
        let node = Node::connect(&sender.delivery.node)?
            .with_offline_hint("or pass --expires-at HEIGHT to sign without one");
        let status = node.call(node.client.status())?;
        status
            .height
            .checked_add(self.expires_in)
            .ok_or_else(|| anyhow!("--expires-in is too large"))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a channel to a deployment's gateway, locking a deposit.
    Open {
        /// The deployment to pay.
        #[arg(long)]
        deployment: DeploymentId,
        /// Tokens to lock, in AIF.
        #[arg(long, value_parser = parse_amount)]
        deposit: Amount,
        #[command(flatten)]
        expiry: Expiry,
        #[command(flatten)]
        sender: Sender,
    },
    /// Add to a channel's deposit.
    TopUp {
        /// The channel's id.
        channel: ChannelId,
        /// Tokens to add, in AIF.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        #[command(flatten)]
        sender: Sender,
    },
    /// Move a channel's expiry later.
    Extend {
        /// The channel's id.
        channel: ChannelId,
        #[command(flatten)]
        expiry: Expiry,
        #[command(flatten)]
        sender: Sender,
    },
    /// Close a channel: the gateway at any time, the consumer after expiry (the chain also
    /// closes it the block after expiry); what was not claimed goes back to the consumer.
    Close {
        /// The channel's id.
        channel: ChannelId,
        #[command(flatten)]
        sender: Sender,
    },
    /// Sign a voucher: everything you owe on the channel so far, for its gateway to claim.
    Voucher {
        /// The channel's id.
        #[arg(long)]
        channel: ChannelId,
        /// The cumulative amount, in AIF.
        #[arg(long, value_parser = parse_amount)]
        amount: Amount,
        /// The consumer's key.
        #[arg(long)]
        from: String,
        /// The chain the channel is on.
        #[arg(long)]
        chain_id: String,
        /// Read the key's passphrase from this file.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Write the voucher here instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Ask a node for an open channel and its deployment, check the proofs, and print it.
    Show {
        /// The channel's id.
        channel: ChannelId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List an account's open channels, proofs checked.
    List {
        /// The consumer: an address (aif1...) or a local key's name.
        account: String,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Runs `aifactory channel`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Open {
            deployment,
            deposit,
            expiry,
            sender,
        } => {
            let expiry_height = expiry.height(&sender)?;
            let payload = Payload::OpenChannel(OpenChannel {
                deployment,
                deposit,
                expiry_height,
            });
            send_from(context, sender, payload)
        }
        Command::TopUp {
            channel,
            amount,
            sender,
        } => send_from(
            context,
            sender,
            Payload::TopUpChannel(TopUpChannel { channel, amount }),
        ),
        Command::Extend {
            channel,
            expiry,
            sender,
        } => {
            let expiry_height = expiry.height(&sender)?;
            let payload = Payload::ExtendChannel(ExtendChannel {
                channel,
                expiry_height,
            });
            send_from(context, sender, payload)
        }
        Command::Close { channel, sender } => send_from(
            context,
            sender,
            Payload::CloseChannel(CloseChannel { channel }),
        ),
        Command::Voucher {
            channel,
            amount,
            from,
            chain_id,
            passphrase_file,
            out,
        } => {
            let key = open(context, &from, passphrase_file)?;
            let chain_id = ChainId::new(chain_id).map_err(|e| anyhow!("chain id: {e}"))?;
            let voucher = sign_voucher(&key, &chain_id, channel, amount);
            let text = serde_json::to_string_pretty(&voucher)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Show { channel, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.channel(channel), || {
                format!("no open channel {channel}: never opened, or closed")
            })?;
            context.print(&view, describe);
            Ok(())
        }
        Command::List { account, node } => {
            let consumer = resolve_address(context, &account)?;
            let node = Node::connect(&node)?;
            let view = node.call(node.client.account_channels(&consumer))?;
            context.print(&view, describe_list);
            Ok(())
        }
    }
}

fn describe_channel(id: ChannelId, c: &Channel) -> String {
    format!(
        "channel           {id}\n\
         consumer          {}\n\
         gateway           {} (deployment {})\n\
         deposit           {} AIF\n\
         claimed           {} AIF\n\
         expires after     height {}\n\
         opened at         height {}",
        c.consumer,
        c.gateway,
        c.deployment,
        format_aif(c.deposit),
        format_aif(c.claimed),
        c.expiry_height,
        c.opened_height,
    )
}

fn describe(view: &ChannelView) -> String {
    format!(
        "{}\nproof             verified against state root {} at height {}",
        describe_channel(view.channel.key, &view.channel.value),
        view.state_root,
        view.height
    )
}

fn describe_list(view: &AccountChannels) -> String {
    let mut text = format!(
        "{} open channels of {} at height {} (proofs verified)",
        view.channels.len(),
        view.consumer,
        view.height
    );
    for entry in &view.channels {
        let c = &entry.value;
        text.push_str(&format!(
            "\n{:>6}  deployment {}  {} of {} AIF claimed  expires after {}",
            entry.key,
            c.deployment,
            format_aif(c.claimed),
            format_aif(c.deposit),
            c.expiry_height
        ));
    }
    text
}
