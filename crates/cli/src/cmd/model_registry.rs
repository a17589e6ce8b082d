//! `aifactory model register|show|list|provenance`: the chain's model registry. A model is
//! registered by the blob hash of its spec or ONNX file; a trained model is registered by the
//! job that produced it, and its provenance (job, rounds, participants, scores, payouts,
//! datasets) is printed only once every proof in it leads to the one state root the node sent.

use aifactory_client::views::lifecycle::{ModelPage, ModelView, ProvenanceView};
use aifactory_types::lifecycle::{BasisPoints, Model, ModelArtifact, ModelId, RegisterModel};
use aifactory_types::{Hash, Payload};
use clap::Subcommand;

use crate::cmd::job::describe_entries;
use crate::cmd::lifecycle::{
    LicenceArgs, ListArgs, describe_licence, fetch, format_micros, next_page_hint,
};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// The registry's subcommands, flattened into `aifactory model`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register a model on the chain by the blob hash of its spec or ONNX file.
    Register {
        #[command(flatten)]
        artifact: ArtifactArgs,
        /// The royalty jobs on it must give you, in basis points (100 is 1%).
        #[arg(long, default_value_t = 0)]
        royalty_bps: BasisPoints,
        #[command(flatten)]
        licence: LicenceArgs,
        /// The registered model it derives from.
        #[arg(long)]
        parent: Option<ModelId>,
        #[command(flatten)]
        sender: Box<Sender>,
    },
    /// Ask a node for a registered model, check its proof, and print it.
    Show {
        /// The model's id.
        model: ModelId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List models, a page at a time.
    List {
        #[command(flatten)]
        page: ListArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Everything behind a model (its parent; for a trained model the job, its rounds,
    /// participants, scores, payouts and datasets), every proof checked against one root.
    Provenance {
        /// The model's id.
        model: ModelId,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// What the model is made of.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub(crate) struct ArtifactArgs {
    /// The blob hash of a declarative model spec (`aifactory model id` prints it).
    #[arg(long, conflicts_with = "onnx")]
    spec: Option<Hash>,
    /// The blob hash of a model file with weights (and, for a job's starting model, its
    /// feature encoding: `aifactory model init` makes one); given with --spec.
    #[arg(long, requires = "spec")]
    weights: Option<Hash>,
    /// The blob hash of an ONNX file (`aifactory model import` prints it).
    #[arg(long)]
    onnx: Option<Hash>,
}

impl ArtifactArgs {
    fn artifact(&self) -> ModelArtifact {
        match (self.spec, self.weights, self.onnx) {
            (Some(spec), Some(weights), _) => ModelArtifact::Trained { spec, weights },
            (Some(spec), None, _) => ModelArtifact::Spec(spec),
            (None, _, Some(onnx)) => ModelArtifact::Onnx(onnx),
            (None, _, None) => unreachable!("clap requires one of --spec and --onnx"),
        }
    }
}

/// Runs a registry subcommand.
pub(crate) fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    match command {
        Command::Register {
            artifact,
            royalty_bps,
            licence,
            parent,
            sender,
        } => {
            let payload = Payload::RegisterModel(RegisterModel {
                artifact: artifact.artifact(),
                royalty_bps,
                licence: licence.licence()?,
                parent,
            });
            send_from(context, *sender, payload)
        }
        Command::Show { model, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.model(model), || missing(model))?;
            context.print(&view, describe);
            Ok(())
        }
        Command::List { page, node } => {
            let node = Node::connect(&node)?;
            let page = node.call(node.client.models(page.page()))?;
            context.print(&page, describe_page);
            Ok(())
        }
        Command::Provenance { model, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.provenance(model), || missing(model))?;
            context.print(&view, describe_provenance);
            Ok(())
        }
    }
}

fn missing(model: ModelId) -> String {
    format!("no model {model} is registered on this chain")
}

fn describe(view: &ModelView) -> String {
    format!(
        "model          {}\n{}\nproof          verified against state root {} at height {}",
        view.model.key,
        describe_model(&view.model.value),
        view.state_root,
        view.height
    )
}

fn describe_artifact(artifact: &ModelArtifact) -> String {
    match artifact {
        ModelArtifact::Spec(hash) => format!("spec {hash}"),
        ModelArtifact::Onnx(hash) => format!("onnx {hash}"),
        ModelArtifact::Trained { spec, weights } => format!("weights {weights} (spec {spec})"),
    }
}

fn describe_model(m: &Model) -> String {
    let parent = m.parent.map_or("none".to_owned(), |p| format!("model {p}"));
    let trained = m
        .trained_by
        .as_ref()
        .map_or("registered, not trained".to_owned(), |t| {
            format!("by job {}, score {}", t.job, format_micros(t.score))
        });
    format!(
        "developer      {}\n\
         artifact       {}\n\
         royalty        {} bps\n\
         licence        {}\n\
         parent         {parent}\n\
         trained        {trained}\n\
         registered at  height {}",
        m.developer,
        describe_artifact(&m.artifact),
        m.royalty_bps,
        describe_licence(&m.licence),
        m.registered_height,
    )
}

fn describe_page(page: &ModelPage) -> String {
    let mut text = format!("{} models at height {}", page.items.len(), page.height);
    for item in &page.items {
        let m = &item.model;
        let trained = m
            .trained_by
            .as_ref()
            .map_or(String::new(), |t| format!("  (trained by job {})", t.job));
        text.push_str(&format!(
            "\n{:>6}  {}  {}{trained}",
            item.id,
            describe_artifact(&m.artifact),
            m.developer,
        ));
    }
    text.push_str(&next_page_hint(page.next_after));
    text
}

fn describe_provenance(view: &ProvenanceView) -> String {
    let mut text = format!(
        "model {}\n{}",
        view.model.key,
        describe_model(&view.model.value)
    );
    if let Some(parent) = &view.parent {
        text.push_str(&format!(
            "\n\nparent model {}: {} by {}",
            parent.key,
            describe_artifact(&parent.value.artifact),
            parent.value.developer
        ));
    }
    if let Some(job) = &view.job {
        text.push_str("\n\n");
        text.push_str(&describe_entries(job));
    }
    for d in &view.datasets {
        text.push_str(&format!(
            "\ndataset {}: {} rows (root {}) from {}",
            d.key, d.value.rows, d.value.rows_root, d.value.provider
        ));
    }
    text.push_str(&format!(
        "\n\nevery entry verified against state root {} at height {}",
        view.state_root, view.height
    ));
    text
}
