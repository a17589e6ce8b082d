//! `aifactory`: the one binary. It parses the command line, calls a library, and prints; every
//! subcommand group lives in its own module under `cmd/`.

mod cmd;
mod context;
mod passphrase;

use clap::{Parser, Subcommand};

use crate::context::Context;

/// AI Factory: build, train, validate, deploy and get paid for models with parties you do not
/// have to trust.
#[derive(Debug, Parser)]
#[command(name = "aifactory", version, about, propagate_version = true)]
struct Cli {
    /// Where keys and node data live.
    #[arg(long, global = true, env = "AIFACTORY_HOME")]
    home: Option<std::path::PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, back up and recover signing keys.
    Keys(cmd::keys::Args),
    /// Make and inspect genesis files.
    Genesis(cmd::genesis::Args),
    /// Run a node (a validator) from its configuration file.
    Node(cmd::node::Args),
    /// Run a local network of validators with no set-up; Ctrl-C stops it.
    Devnet(cmd::devnet::Args),
    /// The node's view of the chain: height, finality, state root, peers.
    Status(cmd::status::Args),
    /// Accounts on a node (with their proofs checked), and account proofs against a state root.
    Account(cmd::account::Args),
    /// Blocks on a node, with each transaction's outcome.
    Block(cmd::block::Args),
    /// Build, sign, submit and inspect transactions.
    Tx(cmd::tx::Args),
    /// Secure aggregation: simulate a round to a transcript, verify a transcript.
    Secagg(cmd::secagg::Args),
    /// Check, anonymise, commit to and split a provider's CSV.
    Data(cmd::data::Args),
    /// Register datasets on the chain, update and retire them, and read the registry.
    Dataset(cmd::dataset::Args),
    /// Train, evaluate and run models; import ONNX models; register models on the chain and
    /// read the registry and a trained model's provenance.
    Model(cmd::model::Args),
    /// Open, claim, join, run and score jobs; read them with their rounds and scores.
    Job(cmd::job::Args),
    /// Differential privacy: epsilon of a job, noise for a target epsilon.
    Privacy(cmd::privacy::Args),
}

fn main() {
    let cli = Cli::parse();
    let context = Context::new(cli.home, cli.json);
    let result = match cli.command {
        Command::Keys(args) => cmd::keys::run(args, &context),
        Command::Genesis(args) => cmd::genesis::run(args, &context),
        Command::Node(args) => cmd::node::run(args, &context),
        Command::Devnet(args) => cmd::devnet::run(args, &context),
        Command::Status(args) => cmd::status::run(args, &context),
        Command::Account(args) => cmd::account::run(args, &context),
        Command::Block(args) => cmd::block::run(args, &context),
        Command::Tx(args) => cmd::tx::run(args, &context),
        Command::Secagg(args) => cmd::secagg::run(args, &context),
        Command::Data(args) => cmd::data::run(args, &context),
        Command::Dataset(args) => cmd::dataset::run(args, &context),
        Command::Model(args) => cmd::model::run(args, &context),
        Command::Job(args) => cmd::job::run(args, &context),
        Command::Privacy(args) => cmd::privacy::run(args, &context),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
