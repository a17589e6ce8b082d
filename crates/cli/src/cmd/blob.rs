//! `aifactory blob put|get`: move files in and out of a node's content-addressed blob store
//! (models, specs, reports), named by their BLAKE3 hash.

use std::path::PathBuf;

use aifactory_types::Hash;
use anyhow::Context as _;
use clap::Subcommand;
use serde::Serialize;

use crate::cmd::status::{Node, NodeArgs};
use crate::context::Context;

/// `aifactory blob`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store a file; prints its hash.
    Put {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Fetch a blob by hash into a file, checking its content against the hash.
    Get {
        /// The blob's hash.
        hash: Hash,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// What `put` and `get` print.
#[derive(Debug, Serialize)]
struct Moved {
    hash: Hash,
    bytes: usize,
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Put { file, node } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let hash = Hash::from(blake3::hash(&bytes));
            let node = Node::connect(&node)?;
            let len = bytes.len();
            node.call(node.client.put_blob(&hash, bytes.into()))?;
            context.print(&Moved { hash, bytes: len }, |m| {
                format!("stored {} ({} bytes)", m.hash, m.bytes)
            });
        }
        Command::Get { hash, out, node } => {
            let node = Node::connect(&node)?;
            // The client refuses content that does not hash to `hash`: nothing is written then.
            let bytes = node.call(node.client.get_blob(&hash))?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            context.print(
                &Moved {
                    hash,
                    bytes: bytes.len(),
                },
                |m| format!("wrote {} ({} bytes) to {}", m.hash, m.bytes, out.display()),
            );
        }
    }
    Ok(())
}
