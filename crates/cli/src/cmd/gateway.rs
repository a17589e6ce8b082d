//! `aifactory gateway`: deploy a model as a staked gateway, undeploy it, claim the vouchers
//! consumers signed, and read deployments with their royalty tables, proofs checked.

use std::path::PathBuf;

use aifactory_client::views::inference::{DeploymentPage, DeploymentView};
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{
    BasisPoints, Claim, ClaimChannels, Deploy, Deployment, DeploymentId, DeploymentStatus, ModelId,
    Undeploy,
};
use aifactory_types::limits::{CLAIMS_PER_TX_MAX, GATEWAY_URL_BYTES_MAX};
use aifactory_types::{Amount, BoundedString, BoundedVec, Payload};
use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::cmd::lifecycle::{ListArgs, fetch, next_page_hint, parse_amount};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// `aifactory gateway`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a trained or ONNX model for a price per call, locking a stake behind your answers.
    Deploy {
        /// The model's id.
        #[arg(long)]
        model: ModelId,
        /// What one call costs, in AIF.
        #[arg(long, value_parser = parse_amount)]
        price: Amount,
        /// Your share of each payment, in basis points (the rest goes to the model's
        /// developer, data providers and the treasury).
        #[arg(long)]
        gateway_bps: BasisPoints,
        /// Tokens to lock until the deployment retires, in AIF.
        #[arg(long, value_parser = parse_amount)]
        stake: Amount,
        /// Where you serve it, for consumers to call (http:// or https://).
        #[arg(long, value_parser = parse_url)]
        endpoint: BoundedString<GATEWAY_URL_BYTES_MAX>,
        #[command(flatten)]
        sender: Sender,
    },
    /// Stop serving: no new channels; the stake returns after the challenge window.
    Undeploy {
        /// The deployment's id.
        deployment: DeploymentId,
        #[command(flatten)]
        sender: Sender,
    },
    /// Claim consumers' latest vouchers (JSON files from `aifactory channel voucher`), at most
    /// 32 in one transaction; each channel stays open.
    Claim {
        /// A voucher file; repeat for more channels.
        #[arg(long = "voucher", required = true)]
        vouchers: Vec<PathBuf>,
        #[command(flatten)]
        sender: Sender,
    },
    /// Ask a node for a deployment with its model and settlement, check the proofs, and print
    /// it with its royalty table.
    Show {
        /// The deployment's id.
        deployment: DeploymentId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List deployments, a page at a time.
    List {
        /// Only this model's.
        #[arg(long)]
        model: Option<ModelId>,
        #[command(flatten)]
        page: ListArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Parses `--endpoint` within the ledger's cap (the ledger checks the scheme).
fn parse_url(text: &str) -> Result<BoundedString<GATEWAY_URL_BYTES_MAX>, String> {
    BoundedString::new(text).map_err(|e| format!("the URL: {e}"))
}

/// Runs `aifactory gateway`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Deploy {
            model,
            price,
            gateway_bps,
            stake,
            endpoint,
            sender,
        } => {
            let payload = Payload::Deploy(Deploy {
                model,
                price_per_call: price,
                gateway_bps,
                stake,
                url: endpoint,
            });
            send_from(context, sender, payload)
        }
        Command::Undeploy { deployment, sender } => {
            send_from(context, sender, Payload::Undeploy(Undeploy { deployment }))
        }
        Command::Claim { vouchers, sender } => {
            if vouchers.len() > CLAIMS_PER_TX_MAX {
                bail!("at most {CLAIMS_PER_TX_MAX} vouchers fit one transaction");
            }
            let claims = vouchers
                .iter()
                .map(|path| {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_str::<Claim>(&text)
                        .with_context(|| format!("{} is not a voucher", path.display()))
                })
                .collect::<anyhow::Result<Vec<Claim>>>()?;
            let claims = BoundedVec::new(claims).expect("checked the count above");
            send_from(
                context,
                sender,
                Payload::ClaimChannels(ClaimChannels { claims }),
            )
        }
        Command::Show { deployment, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.deployment(deployment), || {
                format!("no deployment {deployment} on this chain")
            })?;
            context.print(&view, describe);
            Ok(())
        }
        Command::List { model, page, node } => {
            let node = Node::connect(&node)?;
            let page = match model {
                Some(model) => node.call(node.client.model_deployments(model, page.page()))?,
                None => node.call(node.client.deployments(page.page()))?,
            };
            context.print(&page, describe_page);
            Ok(())
        }
    }
}

/// A deployment's status as a person reads it.
pub(crate) fn describe_status(status: &DeploymentStatus) -> String {
    match status {
        DeploymentStatus::Active => "active".to_owned(),
        DeploymentStatus::Undeploying { until } => format!("undeploying, stake returns at {until}"),
        DeploymentStatus::Retired => "retired".to_owned(),
        DeploymentStatus::Suspended => {
            "suspended by an upheld challenge: no new channels; undeploy to take the rest of the stake back".to_owned()
        }
    }
}

fn describe(view: &DeploymentView) -> String {
    let d = &view.deployment.value;
    let mut text = format!(
        "deployment        {}\n{}\nroyalty table     (millionths of each payment)",
        view.deployment.key,
        describe_deployment(d)
    );
    for share in d.royalties.iter() {
        text.push_str(&format!(
            "\n  {:>9}  {:<10} {}",
            share.weight_ppm,
            format!("{:?}", share.role).to_lowercase(),
            share.account
        ));
    }
    text.push_str(&format!(
        "\nproof             verified against state root {} at height {}",
        view.state_root, view.height
    ));
    text
}

fn describe_deployment(d: &Deployment) -> String {
    format!(
        "gateway           {}\n\
         model             {} (blob {}){}\n\
         price             {} AIF per call\n\
         url               {}\n\
         status            {}\n\
         stake             {} AIF\n\
         claimed in all    {} AIF\n\
         deployed at       height {}",
        d.gateway,
        d.model,
        d.model_hash,
        if d.validated {
            ""
        } else {
            ", imported: not trained or scored on this chain"
        },
        format_aif(d.price_per_call),
        d.url,
        describe_status(&d.status),
        format_aif(d.stake),
        format_aif(d.claimed_total),
        d.deployed_height,
    )
}

fn describe_page(page: &DeploymentPage) -> String {
    let mut text = format!("{} deployments at height {}", page.items.len(), page.height);
    for item in &page.items {
        let d = &item.deployment;
        text.push_str(&format!(
            "\n{:>6}  model {}  {} AIF a call  {}  {}  {}",
            item.id,
            d.model,
            format_aif(d.price_per_call),
            describe_status(&d.status),
            d.gateway,
            d.url,
        ));
    }
    text.push_str(&next_page_hint(page.next_after));
    text
}
