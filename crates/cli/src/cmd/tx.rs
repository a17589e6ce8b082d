//! `aifactory tx`: build, sign and inspect transactions.

use std::path::PathBuf;

use aifactory_types::amount::parse_aif;
use aifactory_types::payload::Transfer;
use aifactory_types::transaction::ChainId;
use aifactory_types::{Amount, Payload, SignedTransaction, Transaction};
use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use serde::Serialize;

use crate::cmd::keys::{open, resolve_address};
use crate::context::Context;

/// `aifactory tx`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send tokens to another account.
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
    },
    /// Decode a signed transaction given as hex, check its signature, and print it.
    Decode {
        /// The transaction's bytes in hex.
        hex: String,
    },
}

/// Fields every transaction carries.
#[derive(Debug, clap::Args)]
struct Envelope {
    /// The sender's next nonce.
    #[arg(long)]
    nonce: u64,
    /// The fee in base units.
    #[arg(long, default_value_t = 1_000)]
    fee: Amount,
    /// The chain the transaction is for.
    #[arg(long, default_value = "aifactory-devnet")]
    chain_id: String,
    /// The last height at which it may be included.
    #[arg(long, default_value_t = u64::MAX)]
    expiry_height: u64,
    /// Only sign and print the encoded transaction, for submitting later or elsewhere.
    #[arg(long)]
    sign_only: bool,
    /// Read the key's passphrase from this file.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
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
        } => {
            let payload = Payload::Transfer(Transfer {
                to: resolve_address(context, &to)?,
                amount: parse_aif(&amount)?,
                memo: aifactory_types::BoundedVec::new(memo.into_bytes())
                    .map_err(|e| anyhow!("the memo is too long: {e}"))?,
            });
            sign_and_print(context, &from, payload, envelope)
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

fn sign_and_print(
    context: &Context,
    from: &str,
    payload: Payload,
    envelope: Envelope,
) -> anyhow::Result<()> {
    if !envelope.sign_only {
        bail!(
            "submitting needs a running node, which this build cannot reach yet; \
             pass --sign-only to print the signed transaction"
        );
    }
    let key = open(context, from, envelope.passphrase_file)?;
    let tx = Transaction {
        chain_id: ChainId::new(envelope.chain_id).map_err(|e| anyhow!("chain id: {e}"))?,
        sender: key.address(),
        nonce: envelope.nonce,
        fee: envelope.fee,
        expiry_height: envelope.expiry_height,
        payload,
    };
    let signed = tx.sign(&key);
    context.print(&printed(&signed), |p| p.hex.clone());
    Ok(())
}
