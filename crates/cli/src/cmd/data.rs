//! `aifactory data`: the provider's tools — check a CSV against its schema, anonymise it,
//! commit to its rows (Merkle root, inclusion proofs), split it.

use std::path::{Path, PathBuf};

use aifactory_learn::data::anonymise::{AnonymisePlan, anonymise};
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::data::{kanon, merkle, quality, split};
use anyhow::Context as _;
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;

/// `aifactory data`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

/// The table and its schema, shared by every subcommand.
#[derive(Debug, clap::Args)]
pub(crate) struct Input {
    /// The CSV file.
    #[arg(long)]
    data: PathBuf,
    /// The schema: a JSON file, or `adult` for the built-in Adult schema.
    #[arg(long)]
    schema: String,
}

impl Input {
    pub(crate) fn load(&self) -> anyhow::Result<(Schema, Table)> {
        let schema = Schema::load(&self.schema)?;
        let table = Table::read_csv(&self.data, &schema)
            .with_context(|| format!("reading {}", self.data.display()))?;
        Ok((schema, table))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Quality report (missing, invalid, out of range, label balance, duplicates) and k-anonymity.
    Check {
        #[command(flatten)]
        input: Input,
        /// The k the report measures suppression against.
        #[arg(long, default_value_t = 5)]
        k: usize,
    },
    /// Drop, pseudonymise and generalise columns; report k-anonymity and l-diversity after.
    Anonymise {
        #[command(flatten)]
        input: Input,
        /// The plan (JSON: drop, pseudonymise, generalise).
        #[arg(long)]
        plan: PathBuf,
        /// A file holding the 32-byte pseudonymisation key as 64 hex characters.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// The k the report measures suppression against.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// Where to write the anonymised CSV.
        #[arg(long)]
        out: PathBuf,
    },
    /// The BLAKE3 Merkle root of the rows, and optionally an inclusion proof for one row.
    Commit {
        #[command(flatten)]
        input: Input,
        /// Prove the row at this index (from 0).
        #[arg(long)]
        prove: Option<usize>,
    },
    /// A seeded train/test split, stratified by the label if the schema names one.
    Split {
        #[command(flatten)]
        input: Input,
        /// Fraction of rows in the test part.
        #[arg(long, default_value_t = 0.2)]
        test_fraction: f64,
        /// Seed of the shuffle.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the training rows.
        #[arg(long)]
        train_out: PathBuf,
        /// Where to write the test rows.
        #[arg(long)]
        test_out: PathBuf,
    },
}

#[derive(Debug, Serialize)]
struct CheckReport {
    quality: quality::QualityReport,
    anonymity: Option<kanon::AnonymityReport>,
}

fn anonymity(
    schema: &Schema,
    table: &Table,
    k: usize,
) -> anyhow::Result<Option<kanon::AnonymityReport>> {
    if schema.quasi_identifiers.is_empty() {
        return Ok(None);
    }
    let qi: Vec<String> = schema
        .quasi_identifiers
        .iter()
        .filter(|q| table.index(q).is_ok())
        .cloned()
        .collect();
    let sensitive = schema
        .sensitive
        .as_deref()
        .filter(|s| table.index(s).is_ok());
    Ok(Some(kanon::report(table, &qi, sensitive, k)?))
}

fn read_key(path: Option<&Path>) -> anyhow::Result<[u8; 32]> {
    let Some(path) = path else {
        return Ok([0u8; 32]);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = hex::decode(text.trim()).context("the key file must hold 64 hex characters")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the key must be 32 bytes"))
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Check { input, k } => {
            let (schema, table) = input.load()?;
            let report = CheckReport {
                quality: quality::report(&table, &schema)?,
                anonymity: anonymity(&schema, &table, k)?,
            };
            context.print(&report, |r| {
                serde_json::to_string_pretty(r).expect("report serialises")
            });
        }
        Command::Anonymise {
            input,
            plan,
            key_file,
            k,
            out,
        } => {
            let (schema, table) = input.load()?;
            if key_file.is_none() {
                eprintln!("warning: no --key-file: pseudonyms use an all-zero key");
            }
            let plan: AnonymisePlan = serde_json::from_str(
                &std::fs::read_to_string(&plan)
                    .with_context(|| format!("reading {}", plan.display()))?,
            )?;
            let result = anonymise(&table, &plan, &read_key(key_file.as_deref())?)?;
            result.write_csv(&out, "?", true)?;
            let report = anonymity(&schema, &result, k)?;
            context.print(&report, |r| {
                serde_json::to_string_pretty(r).expect("report serialises")
            });
        }
        Command::Commit { input, prove } => {
            let (_, table) = input.load()?;
            let root = merkle::root(&table.rows)?;
            let proof = prove.map(|i| merkle::prove(&table.rows, i)).transpose()?;
            let out = serde_json::json!({"rows": table.rows.len(), "merkle_root": hex::encode(root), "row": prove, "proof": proof});
            context.print(&out, |o| serde_json::to_string_pretty(o).expect("json"));
        }
        Command::Split {
            input,
            test_fraction,
            seed,
            train_out,
            test_out,
        } => {
            let (schema, table) = input.load()?;
            let (train, test) = split::split(&table, test_fraction, schema.label.as_deref(), seed)?;
            table
                .subset(&train)
                .write_csv(&train_out, "?", schema.header)?;
            table
                .subset(&test)
                .write_csv(&test_out, "?", schema.header)?;
            let out = serde_json::json!({"train_rows": train.len(), "test_rows": test.len()});
            context.print(&out, |o| {
                format!(
                    "{} training rows to {}, {} test rows to {}",
                    o["train_rows"],
                    train_out.display(),
                    o["test_rows"],
                    test_out.display()
                )
            });
        }
    }
    Ok(())
}
