//! `aifactory job`: a job's whole life from the command line. A sponsor opens one from a terms
//! file and may cancel it; a trainer claims it, posts nothing but closes rounds; providers join
//! (consenting to the hash of the terms the node proved) and post each phase; validators
//! commit to a score report and reveal it. `show` and `list` read jobs with proofs checked.
//!
//! Commit and reveal: `commit` binds the validator's address, the job, a salt and the whole
//! report (`ScoreReport::commitment`); it writes the report and salt to the `--save` file
//! before sending anything, so a crash cannot lose the salt, and `reveal` sends them back.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use aifactory_agents::nodes::Nodes;
use aifactory_agents::replay::{RoundCheck, verify_job};
use aifactory_client::views::lifecycle::{JobEntries, JobPage, JobView, RoundView};
use aifactory_types::amount::{format_aif, parse_aif};
use aifactory_types::lifecycle::{
    CancelJob, ClaimJob, CloseRound, CommitScore, Contribution, Job, JobId, JobStatus, JobTerms,
    JoinJob, PhaseData, PostPhase, RevealScore, Role, RoundStage, ScoreReport,
};
use aifactory_types::{Address, Amount, BoundedVec, Hash, Payload};
use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};

use crate::cmd::lifecycle::{
    ListArgs, fetch, format_micros, next_page_hint, parse_amount, parse_micros,
};
use crate::cmd::status::{Node, NodeArgs};
use crate::cmd::tx::{Sender, send_from};
use crate::context::Context;

/// The fields of a terms file that are amounts: AIF decimal strings there, base units on the
/// wire (an integer is taken as base units, as `job show --json` prints them).
const TERMS_AMOUNT_FIELDS: [&str; 3] = ["budget", "trainer_stake", "validator_stake"];

/// `aifactory job`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a job from a terms file (TOML, or JSON if it ends in .json), escrowing its budget;
    /// see docs/examples/job.toml.
    Open {
        /// The terms file.
        #[arg(long)]
        terms: PathBuf,
        #[command(flatten)]
        sender: Sender,
    },
    /// Cancel a job you sponsor before training starts; the escrow comes back.
    Cancel {
        /// The job's id.
        job: JobId,
        #[command(flatten)]
        sender: Sender,
    },
    /// Claim a job as its trainer, locking its trainer stake.
    Claim {
        /// The job's id.
        job: JobId,
        #[command(flatten)]
        sender: Sender,
    },
    /// Enlist one of your datasets in a job: shows the job's terms as the node proves them
    /// and consents to exactly those (their hash goes in the transaction).
    Join {
        /// The job's id.
        job: JobId,
        /// Your dataset's id.
        #[arg(long)]
        dataset: u64,
        /// Consent without asking (needed when not at a terminal, and with --json).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        sender: Sender,
    },
    /// Post your message in the current phase of a round.
    Post {
        /// The job's id.
        job: JobId,
        /// The round's sequence number.
        #[arg(long)]
        round: u32,
        /// The phase (must be the round's current one).
        #[arg(long)]
        phase: u8,
        #[command(flatten)]
        data: PhaseDataArgs,
        #[command(flatten)]
        sender: Sender,
    },
    /// Close a round as the trainer: its aggregate, the new global model, and the samples
    /// each surviving provider contributed.
    Close {
        /// The job's id.
        job: JobId,
        /// The round's sequence number.
        #[arg(long)]
        round: u32,
        /// The aggregate's blob hash.
        #[arg(long)]
        aggregate: Hash,
        /// The new global model's blob hash.
        #[arg(long)]
        model: Hash,
        /// A provider's samples, as ADDRESS=SAMPLES; once per provider.
        #[arg(long = "contribution", value_parser = parse_contribution)]
        contributions: Vec<Contribution>,
        #[command(flatten)]
        sender: Sender,
    },
    /// Commit to a score report as a validator, locking stake; saves the report and salt to
    /// the --save file for `job reveal`.
    Commit {
        /// The job's id.
        job: JobId,
        #[command(flatten)]
        report: ReportArgs,
        /// The salt, 64 hex digits (default: a fresh random one).
        #[arg(long)]
        salt: Option<Hash>,
        /// Tokens to lock, in AIF (at least the job's validator stake).
        #[arg(long, value_parser = parse_amount)]
        stake: Amount,
        /// Where to save the report and salt (must not exist yet).
        #[arg(long)]
        save: PathBuf,
        #[command(flatten)]
        sender: Sender,
    },
    /// Reveal the report and salt a `job commit --save` file holds.
    Reveal {
        /// The file `job commit --save` wrote.
        commitment: PathBuf,
        #[command(flatten)]
        sender: Sender,
    },
    /// Ask a node for a job (or one of its rounds), check every proof, and print it.
    Show {
        /// The job's id.
        job: JobId,
        /// Show this round (its sequence number) with each phase's posts instead.
        #[arg(long)]
        round: Option<u32>,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Recompute every closed round of a job from the published blobs (the updates its
    /// survivors posted, the job's rule and server optimiser) and say whether each round's
    /// aggregate and model match the hashes the trainer published.
    Verify {
        /// The job's id.
        job: JobId,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Follow a job live until it ends: rounds as they close (with each model's accuracy on
    /// your own rows if given), stage changes and payouts.
    Watch(crate::cmd::job_watch::WatchArgs),
    /// List jobs, a page at a time.
    List {
        #[command(flatten)]
        page: ListArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// A phase message: small bytes inline, or a blob's hash.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct PhaseDataArgs {
    /// The message's bytes in hex (at most 256 bytes), stored on chain.
    #[arg(long)]
    inline: Option<String>,
    /// The message's blob hash.
    #[arg(long)]
    blob: Option<Hash>,
}

impl PhaseDataArgs {
    fn data(&self) -> anyhow::Result<PhaseData> {
        match (&self.inline, self.blob) {
            (Some(text), None) => {
                let bytes = hex::decode(text.trim()).context("--inline is not valid hex")?;
                let bytes = BoundedVec::new(bytes).map_err(|e| anyhow!("--inline: {e}"))?;
                Ok(PhaseData::Inline(bytes))
            }
            (None, Some(hash)) => Ok(PhaseData::Blob(hash)),
            _ => bail!("give exactly one of --inline and --blob"),
        }
    }
}

/// What a validator measured, as decimals.
#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// The job's metric, e.g. 0.91.
    #[arg(long, value_parser = parse_micros_arg)]
    metric: u64,
    /// Expected calibration error.
    #[arg(long, value_parser = parse_micros_arg, default_value = "0")]
    calibration_error: u64,
    /// Largest gap of the metric between groups of the job's group column.
    #[arg(long, value_parser = parse_micros_arg, default_value = "0")]
    fairness_gap: u64,
    /// Whether every round's aggregate recomputed from the published blobs matched.
    #[arg(long, action = clap::ArgAction::Set, value_name = "BOOL")]
    aggregates_match: bool,
    /// For a leave-one-out job, each provider's measured contribution in join order.
    #[arg(long = "contribution", value_parser = parse_micros_arg)]
    contributions: Vec<u64>,
}

impl ReportArgs {
    fn report(self) -> anyhow::Result<ScoreReport> {
        Ok(ScoreReport {
            metric: self.metric,
            calibration_error: self.calibration_error,
            fairness_gap: self.fairness_gap,
            aggregates_match: self.aggregates_match,
            contributions: BoundedVec::new(self.contributions)
                .map_err(|e| anyhow!("too many contributions: {e}"))?,
        })
    }
}

/// What `job commit --save` writes and `job reveal` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedCommitment {
    job: JobId,
    validator: Address,
    salt: Hash,
    report: ScoreReport,
    commitment: Hash,
}

fn parse_micros_arg(text: &str) -> Result<u64, String> {
    parse_micros(text).map_err(|e| e.to_string())
}

fn parse_contribution(text: &str) -> Result<Contribution, String> {
    let (address, samples) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ADDRESS=SAMPLES"))?;
    Ok(Contribution {
        provider: address.parse().map_err(|e| format!("{address:?}: {e}"))?,
        samples: samples
            .parse()
            .map_err(|e| format!("samples {samples:?}: {e}"))?,
    })
}

/// Runs `aifactory job`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Open { terms, sender } => {
            let terms = load_terms(&terms)?;
            if !context.json {
                eprintln!("opening a job with terms hash {}", terms.hash());
            }
            send_from(context, sender, Payload::OpenJob(terms))
        }
        Command::Cancel { job, sender } => {
            send_from(context, sender, Payload::CancelJob(CancelJob { job }))
        }
        Command::Claim { job, sender } => {
            send_from(context, sender, Payload::ClaimJob(ClaimJob { job }))
        }
        Command::Join {
            job,
            dataset,
            yes,
            sender,
        } => {
            let terms_hash = consent(context, job, yes, &sender)?;
            let payload = Payload::JoinJob(JoinJob {
                job,
                dataset,
                terms_hash,
            });
            send_from(context, sender, payload)
        }
        Command::Post {
            job,
            round,
            phase,
            data,
            sender,
        } => {
            let payload = Payload::PostPhase(PostPhase {
                job,
                round,
                phase,
                data: data.data()?,
            });
            send_from(context, sender, payload)
        }
        Command::Close {
            job,
            round,
            aggregate,
            model,
            contributions,
            sender,
        } => {
            let payload = Payload::CloseRound(CloseRound {
                job,
                round,
                aggregate,
                model,
                contributions: BoundedVec::new(contributions)
                    .map_err(|e| anyhow!("too many contributions: {e}"))?,
            });
            send_from(context, sender, payload)
        }
        Command::Commit {
            job,
            report,
            salt,
            stake,
            save,
            sender,
        } => {
            let validator = context.keystore().show(&sender.from)?.address;
            let saved = commitment(job, validator, salt, report.report()?);
            write_new(&save, &saved)?;
            if !context.json {
                eprintln!("saved the report and salt to {}", save.display());
            }
            let payload = Payload::CommitScore(CommitScore {
                job,
                commitment: saved.commitment,
                stake,
            });
            send_from(context, sender, payload)
        }
        Command::Reveal { commitment, sender } => {
            let saved = read_saved(&commitment)?;
            let validator = context.keystore().show(&sender.from)?.address;
            if validator != saved.validator {
                bail!(
                    "{} was committed by {}, not by key {} ({validator})",
                    commitment.display(),
                    saved.validator,
                    sender.from
                );
            }
            let payload = Payload::RevealScore(RevealScore {
                job: saved.job,
                salt: saved.salt,
                report: saved.report,
            });
            send_from(context, sender, payload)
        }
        Command::Show { job, round, node } => {
            let node = Node::connect(&node)?;
            match round {
                None => {
                    let view = fetch(&node, node.client.job(job), || {
                        format!("no job {job} was opened on this chain")
                    })?;
                    context.print(&view, describe_view);
                }
                Some(round) => {
                    let view = fetch(&node, node.client.round(job, round), || {
                        format!("job {job} has no round {round} on this chain")
                    })?;
                    context.print(&view, describe_round);
                }
            }
            Ok(())
        }
        Command::Verify { job, node } => {
            let node = Node::connect(&node)?;
            let view = fetch(&node, node.client.job(job), || {
                format!("no job {job} was opened on this chain")
            })?;
            let nodes = Nodes::new(&[node.url().to_owned()])?;
            let checks = node.block_on(verify_job(&nodes, &view))?;
            context.print(&checks, |checks| describe_checks(job, checks));
            if checks.iter().any(|c| !c.ok()) {
                bail!("job {job}: some rounds do not recompute to what the trainer published");
            }
            Ok(())
        }
        Command::Watch(args) => crate::cmd::job_watch::run(args, context),
        Command::List { page, node } => {
            let node = Node::connect(&node)?;
            let page = node.call(node.client.jobs(page.page()))?;
            context.print(&page, describe_page);
            Ok(())
        }
    }
}

/// One line per recomputed round.
fn describe_checks(job: JobId, checks: &[RoundCheck]) -> String {
    if checks.is_empty() {
        return format!("job {job} has no closed round yet");
    }
    let mut text = String::new();
    for c in checks {
        let verdict = match (&c.problem, c.ok()) {
            (Some(problem), _) => format!("cannot recompute: {problem}"),
            (None, true) => "aggregate and model match".to_owned(),
            (None, false) => format!(
                "MISMATCH (aggregate {}, model {})",
                if c.aggregate_matches {
                    "matches"
                } else {
                    "differs"
                },
                if c.model_matches {
                    "matches"
                } else {
                    "differs"
                }
            ),
        };
        text.push_str(&format!(
            "round {} (index {}): {verdict}\n",
            c.round, c.index
        ));
    }
    text.trim_end().to_owned()
}

/// Reads a terms file: TOML, or JSON if its name ends in `.json`; amounts may be AIF decimal
/// strings. Every list is checked against its cap here, not first by the node.
fn load_terms(path: &Path) -> anyhow::Result<JobTerms> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    parse_terms(&text, is_json).with_context(|| format!("{} is not a job's terms", path.display()))
}

/// [`load_terms`] on text.
fn parse_terms(text: &str, is_json: bool) -> anyhow::Result<JobTerms> {
    let mut value: serde_json::Value = if is_json {
        serde_json::from_str(text)?
    } else {
        serde_json::to_value(toml::from_str::<toml::Value>(text)?)?
    };
    for field in TERMS_AMOUNT_FIELDS {
        if let Some(slot) = value.get_mut(field)
            && let Some(aif) = slot.as_str()
        {
            let units = parse_aif(aif).with_context(|| format!("`{field}`"))?;
            *slot = serde_json::Value::from(units);
        }
    }
    let terms: JobTerms = serde_json::from_value(value)?;
    // serde does not check the lists' caps; a round trip through the codec does.
    let bytes = aifactory_types::codec::encode(&terms);
    aifactory_types::codec::decode::<JobTerms>("job terms", &bytes, bytes.len())
        .map_err(|e| anyhow!("the terms exceed a limit: {e}"))?;
    Ok(terms)
}

/// Shows the job's terms as the node proves them and returns their hash once the user
/// consents (or `--yes` did).
fn consent(context: &Context, job: JobId, yes: bool, sender: &Sender) -> anyhow::Result<Hash> {
    let node = Node::connect(&sender.delivery.node)?;
    let view = fetch(&node, node.client.job(job), || {
        format!("no job {job} was opened on this chain")
    })?;
    let stored = &view.entries.job.value;
    let terms_hash = stored.terms.hash();
    if terms_hash != stored.terms_hash {
        bail!("job {job}'s terms do not hash to the terms hash the node proves: not joining");
    }
    if !context.json {
        eprintln!(
            "job {job}'s terms (amounts in base units; 1 AIF is 10^9), hash {terms_hash}:\n{}",
            describe_terms(&stored.terms)
        );
    }
    if yes {
        return Ok(terms_hash);
    }
    if context.json || !std::io::stdin().is_terminal() {
        bail!("joining consents to these terms: pass --yes to consent without being asked");
    }
    eprint!("consent to these terms and join? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not joining");
    }
    Ok(terms_hash)
}

/// The report and salt (a fresh random one unless given) `validator` commits to for `job`.
fn commitment(
    job: JobId,
    validator: Address,
    salt: Option<Hash>,
    report: ScoreReport,
) -> SavedCommitment {
    let salt = salt.unwrap_or_else(|| {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Hash(bytes)
    });
    SavedCommitment {
        job,
        validator,
        salt,
        commitment: report.commitment(job, &validator, &salt),
        report,
    }
}

/// Writes `saved` to `path`, which must not exist: a second commit must not overwrite the
/// salt of the first.
fn write_new(path: &Path, saved: &SavedCommitment) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    let text = serde_json::to_string_pretty(saved).expect("a commitment serialises");
    file.write_all(text.as_bytes())?;
    file.sync_all()
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a `--save` file and checks that its commitment is its report's.
fn read_saved(path: &Path) -> anyhow::Result<SavedCommitment> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let saved: SavedCommitment = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a `job commit --save` file", path.display()))?;
    if saved
        .report
        .commitment(saved.job, &saved.validator, &saved.salt)
        != saved.commitment
    {
        bail!(
            "{}'s report and salt do not match its commitment: it was edited",
            path.display()
        );
    }
    Ok(saved)
}

fn describe_terms(terms: &JobTerms) -> String {
    toml::to_string_pretty(terms)
        .unwrap_or_else(|_| serde_json::to_string_pretty(terms).expect("terms serialise"))
}

fn describe_status(status: &JobStatus) -> String {
    match status {
        JobStatus::Settled { score, model } => {
            format!(
                "settled, score {}, trained model {model}",
                format_micros(*score)
            )
        }
        JobStatus::Failed { reason } => format!("failed: {reason:?}"),
        other => other.stage().to_string(),
    }
}

/// A job's headline fields, one a line.
fn describe_job(j: &Job) -> String {
    let trainer = j.trainer.map_or("none yet".to_owned(), |t| t.to_string());
    format!(
        "sponsor        {}\n\
         status         {} (stage deadline height {})\n\
         model          {}\n\
         budget         {} AIF (escrow now {} AIF)\n\
         trainer        {trainer}\n\
         providers      {} of {}..{}\n\
         rounds         {} closed of {}\n\
         validators     {} committed, {} revealed\n\
         metric         {:?}, target {}\n\
         terms hash     {}\n\
         opened at      height {}",
        j.sponsor,
        describe_status(&j.status),
        j.stage_deadline,
        j.terms.model,
        format_aif(j.terms.budget),
        format_aif(j.escrow),
        j.providers,
        j.terms.providers_min,
        j.terms.providers_max,
        j.rounds_closed,
        j.terms.rounds,
        j.commits,
        j.reveals,
        j.terms.metric,
        format_micros(j.terms.target),
        j.terms_hash,
        j.opened_height,
    )
}

fn describe_view(view: &JobView) -> String {
    let mut text = describe_entries(&view.entries);
    for p in &view.privacy {
        let epsilon = p
            .epsilon
            .map_or("outside the accountant's domain".to_owned(), |e| {
                format!("epsilon {e:.3}")
            });
        text.push_str(&format!(
            "
privacy        {} (dataset {}, {} rows): {epsilon}",
            p.provider, p.dataset, p.rows
        ));
    }
    format!(
        "{text}\nproofs         verified against state root {} at height {}",
        view.state_root, view.height
    )
}

/// A job's entries, one a line: the job, then each participant, round and score.
pub(crate) fn describe_entries(e: &JobEntries) -> String {
    let mut text = format!(
        "job            {}\n{}",
        e.job.key,
        describe_job(&e.job.value)
    );
    for p in &e.participants {
        text.push_str(&format!(
            "\nparticipant    {} {}, staked {} AIF, {} samples, paid {} AIF",
            p.key.1,
            describe_role(&p.value.role),
            format_aif(p.value.stake),
            p.value.samples,
            format_aif(p.value.paid)
        ));
    }
    if e.rounds.len() < e.rounds_total as usize {
        text.push_str(&format!(
            "\nrounds         the latest {} of {}",
            e.rounds.len(),
            e.rounds_total
        ));
    }
    for r in &e.rounds {
        text.push_str(&format!(
            "\nround          {} (#{}) from {}: {}",
            r.key.1,
            r.value.index,
            r.value.start_model,
            describe_stage(&r.value.stage)
        ));
    }
    for s in &e.scores {
        let revealed = s
            .value
            .revealed
            .as_ref()
            .map_or("committed".to_owned(), |r| {
                format!("revealed {}", format_micros(r.metric))
            });
        text.push_str(&format!("\nscore          {} {revealed}", s.key.1));
    }
    text
}

fn describe_role(role: &Role) -> String {
    match role {
        Role::Trainer => "trainer".to_owned(),
        Role::Provider { dataset, .. } => format!("provider of dataset {dataset}"),
        Role::Validator => "validator".to_owned(),
    }
}

fn describe_stage(stage: &RoundStage) -> String {
    match stage {
        RoundStage::Posting => "posting".to_owned(),
        RoundStage::Aggregating => "aggregating".to_owned(),
        RoundStage::Closed { aggregate, model } => {
            format!("closed, aggregate {aggregate}, model {model}")
        }
        RoundStage::Failed => "failed".to_owned(),
        RoundStage::Abandoned => "abandoned".to_owned(),
    }
}

fn describe_round(view: &RoundView) -> String {
    let r = &view.round.value;
    let mut text = format!(
        "job {} round {} (#{}), from model {}\nstage          {}\ndeadline       height {}",
        view.round.key.0,
        view.round.key.1,
        r.index,
        r.start_model,
        describe_stage(&r.stage),
        r.deadline
    );
    for phase in &view.phases {
        text.push_str(&format!(
            "\nphase {} {}: {} posted",
            phase.phase,
            phase.name,
            phase.posts.len()
        ));
        for post in &phase.posts {
            let data = match &post.value {
                PhaseData::Inline(bytes) => format!("inline {}", hex::encode(&bytes[..])),
                PhaseData::Blob(hash) => format!("blob {hash}"),
            };
            text.push_str(&format!("\n  {} {data}", post.key.poster));
        }
    }
    text.push_str(&format!(
        "\nproofs         verified against state root {} at height {}",
        view.state_root, view.height
    ));
    text
}

fn describe_page(page: &JobPage) -> String {
    let mut text = format!("{} jobs at height {}", page.items.len(), page.height);
    for item in &page.items {
        let j = &item.job;
        text.push_str(&format!(
            "\n{:>6}  model {}  {} AIF  {}  {}",
            item.id,
            j.terms.model,
            format_aif(j.terms.budget),
            describe_status(&j.status),
            j.sponsor,
        ));
    }
    text.push_str(&next_page_hint(page.next_after));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../../docs/examples/job.toml");

    #[test]
    fn the_example_terms_parse_with_amounts_in_aif() {
        let terms = parse_terms(EXAMPLE, false).unwrap();
        assert_eq!(terms.budget, parse_aif("1000").unwrap());
        assert_eq!(terms.trainer_stake, parse_aif("50").unwrap());
        assert!(
            terms.split.is_whole(),
            "the example's split sums to 10,000 bps"
        );
        // The same terms as JSON, with amounts in base units as the API prints them.
        let json = serde_json::to_string(&terms).unwrap();
        assert_eq!(parse_terms(&json, true).unwrap(), terms);
    }

    #[test]
    fn terms_over_a_cap_or_with_a_bad_amount_are_refused() {
        let mut value: serde_json::Value =
            serde_json::to_value(parse_terms(EXAMPLE, false).unwrap()).unwrap();
        value["datasets"] = serde_json::json!((1..=65).collect::<Vec<u64>>());
        assert!(parse_terms(&value.to_string(), true).is_err());
        let bad = EXAMPLE.replace("budget = \"1000\"", "budget = \"10.0000000001\"");
        assert_ne!(bad, EXAMPLE);
        assert!(parse_terms(&bad, false).is_err());
    }

    #[test]
    fn a_saved_commitment_reveals_only_unedited() {
        let validator = Address([3; 32]);
        let report = ScoreReport {
            metric: 910_000,
            ..ScoreReport::default()
        };
        let first = commitment(7, validator, None, report.clone());
        let second = commitment(7, validator, None, report.clone());
        assert_ne!(first.salt, second.salt, "each commit draws a fresh salt");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commit.json");
        write_new(&path, &first).unwrap();
        assert!(
            write_new(&path, &second).is_err(),
            "an existing file is kept"
        );
        assert_eq!(read_saved(&path).unwrap(), first);

        let mut edited = first.clone();
        edited.report.metric = 990_000;
        let edited_path = dir.path().join("edited.json");
        write_new(&edited_path, &edited).unwrap();
        assert!(read_saved(&edited_path).is_err());
    }

    #[test]
    fn contributions_parse_as_address_and_samples() {
        let address = Address([5; 32]);
        let parsed = parse_contribution(&format!("{address}=120")).unwrap();
        assert_eq!((parsed.provider, parsed.samples), (address, 120));
        assert!(parse_contribution("120").is_err());
        assert!(parse_contribution(&format!("{address}=x")).is_err());
    }
}
