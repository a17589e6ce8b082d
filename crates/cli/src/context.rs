//! What every subcommand shares: where the home directory is, and how to print.

use std::path::PathBuf;

use aifactory_wallet::Keystore;
use serde::Serialize;

/// Global options, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The home directory (`--home`, `$AIFACTORY_HOME`, or `~/.aifactory`).
    pub(crate) home: PathBuf,
    /// Whether to print JSON.
    pub(crate) json: bool,
}

impl Context {
    pub(crate) fn new(home: Option<PathBuf>, json: bool) -> Self {
        let home = home.unwrap_or_else(|| {
            let base = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            base.join(".aifactory")
        });
        Context { home, json }
    }

    /// The key store under the home directory.
    pub(crate) fn keystore(&self) -> Keystore {
        Keystore::new(self.home.join("keys"))
    }

    /// Prints `value` as JSON when asked to, otherwise the text `human` renders.
    pub(crate) fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).expect("output serialises")
            );
        } else {
            println!("{}", human(value));
        }
    }
}
