//! `aifactory keys`: the local key store.

use std::io::Read;
use std::path::PathBuf;

use aifactory_crypto::SecretKey;
use aifactory_wallet::{KeyInfo, Protection};
use anyhow::Context as _;
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;
use crate::passphrase;

/// `aifactory keys`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new key and show its 24-word backup phrase, once.
    New {
        /// The key's name.
        name: String,
        #[command(flatten)]
        protection: ProtectionArgs,
    },
    /// List the keys.
    List,
    /// Show a key's address.
    Show {
        /// The key's name.
        name: String,
    },
    /// Store an existing secret key, read as 64 hex characters from standard input.
    Import {
        /// The key's name.
        name: String,
        #[command(flatten)]
        protection: ProtectionArgs,
    },
    /// Print a key's secret as hex (anyone who sees it controls the account).
    Export {
        /// The key's name.
        name: String,
        /// Read the passphrase from this file.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Rebuild a key from its backup phrase, read from standard input.
    Recover {
        /// The key's name.
        name: String,
        #[command(flatten)]
        protection: ProtectionArgs,
    },
}

/// How to protect a key written to disk.
#[derive(Debug, clap::Args)]
struct ProtectionArgs {
    /// Read the passphrase from this file (otherwise $AIFACTORY_PASSPHRASE or a prompt).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Store the key unencrypted: for throwaway devnet keys only.
    #[arg(long)]
    insecure_plaintext: bool,
}

impl ProtectionArgs {
    fn passphrase(&self) -> anyhow::Result<Option<String>> {
        if self.insecure_plaintext {
            return Ok(None);
        }
        let prompt = "Passphrase for the new key: ";
        passphrase::read(self.passphrase_file.as_deref(), prompt, true).map(Some)
    }
}

fn protection(passphrase: &Option<String>) -> Protection<'_> {
    match passphrase {
        Some(passphrase) => Protection::Passphrase(passphrase),
        None => Protection::InsecurePlaintext,
    }
}

fn describe(info: &KeyInfo) -> String {
    let at_rest = if info.encrypted {
        "encrypted"
    } else {
        "PLAINTEXT"
    };
    format!("{:<20} {}  ({at_rest})", info.name, info.address)
}

fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(text.trim().to_owned())
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    info: KeyInfo,
    mnemonic: String,
}

/// Runs `aifactory keys`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let keystore = context.keystore();
    match args.command {
        Command::New {
            name,
            protection: p,
        } => {
            let passphrase = p.passphrase()?;
            let (info, mnemonic) = keystore.create(&name, protection(&passphrase))?;
            context.print(&Created { info, mnemonic }, |c| {
                format!(
                    "{}\n\nBackup phrase (shown once; anyone with it controls the key):\n{}",
                    describe(&c.info),
                    c.mnemonic
                )
            });
        }
        Command::List => {
            let keys = keystore.list()?;
            context.print(&keys, |keys| {
                if keys.is_empty() {
                    return "no keys yet: aifactory keys new NAME".to_owned();
                }
                keys.iter().map(describe).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Show { name } => {
            let info = keystore.show(&name)?;
            context.print(&info, describe);
        }
        Command::Import {
            name,
            protection: p,
        } => {
            let secret = read_stdin("secret key")?;
            let passphrase = p.passphrase()?;
            let info = keystore.import(&name, &secret, protection(&passphrase))?;
            context.print(&info, describe);
        }
        Command::Export {
            name,
            passphrase_file,
        } => {
            let key = open(context, &name, passphrase_file)?;
            let secret = hex::encode(key.to_bytes());
            context.print(
                &serde_json::json!({ "name": name, "secret_hex": secret }),
                |_| secret.clone(),
            );
        }
        Command::Recover {
            name,
            protection: p,
        } => {
            let phrase = read_stdin("backup phrase")?;
            let passphrase = p.passphrase()?;
            let info = keystore.recover(&name, &phrase, protection(&passphrase))?;
            context.print(&info, describe);
        }
    }
    Ok(())
}

/// Opens key `name` for signing, asking for its passphrase if it is encrypted.
pub(crate) fn open(
    context: &Context,
    name: &str,
    passphrase_file: Option<PathBuf>,
) -> anyhow::Result<SecretKey> {
    let keystore = context.keystore();
    let file = keystore.file(name)?;
    let passphrase = if file.is_encrypted() {
        let prompt = format!("Passphrase for {name}: ");
        Some(passphrase::read(
            passphrase_file.as_deref(),
            &prompt,
            false,
        )?)
    } else {
        None
    };
    Ok(file.open(passphrase.as_deref())?)
}

/// An address given directly (`aif1...`) or as the name of a local key.
pub(crate) fn resolve_address(
    context: &Context,
    text: &str,
) -> anyhow::Result<aifactory_crypto::Address> {
    if text.starts_with("aif1") {
        return Ok(text.parse()?);
    }
    Ok(context
        .keystore()
        .show(text)
        .with_context(|| format!("{text:?} is neither an address (aif1...) nor a key name"))?
        .address)
}
