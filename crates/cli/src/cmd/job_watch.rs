//! `aifactory job watch JOB`: follow a job live until it ends: a progress bar of its rounds,
//! a line as each round closes (with the new model's accuracy on your own labelled rows if you
//! give some), each stage change, and the payouts at the end. With `--json`, one JSON object
//! per line instead.

use std::path::PathBuf;
use std::time::Duration;

use aifactory_agents::nodes::Nodes;
use aifactory_agents::recipe::fetch_model;
use aifactory_client::views::lifecycle::JobView;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::federated::simulation::evaluate_accuracy;
use aifactory_types::amount::format_aif;
use aifactory_types::lifecycle::{JobId, RoundStage};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cmd::lifecycle::fetch;
use crate::cmd::status::{Node, NodeArgs};
use crate::context::Context;

/// How often the job is read again.
const POLL: Duration = Duration::from_millis(500);

/// Arguments of `job watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    /// The job's id.
    job: JobId,
    /// Labelled rows (CSV) to measure each round's model on; without them no accuracy is shown.
    #[arg(long, requires = "eval_schema")]
    eval_data: Option<PathBuf>,
    /// The schema of --eval-data: a JSON file, or `adult`.
    #[arg(long)]
    eval_schema: Option<String>,
    #[command(flatten)]
    node: NodeArgs,
}

/// One thing that happened, as `--json` prints it.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Watched {
    Stage {
        stage: String,
    },
    RoundClosed {
        round: u32,
        index: u16,
        contributions: usize,
        model: String,
        accuracy: Option<f64>,
    },
    RoundFailed {
        round: u32,
        index: u16,
    },
    Paid {
        participant: String,
        amount: u64,
    },
}

pub(crate) fn run(args: WatchArgs, context: &Context) -> anyhow::Result<()> {
    let node = Node::connect(&args.node)?;
    let nodes = Nodes::new(&[node.url().to_owned()])?;
    let rows = match (&args.eval_data, &args.eval_schema) {
        (Some(data), Some(schema)) => {
            let schema = Schema::load(schema)?;
            Some(
                Table::read_csv(data, &schema)
                    .with_context(|| format!("reading {}", data.display()))?,
            )
        }
        _ => None,
    };
    let job = args.job;
    let missing = || format!("no job {job} was opened on this chain");
    let first: JobView = fetch(&node, node.client.job(job), missing)?;
    let rounds = u64::from(first.entries.job.value.terms.rounds);
    let bar = if context.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(rounds)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} round {pos}/{len} {msg}").expect("a valid template"),
    );
    let say = |event: Watched, human: String| {
        if context.json {
            println!(
                "{}",
                serde_json::to_string(&event).expect("events serialise")
            );
        } else {
            bar.println(human);
        }
    };
    let mut stage = String::new();
    let mut seen_rounds = 0u32;
    loop {
        let view: JobView = fetch(&node, node.client.job(job), missing)?;
        let the_job = &view.entries.job.value;
        let now = serde_json::to_value(the_job.status).expect("a status serialises")["stage"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if now != stage {
            say(
                Watched::Stage { stage: now.clone() },
                format!("job {job}: {now}"),
            );
            stage = now;
        }
        for seq in seen_rounds + 1..=the_job.rounds_started {
            let round = fetch(&node, node.client.round(job, seq), || {
                format!("round {seq}")
            })?
            .round
            .value;
            match round.stage {
                RoundStage::Closed { model, .. } => {
                    let accuracy = match &rows {
                        Some(rows) => {
                            let (m, features) = node.block_on(fetch_model(&nodes, &model))?;
                            let samples =
                                features.encode(rows).map_err(|e| anyhow::anyhow!("{e}"))?;
                            Some(
                                evaluate_accuracy(&m.spec, &m.params, &samples)
                                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                            )
                        }
                        None => None,
                    };
                    bar.inc(1);
                    let shown = accuracy.map_or(String::new(), |a| format!(", accuracy {a:.4}"));
                    say(
                        Watched::RoundClosed {
                            round: seq,
                            index: round.index,
                            contributions: round.contributions.len(),
                            model: model.to_string(),
                            accuracy,
                        },
                        format!(
                            "round {} closed: {} updates, model {model}{shown}",
                            round.index + 1,
                            round.contributions.len()
                        ),
                    );
                    seen_rounds = seq;
                }
                RoundStage::Failed | RoundStage::Abandoned => {
                    say(
                        Watched::RoundFailed {
                            round: seq,
                            index: round.index,
                        },
                        format!("round {} (attempt {seq}) failed", round.index + 1),
                    );
                    seen_rounds = seq;
                }
                _ => break,
            }
        }
        if the_job.status.is_finished() {
            bar.finish_and_clear();
            for p in &view.entries.participants {
                if p.value.paid > 0 {
                    say(
                        Watched::Paid {
                            participant: p.key.1.to_string(),
                            amount: p.value.paid,
                        },
                        format!("paid {} AIF to {}", format_aif(p.value.paid), p.key.1),
                    );
                }
            }
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}
