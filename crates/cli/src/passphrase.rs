//! Where passphrases come from: a file, the environment, or a prompt on the terminal.

use std::path::Path;

use anyhow::{Context as _, bail};

/// The environment variable a passphrase may come from (for scripts).
pub(crate) const PASSPHRASE_ENV: &str = "AIFACTORY_PASSPHRASE";

/// Reads a passphrase from `file`, `$AIFACTORY_PASSPHRASE`, or the terminal (asking twice
/// when `confirm`).
pub(crate) fn read(file: Option<&Path>, prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the passphrase file {}", path.display()))?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(passphrase);
    }
    let passphrase = rpassword::prompt_password(prompt).with_context(|| {
        format!("no terminal to ask for a passphrase: set {PASSPHRASE_ENV} or --passphrase-file")
    })?;
    if confirm {
        let again = rpassword::prompt_password("Repeat the passphrase: ")?;
        if again != passphrase {
            bail!("the passphrases do not match");
        }
    }
    if passphrase.is_empty() {
        bail!("an empty passphrase protects nothing; use --insecure-plaintext for devnet keys");
    }
    Ok(passphrase)
}
