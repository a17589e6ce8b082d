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
    /// Store files in a node's blob store and fetch them back, by hash.
    Blob(cmd::blob::Args),
    /// Run a role's agent (provider, trainer, validator) against any node until stopped.
    Agent(cmd::agent::Args),
    /// Deploy models as a staked gateway, claim vouchers, and read deployments.
    Gateway(cmd::gateway::Args),
    /// Payment channels to gateways: open, top up, extend, close, sign vouchers, read.
    Channel(cmd::channel::Args),
    /// Ask a deployed model for an answer, paying its gateway through a channel.
    Predict(cmd::predict::Args),
    /// Check a gateway's signed receipt against the chain, or challenge it.
    Receipt(cmd::receipt::Args),
    /// Challenges of gateways' answers: read them with their votes, vote by hand.
    Challenge(cmd::challenge::Args),
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
        Command::Blob(args) => cmd::blob::run(args, &context),
        Command::Agent(args) => cmd::agent::run(args, &context),
        Command::Gateway(args) => cmd::gateway::run(args, &context),
        Command::Channel(args) => cmd::channel::run(args, &context),
        Command::Predict(args) => cmd::predict::run(args, &context),
        Command::Receipt(args) => cmd::receipt::run(args, &context),
        Command::Challenge(args) => cmd::challenge::run(args, &context),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    const HASH: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    fn parses(line: &str) -> Result<Cli, clap::Error> {
        let line = line.replace("H", HASH);
        Cli::try_parse_from(std::iter::once("aifactory").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lifecycle_commands_parse() {
        for line in [
            "dataset register --from k --schema H --rows 10 --rows-root H --licence MIT --price 0.5 --quality-report H --anonymity-report H --stake 1",
            "dataset update 3 --from k --licence-text H --price 2",
            "dataset retire 3 --from k --no-wait",
            "dataset show 3 --json",
            "dataset list --after 100 --limit 5",
            "model register --from k --onnx H --royalty-bps 250 --licence MIT --parent 2",
            "model show 1",
            "model list",
            "model provenance 4 --node http://127.0.0.1:9",
            "job open --from k --terms docs/examples/job.toml",
            "job cancel 1 --from k",
            "job claim 1 --from k --fee 2000",
            "job join 1 --dataset 2 --yes --from k",
            "job post 1 --round 0 --phase 2 --blob H --from k",
            "job post 1 --round 0 --phase 0 --inline 00ff --from k",
            "job close 1 --round 3 --aggregate H --model H --from k",
            "job commit 1 --metric 0.91 --aggregates-match true --contribution 0.1 --contribution 0.2 --stake 5 --save c.json --from k",
            "job commit 1 --metric 0.91 --aggregates-match false --salt H --stake 5 --save c.json --from k",
            "job reveal c.json --from k",
            "job show 1 --round 2",
            "job list --limit 1",
            "gateway deploy --from k --model 2 --price 0.0001 --gateway-bps 2000 --stake 100 --endpoint http://gw:8080",
            "gateway undeploy 1 --from k",
            "gateway claim --voucher a.json --voucher b.json --from k",
            "gateway show 1 --json",
            "gateway list --model 2 --limit 5",
            "channel open --from k --deployment 1 --deposit 0.5 --expires-in 500",
            "channel open --from k --deployment 1 --deposit 0.5 --expires-at 9000 --sign-only --nonce 0",
            "channel top-up 1 --amount 0.1 --from k",
            "channel extend 1 --expires-in 1000 --from k",
            "channel close 1 --from k",
            "channel voucher --channel 1 --amount 0.002 --from k --chain-id aifactory-devnet --out v.json",
            "channel show 1",
            "channel list aif1xyz",
            "predict --model 2 --input row.csv --from k",
            "predict --model 2 --input row.csv --from k --deployment 1 --deposit 0.5 --expires-in 500 --gateway http://gw:1",
            "receipt verify answer.json --json",
            "receipt challenge answer.json --bond 1 --from k",
            "challenge vote 3 --verdict wrong --stake 1 --from k",
            "challenge show 3 --json",
            "challenge list --after 2",
        ] {
            if let Err(error) = parses(line) {
                panic!("{line}: {error}");
            }
        }
    }

    #[test]
    fn lifecycle_commands_refuse_missing_or_conflicting_arguments() {
        for line in [
            // A licence is needed, and only one kind.
            "dataset update 3 --from k --price 2",
            "dataset update 3 --from k --licence MIT --licence-text H --price 2",
            // One artifact, not two.
            "model register --from k --spec H --onnx H --licence MIT",
            "model register --from k --licence MIT",
            // A phase message is inline or a blob.
            "job post 1 --round 0 --phase 0 --from k",
            "job post 1 --round 0 --phase 0 --inline 00 --blob H --from k",
            // A commit must say where its salt goes, and decimals have at most six places.
            "job commit 1 --metric 0.91 --aggregates-match true --stake 5 --from k",
            "job commit 1 --metric 0.9100001 --aggregates-match true --stake 5 --save c --from k",
            "job close 1 --round 3 --aggregate H --model H --contribution nobody --from k",
            "job open --terms job.toml",
        ] {
            assert!(parses(line).is_err(), "{line} parsed");
        }
    }
}
