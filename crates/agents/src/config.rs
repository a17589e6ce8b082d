//! An agent's configuration file (TOML): an `[agent]` table every role shares (nodes, key,
//! state directory, fee) and one table for the role (`[provider]`, `[trainer]` or
//! `[validator]`). Unknown keys are refused, so a typo is an error, not a silent default.

use std::path::{Path, PathBuf};

use aifactory_types::amount::parse_aif;
use aifactory_types::lifecycle::ModelId;
use aifactory_types::{Amount, Hash};
use anyhow::{Context as _, anyhow};
use serde::Deserialize;

/// What every agent needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Node API URLs, tried in order; the agent moves to the next when one fails.
    pub nodes: Vec<String>,
    /// The directory holding the key store (`keys/` under it), as for the CLI's `--home`.
    pub home: PathBuf,
    /// The key's name in the key store.
    pub key: String,
    /// A file holding the key's passphrase, if it is encrypted.
    #[serde(default)]
    pub passphrase_file: Option<PathBuf>,
    /// Where the agent keeps its own durable state.
    pub state_dir: PathBuf,
    /// The fee offered per transaction, in base units.
    #[serde(default = "default_fee")]
    pub fee: Amount,
    /// How long to wait for a new block before looking at the chain anyway, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_fee() -> Amount {
    1_000
}

fn default_poll_ms() -> u64 {
    500
}

/// An amount written in AIF in the file (`"1.5"`), in base units once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Aif(pub Amount);

impl<'de> Deserialize<'de> for Aif {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_aif(&text)
            .map(Aif)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an AIF amount: {e}")))
    }
}

/// Misbehaviour on purpose, for fault drills: how a test, or an operator rehearsing an
/// incident, makes an agent crash or lie at a chosen moment and watches the others and the
/// ledger deal with it. Leave it out of any real deployment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// Abort the process, as `kill -9` would, just before sending its message for round `n`
    /// (a provider's update, a trainer's close), after preparing and journaling it.
    #[serde(default)]
    pub crash_before_round: Option<u32>,
    /// With `crash_before_round`, crash only before this phase of that round (a secure round
    /// has five); without it, before the round's first message.
    #[serde(default)]
    pub crash_before_phase: Option<u8>,
    /// Trainer: publish a model other than the one the round's updates give.
    #[serde(default)]
    pub wrong_model: bool,
    /// Provider: multiply its honest update by this factor (a poisoning provider).
    #[serde(default)]
    pub scale_update: Option<f32>,
    /// Validator: commit to a score and never reveal it.
    #[serde(default)]
    pub withhold_reveal: bool,
    /// Gateway: answer with this model blob instead of the deployed one (a gateway passing
    /// off a cheaper model), while its receipts still name the deployed one.
    #[serde(default)]
    pub serve_blob: Option<Hash>,
}

/// A data provider: its rows, how it registers them, and which jobs it accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The rows (CSV), which never leave this machine.
    pub data: PathBuf,
    /// The table's schema (JSON), or `adult` for the built-in Adult schema.
    pub schema: String,
    /// The licence the dataset is offered under (SPDX).
    pub licence: String,
    /// The least it accepts per training use.
    #[serde(default)]
    pub price: Aif,
    /// Tokens to lock behind the dataset.
    pub stake: Aif,
    /// Which jobs to join.
    #[serde(default)]
    pub policy: ProviderPolicy,
    /// Faults to act out (tests and drills only).
    #[serde(default)]
    pub drill: Drill,
}

/// Which jobs a provider joins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPolicy {
    /// Models it will train; empty for any.
    #[serde(default)]
    pub models: Vec<ModelId>,
    /// Model licences (SPDX) it accepts the trained model being released under; empty for any.
    #[serde(default)]
    pub licences: Vec<String>,
    /// The largest ε one job may spend of its data (jobs with differential privacy).
    #[serde(default)]
    pub epsilon_max: Option<f64>,
    /// The total ε its data may spend over all jobs; a job that would pass it is refused.
    #[serde(default)]
    pub epsilon_budget: Option<f64>,
    /// Refuse jobs without differential privacy.
    #[serde(default)]
    pub require_privacy: bool,
    /// Refuse jobs without secure aggregation.
    #[serde(default)]
    pub require_secure_aggregation: bool,
}

/// A trainer: which jobs it claims.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerSettings {
    /// The most stake it locks in one job.
    #[serde(default)]
    pub stake_max: Option<Aif>,
    /// Models it will train; empty for any.
    #[serde(default)]
    pub models: Vec<ModelId>,
    /// Jobs it runs at once.
    #[serde(default = "default_jobs_max")]
    pub jobs_max: usize,
    /// Faults to act out (tests and drills only).
    #[serde(default)]
    pub drill: Drill,
}

fn default_jobs_max() -> usize {
    4
}

/// A validator: its held-out rows and what it stakes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSettings {
    /// Held-out labelled rows (CSV).
    pub data: PathBuf,
    /// Their schema (JSON), or `adult`.
    pub schema: String,
    /// Tokens to lock per job (at least the job's `validator_stake`; the job's own minimum if
    /// absent).
    #[serde(default)]
    pub stake: Option<Aif>,
    /// Models it will score; empty for any.
    #[serde(default)]
    pub models: Vec<ModelId>,
    /// Whether it judges challenges of gateways' answers and votes on them.
    #[serde(default = "default_judge")]
    pub judge: bool,
    /// Tokens to lock per challenge vote (the chain's `challenge_vote_stake_min` if absent or
    /// lower).
    #[serde(default)]
    pub challenge_stake: Option<Aif>,
    /// Faults to act out (tests and drills only).
    #[serde(default)]
    pub drill: Drill,
}

fn default_judge() -> bool {
    true
}

/// A provider's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Shared settings.
    pub agent: AgentSettings,
    /// The role's.
    pub provider: ProviderSettings,
}

/// A trainer's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerConfig {
    /// Shared settings.
    pub agent: AgentSettings,
    /// The role's.
    #[serde(default)]
    pub trainer: TrainerSettings,
}

/// A validator's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Shared settings.
    pub agent: AgentSettings,
    /// The role's.
    pub validator: ValidatorSettings,
}

/// Reads a configuration file; relative paths in it are taken from the file's directory.
pub fn load<T: serde::de::DeserializeOwned + Relative>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut config: T = toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    config.resolve(base);
    Ok(config)
}

/// A configuration whose relative paths are resolved against the file's directory.
pub trait Relative {
    /// Makes every relative path absolute from `base`.
    fn resolve(&mut self, base: &Path);
}

fn resolve(path: &mut PathBuf, base: &Path) {
    if path.is_relative() {
        *path = base.join(&*path);
    }
}

impl AgentSettings {
    pub(crate) fn resolve(&mut self, base: &Path) {
        resolve(&mut self.home, base);
        resolve(&mut self.state_dir, base);
        if let Some(p) = &mut self.passphrase_file {
            resolve(p, base);
        }
    }
}

impl Relative for ProviderConfig {
    fn resolve(&mut self, base: &Path) {
        self.agent.resolve(base);
        resolve(&mut self.provider.data, base);
    }
}

impl Relative for TrainerConfig {
    fn resolve(&mut self, base: &Path) {
        self.agent.resolve(base);
    }
}

impl Relative for ValidatorConfig {
    fn resolve(&mut self, base: &Path) {
        self.agent.resolve(base);
        resolve(&mut self.validator.data, base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_file_reads_with_relative_paths_and_amounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.toml");
        std::fs::write(
            &path,
            r#"
[agent]
nodes = ["http://127.0.0.1:8080"]
home = "home"
key = "alice"
state_dir = "state"

[provider]
data = "rows.csv"
schema = "adult"
licence = "CC-BY-4.0"
price = "0.5"
stake = "1"

[provider.policy]
epsilon_max = 4.0
"#,
        )
        .unwrap();
        let config: ProviderConfig = load(&path).unwrap();
        assert_eq!(config.agent.home, dir.path().join("home"));
        assert_eq!(config.provider.data, dir.path().join("rows.csv"));
        assert_eq!(config.provider.price, Aif(500_000_000));
        assert_eq!(config.provider.policy.epsilon_max, Some(4.0));
        assert_eq!(config.agent.fee, 1_000);
    }

    #[test]
    fn an_unknown_key_or_a_bad_amount_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trainer.toml");
        let base = "[agent]\nnodes = []\nhome = \"h\"\nkey = \"k\"\nstate_dir = \"s\"\n";
        std::fs::write(&path, format!("{base}[trainer]\njobs_maximum = 2\n")).unwrap();
        let error = load::<TrainerConfig>(&path).unwrap_err().to_string();
        assert!(error.contains("jobs_maximum"), "{error}");
        std::fs::write(&path, format!("{base}[trainer]\nstake_max = \"lots\"\n")).unwrap();
        let error = load::<TrainerConfig>(&path).unwrap_err().to_string();
        assert!(error.contains("not an AIF amount"), "{error}");
    }
}
