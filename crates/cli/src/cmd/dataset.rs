//! `aifactory dataset`: register a dataset on the chain (its commitments, licence, price and
//! stake), update its terms, retire it, and read the registry with proofs checked.

use aifactory_client::views::lifecycle::{DatasetPage, DatasetView};
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{
    Dataset, DatasetId, RegisterDataset, RetireDataset, UpdateDataset,
};
use aifactory_types::{Amount, Hash, Payload};
use clap::Subcommand;

use crate::cmd::lifecycle::{
    LicenceArgs, ListArgs, describe_licence, fetch, next_page_hint, parse_amount,
};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// `aifactory dataset`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register a dataset you hold: its commitments and reports (blob hashes from `aifactory
    /// data`), licence, price per training use and stake.
    Register {
        /// Hash of the schema JSON.
        #[arg(long)]
        schema: Hash,
        /// How many rows it has.
        #[arg(long)]
        rows: u64,
        /// The Merkle root of its rows (`aifactory data commit`).
        #[arg(long)]
        rows_root: Hash,
        #[command(flatten)]
        licence: LicenceArgs,
        /// The least it accepts per training use, in AIF.
        #[arg(long, value_parser = parse_amount)]
        price: Amount,
        /// Hash of the quality report (`aifactory data check`).
        #[arg(long)]
        quality_report: Hash,
        /// Hash of the anonymisation report (`aifactory data anonymise`).
        #[arg(long)]
        anonymity_report: Hash,
        /// Tokens to lock behind it until it retires, in AIF.
        #[arg(long, value_parser = parse_amount)]
        stake: Amount,
        #[command(flatten)]
        sender: Sender,
    },
    /// Change a dataset's licence and price; jobs it already joined keep theirs.
    Update {
        /// The dataset's id.
        dataset: DatasetId,
        #[command(flatten)]
        licence: LicenceArgs,
        /// The new least price per training use, in AIF.
        #[arg(long, value_parser = parse_amount)]
        price: Amount,
        #[command(flatten)]
        sender: Sender,
    },
    /// Retire a dataset and take its stake back (refused while a job it joined runs).
    Retire {
        /// The dataset's id.
        dataset: DatasetId,
        #[command(flatten)]
        sender: Sender,
    },
    /// Ask a node for a dataset, check its proof, and print it.
    Show {
        /// The dataset's id.
        dataset: DatasetId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List registered datasets, a page at a time.
    List {
        #[command(flatten)]
        page: ListArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Runs `aifactory dataset`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Register {
            schema,
            rows,
            rows_root,
            licence,
            price,
            quality_report,
            anonymity_report,
            stake,
            sender,
        } => {
            let payload = Payload::RegisterDataset(RegisterDataset {
                schema,
                rows,
                rows_root,
                licence: licence.licence()?,
                price,
                quality_report,
                anonymity_report,
                stake,
            });
            send_from(context, sender, payload)
        }
        Command::Update {
            dataset,
            licence,
            price,
            sender,
        } => {
            let payload = Payload::UpdateDataset(UpdateDataset {
                dataset,
                licence: licence.licence()?,
                price,
            });
            send_from(context, sender, payload)
        }
        Command::Retire { dataset, sender } => send_from(
            context,
            sender,
            Payload::RetireDataset(RetireDataset { dataset }),
        ),
        Command::Show { dataset, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.dataset(dataset), || {
                format!("no dataset {dataset} is registered on this chain")
            })?;
            context.print(&view, describe);
            Ok(())
        }
        Command::List { page, node } => {
            let node = Node::connect(&node)?;
            let page = node.call(node.client.datasets(page.page()))?;
            context.print(&page, describe_page);
            Ok(())
        }
    }
}

fn describe(view: &DatasetView) -> String {
    format!(
        "dataset           {}\n{}\nproof             verified against state root {} at height {}",
        view.dataset.key,
        describe_dataset(&view.dataset.value),
        view.state_root,
        view.height
    )
}

/// A dataset's fields, one a line.
pub(crate) fn describe_dataset(d: &Dataset) -> String {
    let status = if d.retired { "retired" } else { "active" };
    format!(
        "provider          {}\n\
         status            {status}, in {} unfinished jobs, {} jobs ever\n\
         rows              {} (root {})\n\
         schema            {}\n\
         licence           {}\n\
         price             {} AIF per training use\n\
         stake             {} AIF\n\
         quality report    {}\n\
         anonymity report  {}\n\
         registered at     height {}",
        d.provider,
        d.active_jobs,
        d.jobs_joined,
        d.rows,
        d.rows_root,
        d.schema,
        describe_licence(&d.licence),
        format_aif(d.price),
        format_aif(d.stake),
        d.quality_report,
        d.anonymity_report,
        d.registered_height,
    )
}

fn describe_page(page: &DatasetPage) -> String {
    let mut text = format!("{} datasets at height {}", page.items.len(), page.height);
    for item in &page.items {
        let d = &item.dataset;
        text.push_str(&format!(
            "\n{:>6}  {} rows  {} AIF  {}  {}{}",
            item.id,
            d.rows,
            format_aif(d.price),
            describe_licence(&d.licence),
            d.provider,
            if d.retired { "  (retired)" } else { "" },
        ));
    }
    text.push_str(&next_page_hint(page.next_after));
    text
}
