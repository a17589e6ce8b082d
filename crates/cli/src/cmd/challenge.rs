//! `aifactory challenge`: read challenges of gateways' answers with their votes (proofs
//! checked) and vote on one by hand. Challenging a saved answer is `aifactory receipt
//! challenge`; validators vote by themselves (`aifactory agent validator`).

use aifactory_client::views::inference::{ChallengePage, ChallengeView};
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{Challenge, ChallengeId, ChallengeStatus, Verdict, VoteChallenge};
use aifactory_types::{Amount, Payload};
use clap::{Subcommand, ValueEnum};

use crate::cmd::lifecycle::{ListArgs, fetch, next_page_hint, parse_amount};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// `aifactory challenge`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

/// A verdict as typed.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum VerdictArg {
    /// The answer is not the deployed model's.
    Wrong,
    /// The answer matches the deployed model's, by the rule in docs/inference.md.
    Right,
    /// The input or output blob could not be fetched.
    Missing,
}

impl From<VerdictArg> for Verdict {
    fn from(arg: VerdictArg) -> Self {
        match arg {
            VerdictArg::Wrong => Verdict::GatewayWrong,
            VerdictArg::Right => Verdict::GatewayRight,
            VerdictArg::Missing => Verdict::BlobsMissing,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Vote on a challenge, locking a stake until it resolves.
    Vote {
        /// The challenge's id.
        challenge: ChallengeId,
        /// What re-running the model showed.
        #[arg(long, value_enum)]
        verdict: VerdictArg,
        /// Tokens behind the vote, in AIF.
        #[arg(long, value_parser = parse_amount)]
        stake: Amount,
        #[command(flatten)]
        sender: Sender,
    },
    /// Ask a node for a challenge with its deployment and every vote, check the proofs, and
    /// print it.
    Show {
        /// The challenge's id.
        challenge: ChallengeId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List challenges, voting and resolved, a page at a time.
    List {
        #[command(flatten)]
        page: ListArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Runs `aifactory challenge`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Vote {
            challenge,
            verdict,
            stake,
            sender,
        } => send_from(
            context,
            sender,
            Payload::VoteChallenge(VoteChallenge {
                challenge,
                verdict: verdict.into(),
                stake,
            }),
        ),
        Command::Show { challenge, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.challenge(challenge), || {
                format!("no challenge {challenge} on this chain")
            })?;
            context.print(&view, describe);
            Ok(())
        }
        Command::List { page, node } => {
            let node = Node::connect(&node)?;
            let page = node.call(node.client.challenges(page.page()))?;
            context.print(&page, describe_page);
            Ok(())
        }
    }
}

/// A challenge's status as a person reads it.
fn describe_status(challenge: &Challenge) -> String {
    match challenge.status {
        ChallengeStatus::Voting => format!("voting until height {}", challenge.vote_until),
        ChallengeStatus::Upheld => "upheld: the gateway was slashed".to_owned(),
        ChallengeStatus::Rejected => "rejected: the bond was shared out".to_owned(),
        ChallengeStatus::Undecided => "undecided: the bond went back".to_owned(),
    }
}

fn describe(view: &ChallengeView) -> String {
    let c = &view.challenge.value;
    let r = &c.receipt;
    let mut text = format!(
        "challenge         {}\n\
         status            {}\n\
         challenger        {} (bond {} AIF)\n\
         deployment        {} (gateway {})\n\
         receipt           model {} blob {}\n\
         \x20                 channel {}, {} base units in all, height {}\n\
         \x20                 input {}\n\
         \x20                 output {}\n\
         tally             {} voters: {} AIF wrong, {} AIF right or blobs missing",
        view.challenge.key,
        describe_status(c),
        c.challenger,
        format_aif(c.bond),
        c.deployment,
        view.deployment.value.gateway,
        r.model,
        r.model_hash,
        r.channel,
        r.amount,
        r.height,
        r.input_hash,
        r.output_hash,
        c.voters,
        format_aif(c.wrong_stake),
        format_aif(c.right_stake),
    );
    for vote in &view.votes {
        text.push_str(&format!(
            "\n  {}  {:?}  {} AIF",
            vote.key.1,
            vote.value.verdict,
            format_aif(vote.value.stake)
        ));
    }
    text.push_str(&format!(
        "\nproof             verified against state root {} at height {}",
        view.state_root, view.height
    ));
    text
}

fn describe_page(page: &ChallengePage) -> String {
    let mut text = format!("{} challenges at height {}", page.items.len(), page.height);
    for item in &page.items {
        let c = &item.challenge;
        text.push_str(&format!(
            "\n{:>6}  deployment {}  bond {} AIF  {}",
            item.id,
            c.deployment,
            format_aif(c.bond),
            describe_status(c)
        ));
    }
    text + &next_page_hint(page.next_after)
}
