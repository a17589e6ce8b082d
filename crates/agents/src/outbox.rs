//! Sending transactions so that a restart never sends a different one for the same purpose.
//!
//! Every transaction an agent sends has a *label* naming what it is for (`post job 3 round 2
//! phase 0`). The signed bytes are written to the journal under that label before they go
//! out; a restarted agent finds them there and re-submits exactly those bytes rather than
//! signing anew. A label whose transaction is final is never sent again. The agent sends one
//! transaction at a time and waits for it to be final, so its next nonce is always the one the
//! chain records.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aifactory_client::ClientError;
use aifactory_client::views::TxStatus;
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Address, Amount, Hash, Payload, SecretKey, SignedTransaction, Transaction, TxError, TxOutcome,
    codec,
};
use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::journal::Journal;
use crate::nodes::Nodes;

/// How often to ask whether a sent transaction is final.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long to wait for a sent transaction before giving up on this attempt (the journal keeps
/// it; the next attempt re-submits the same bytes).
const FINAL_TIMEOUT: Duration = Duration::from_secs(60);

/// What became of a sent transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sent {
    /// Final, and its action took effect.
    Done,
    /// Final, but the ledger refused its action (the fee was paid).
    Refused(TxError),
    /// Executed (the account's nonce passed it), but the node no longer has its receipt.
    Executed,
}

/// One journaled transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// The signed transaction, hex of its encoding.
    tx: String,
    /// Its id.
    hash: Hash,
    /// Its nonce.
    nonce: u64,
    /// What became of it, once known.
    outcome: Option<Sent>,
}

/// The journal's content: every label sent, and its transaction.
type Entries = BTreeMap<String, Entry>;

/// An account that sends labelled transactions through a set of nodes.
pub struct Outbox {
    key: SecretKey,
    address: Address,
    fee: Amount,
    chain_id: Option<ChainId>,
    journal: Journal<Entries>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// The outbox of `key`, journaled at `path`, offering `fee` per transaction.
    pub fn open(key: SecretKey, fee: Amount, path: &Path) -> anyhow::Result<Self> {
        Ok(Outbox {
            address: key.address(),
            key,
            fee,
            chain_id: None,
            journal: Journal::open(path)?,
        })
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The account's key (a secure round's client signs with it and derives its secrets
    /// from it).
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// The outcome of `label`'s transaction if it is final.
    pub fn outcome(&self, label: &str) -> Option<&Sent> {
        self.journal.get().get(label)?.outcome.as_ref()
    }

    /// Sends `payload` under `label` and waits until it is final; if `label` was sent before
    /// (by this process or before a restart), its journaled transaction is used instead and
    /// `payload` is ignored.
    pub async fn send(
        &mut self,
        nodes: &Nodes,
        label: &str,
        payload: Payload,
    ) -> anyhow::Result<Sent> {
        if let Some(outcome) = self.outcome(label) {
            return Ok(outcome.clone());
        }
        let entry = match self.journal.get().get(label) {
            Some(entry) => entry.clone(),
            None => {
                let signed = self.sign(nodes, payload).await?;
                let entry = Entry {
                    tx: hex::encode(codec::encode(&signed)),
                    hash: signed.hash(),
                    nonce: signed.tx.nonce,
                    outcome: None,
                };
                self.journal
                    .update(|entries| entries.insert(label.to_owned(), entry.clone()))?;
                entry
            }
        };
        let outcome = self.deliver(nodes, label, &entry).await?;
        self.journal.update(|entries| {
            if let Some(e) = entries.get_mut(label) {
                e.outcome = Some(outcome.clone());
            }
        })?;
        Ok(outcome)
    }

    /// Forgets every label starting with `prefix` (a finished job's), so the journal stays small.
    pub fn forget(&mut self, prefix: &str) -> anyhow::Result<()> {
        if !self.journal.get().keys().any(|k| k.starts_with(prefix)) {
            return Ok(());
        }
        self.journal.update(|entries| {
            entries.retain(|label, e| !label.starts_with(prefix) || e.outcome.is_none())
        })
    }

    async fn sign(&mut self, nodes: &Nodes, payload: Payload) -> anyhow::Result<SignedTransaction> {
        let chain_id = match &self.chain_id {
            Some(id) => id.clone(),
            None => {
                let status = nodes.call(|c| async move { c.status().await }).await?;
                let id = ChainId::new(status.chain_id).map_err(|e| anyhow!("chain id: {e}"))?;
                self.chain_id = Some(id.clone());
                id
            }
        };
        let nonce = self.next_nonce(nodes).await?;
        let tx = Transaction {
            chain_id,
            sender: self.address,
            nonce,
            fee: self.fee,
            expiry_height: u64::MAX,
            payload,
        };
        Ok(tx.sign(&self.key))
    }

    /// The account's next nonce as the chain records it (0 for an account it does not know).
    async fn next_nonce(&self, nodes: &Nodes) -> anyhow::Result<u64> {
        let address = self.address;
        match nodes
            .call(|c| async move { c.account(&address).await })
            .await
        {
            Ok(view) => Ok(view.proof.account.nonce),
            Err(e) if e.is_not_found() => Ok(0),
            Err(e) => Err(e).context("reading the agent's nonce"),
        }
    }

    /// Submits the entry's bytes (again, if need be) and waits until it is final.
    async fn deliver(&self, nodes: &Nodes, label: &str, entry: &Entry) -> anyhow::Result<Sent> {
        let bytes = hex::decode(&entry.tx).context("a journaled transaction")?;
        match nodes
            .call(|c| {
                let bytes = bytes.clone();
                async move { c.submit_tx_bytes(bytes).await }
            })
            .await
        {
            Ok(_) => {}
            // In the mempool already, or its nonce used: by this very transaction, or the
            // wait below finds it was another.
            Err(ClientError::Api { status: 409, .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("submitting {label}")),
        }
        let started = tokio::time::Instant::now();
        loop {
            let hash = entry.hash;
            match nodes.call(|c| async move { c.tx(&hash).await }).await {
                Ok(view) => match view.status {
                    TxStatus::Included {
                        height, receipt, ..
                    } => {
                        let finalized = nodes
                            .call(|c| async move { c.status().await })
                            .await?
                            .finalized_height;
                        if finalized >= height {
                            return Ok(match receipt.outcome {
                                TxOutcome::Success => Sent::Done,
                                TxOutcome::Failed(error) => Sent::Refused(error),
                            });
                        }
                    }
                    TxStatus::Pending => {}
                    TxStatus::Dropped { error } => {
                        bail!("the node dropped {label} ({}): {error}", entry.hash)
                    }
                },
                Err(e) if e.is_not_found() => {
                    if self.next_nonce(nodes).await? > entry.nonce {
                        return Ok(Sent::Executed);
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("following {label}")),
            }
            if started.elapsed() > FINAL_TIMEOUT {
                bail!(
                    "{label} ({}) was not final after {FINAL_TIMEOUT:?}",
                    entry.hash
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}
