//! `aifactory genesis`: make and inspect genesis files.

use std::path::PathBuf;

use aifactory_ledger::State;
use aifactory_types::amount::{format_aif, parse_aif};
use aifactory_types::{Amount, Genesis, GenesisAccount, GenesisValidator, Params};
use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use serde::Serialize;

use crate::cmd::keys::resolve_address;
use crate::context::Context;

/// `aifactory genesis`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new genesis file.
    New {
        /// The chain's name.
        #[arg(long, default_value = "aifactory-devnet")]
        chain_id: String,
        /// A validator as ADDRESS_OR_KEY=STAKE_AIF (repeat for each).
        #[arg(long = "validator", required = true)]
        validators: Vec<String>,
        /// A funded account as ADDRESS_OR_KEY=BALANCE_AIF (repeat for each).
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// The chain's start in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        genesis_time_ms: Option<u64>,
        /// Where to write it (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a genesis file and summarise it.
    Show {
        /// The file.
        file: PathBuf,
    },
}

fn split_amount(
    context: &Context,
    spec: &str,
) -> anyhow::Result<(aifactory_crypto::Address, Amount)> {
    let (who, amount) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("{spec:?} should look like ADDRESS_OR_KEY=AMOUNT_AIF"))?;
    let address = resolve_address(context, who)?;
    let amount = parse_aif(amount).with_context(|| format!("in {spec:?}"))?;
    Ok((address, amount))
}

/// Reads and validates a genesis file.
pub(crate) fn load(path: &std::path::Path) -> anyhow::Result<Genesis> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading genesis {}", path.display()))?;
    Genesis::from_json(&bytes).with_context(|| format!("in {}", path.display()))
}

#[derive(Serialize)]
struct Summary {
    chain_id: String,
    genesis_hash: String,
    state_root: String,
    total_supply: Amount,
    accounts: usize,
    validators: Vec<GenesisValidator>,
    params: Params,
}

/// Runs `aifactory genesis`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::New {
            chain_id,
            validators,
            accounts,
            genesis_time_ms,
            out,
        } => {
            let validators = validators
                .iter()
                .map(|spec| split_amount(context, spec))
                .map(|r| r.map(|(address, stake)| GenesisValidator { address, stake }))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let accounts = accounts
                .iter()
                .map(|spec| split_amount(context, spec))
                .map(|r| r.map(|(address, balance)| GenesisAccount { address, balance }))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let genesis_time_ms = genesis_time_ms.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            });
            let genesis = Genesis {
                chain_id,
                genesis_time_ms,
                params: Params::default(),
                accounts,
                validators,
            };
            genesis.validate()?;
            match out {
                Some(path) => {
                    std::fs::write(&path, genesis.to_json() + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote {} (hash {})", path.display(), genesis.hash());
                }
                None => println!("{}", genesis.to_json()),
            }
        }
        Command::Show { file } => {
            let genesis = load(&file)?;
            let state = State::from_genesis(&genesis)?;
            let summary = Summary {
                chain_id: genesis.chain_id.clone(),
                genesis_hash: genesis.hash().to_string(),
                state_root: state.root().to_string(),
                total_supply: state.total_supply(),
                accounts: state.account_count(),
                validators: genesis.validators.clone(),
                params: genesis.params.clone(),
            };
            context.print(&summary, |s| {
                let mut lines = vec![
                    format!("chain id      {}", s.chain_id),
                    format!("genesis hash  {}", s.genesis_hash),
                    format!("state root    {}", s.state_root),
                    format!("total supply  {} AIF", format_aif(s.total_supply)),
                    format!("accounts      {}", s.accounts),
                    format!("validators    {}", s.validators.len()),
                ];
                for v in &s.validators {
                    lines.push(format!("  {}  {} AIF", v.address, format_aif(v.stake)));
                }
                lines.join("\n")
            });
        }
    }
    Ok(())
}
