//! The wire vocabulary: every request and response body the API speaks, shared with the
//! client so both sides serialise the same types. Hashes are hex, addresses bech32m, amounts
//! integers in base units; the ledger's own types (`Receipt`, `Block`, `AccountProof`, ...)
//! travel as they serialise themselves, and `schemas` describes them to OpenAPI.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use aifactory_types::{
    AccountProof, Address, Amount, Block, Event, Hash, Header, Receipt, TxError, TxOutcome,
};

use crate::schemas;

pub mod gateway;
pub mod inference;
pub mod lifecycle;

/// A transaction to submit: its canonical Borsh encoding (see `docs/encoding.md`), in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTx {
    /// `borsh(SignedTransaction)` as lowercase or uppercase hex, at most 4096 bytes decoded.
    #[schema(pattern = "^([0-9a-fA-F]{2})+$", max_length = 8192)]
    pub tx_hex: String,
}

/// The node accepted a transaction into its mempool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxAccepted {
    /// The transaction's id, to poll `GET /v1/txs/{hash}` with.
    #[schema(value_type = schemas::HashHex)]
    pub tx_hash: Hash,
}

/// What became of each transaction of a `POST /v1/txs/batch`, in the order they were sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TxBatchResults {
    /// One result per transaction sent, in order.
    pub results: Vec<TxBatchItem>,
}

/// One transaction of a batch: accepted with its id, or refused with the error that
/// `POST /v1/txs` would have answered for it alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TxBatchItem {
    /// The HTTP status `POST /v1/txs` would have answered: 202 when accepted.
    pub status: u16,
    /// The transaction's id, when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schemas::HashHex>)]
    pub tx_hash: Option<Hash>,
    /// Why it was refused, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// Where a transaction is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool, waiting for a block.
    Pending,
    /// In a block; the receipt says whether its action succeeded.
    Included {
        /// The block's height.
        height: u64,
        /// The block's hash.
        #[schema(value_type = schemas::HashHex)]
        block_hash: Hash,
        /// The transaction's position in the block.
        index: u32,
        /// What happened.
        #[schema(value_type = schemas::ReceiptSchema)]
        receipt: Receipt,
    },
    /// Left the mempool without being included: it became inadmissible (expired, its nonce
    /// taken by another transaction, stuck behind a nonce gap too long).
    Dropped {
        /// Why.
        #[schema(value_type = schemas::TxErrorSchema)]
        error: TxError,
    },
}

/// A transaction's status, with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxView {
    /// The transaction's id.
    #[schema(value_type = schemas::HashHex)]
    pub tx_hash: Hash,
    /// Where it is.
    pub status: TxStatus,
}

/// An account with a proof against the state root of a given block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// The height of the block whose state the proof is against.
    pub height: u64,
    /// That block's state root: `proof.verify(state_root)` must hold.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The account's address, contents and Merkle proof.
    #[schema(value_type = schemas::AccountProofSchema)]
    pub proof: AccountProof,
}

/// A block with the receipts of its transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockView {
    /// The block's hash (of its header).
    #[schema(value_type = schemas::HashHex)]
    pub hash: Hash,
    /// The block.
    #[schema(value_type = schemas::BlockSchema)]
    pub block: Block,
    /// One receipt per transaction, in block order; `null` for a block below the heights the
    /// node recorded outcomes for (it started from a snapshot above it, or predates them).
    #[schema(value_type = Option<Vec<schemas::ReceiptSchema>>)]
    pub receipts: Option<Vec<Receipt>>,
    /// What the block did outside its transactions, in order (due deadlines: phases ending,
    /// rounds failing, jobs settling, slashes); `null` exactly when `receipts` is.
    #[serde(default)]
    #[schema(value_type = Option<Vec<schemas::EventSchema>>)]
    pub events: Option<Vec<Event>>,
}

/// Which block: by height, by hash, or the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// The block at this height (genesis has none; the first block is 1).
    Height(u64),
    /// The block with this hash.
    Hash(Hash),
    /// The highest block this node has.
    Latest,
}

impl std::str::FromStr for BlockId {
    type Err = String;

    /// Parses `latest`, a decimal height, or 64 hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "latest" {
            return Ok(BlockId::Latest);
        }
        if !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(BlockId::Height)
                .map_err(|_| format!("height {text:?} does not fit in 64 bits"));
        }
        text.parse().map(BlockId::Hash).map_err(|_| {
            format!("{text:?} is neither a block height, 64 hex digits of a hash, nor `latest`")
        })
    }
}

impl std::fmt::Display for BlockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockId::Height(height) => write!(f, "{height}"),
            BlockId::Hash(hash) => write!(f, "{hash}"),
            BlockId::Latest => f.write_str("latest"),
        }
    }
}

/// A peer this node is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// The peer's address (its ed25519 public key, which names it in p2p).
    pub id: String,
    /// Its socket address, if known.
    pub addr: Option<String>,
}

/// A member of the current epoch's validator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidatorView {
    /// Its account address, which is also its consensus key.
    #[schema(value_type = schemas::AddressText)]
    pub address: Address,
    /// Its bonded stake, in base units.
    pub bonded: Amount,
}

/// The node's view of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// The chain's id, part of every signed transaction.
    pub chain_id: String,
    /// The height of the last block this node applied.
    pub height: u64,
    /// The height of the last finalized block (never reverted).
    pub finalized_height: u64,
    /// The hash of the last block applied.
    #[schema(value_type = schemas::HashHex)]
    pub last_block_hash: Hash,
    /// The state root after the last block applied.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The consensus epoch of the next block (the validator set changes only between epochs).
    pub epoch: u64,
    /// The validators of that epoch, in address order.
    pub validators: Vec<ValidatorView>,
    /// The peers this node is connected to.
    pub peers: Vec<PeerView>,
}

#[cfg(feature = "ledger")]
impl StatusView {
    /// The status of a node whose last finalized state is `state`, connected to `peers`; one
    /// constructor so the node and `testing` report the same fields the same way.
    pub fn from_state(state: &aifactory_ledger::State, peers: Vec<PeerView>) -> Self {
        StatusView {
            chain_id: state.chain_id().to_owned(),
            height: state.height(),
            finalized_height: state.height(),
            last_block_hash: state.last_block_hash(),
            state_root: state.root(),
            epoch: state.validator_set_epoch(),
            validators: state
                .validators()
                .map(|(address, bonded)| ValidatorView { address, bonded })
                .collect(),
            peers,
        }
    }
}

/// A blob the node now stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlobStored {
    /// Its BLAKE3 hash (plain, unkeyed), which names it.
    #[schema(value_type = schemas::HashHex)]
    pub hash: Hash,
    /// Its length in bytes.
    pub size: u64,
    /// False if the node already had it.
    pub created: bool,
}

/// Something that happened on the chain, as sent on `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChainEvent {
    /// A block was applied.
    Block {
        /// Its height.
        height: u64,
        /// Its hash.
        #[schema(value_type = schemas::HashHex)]
        hash: Hash,
        /// How many transactions it holds.
        tx_count: u32,
        /// The state root after it.
        #[schema(value_type = schemas::HashHex)]
        state_root: Hash,
    },
    /// A transaction was included in a block.
    TxIncluded {
        /// The transaction's id.
        #[schema(value_type = schemas::HashHex)]
        tx_hash: Hash,
        /// The block's height.
        height: u64,
        /// Whether its action succeeded (a failed one still paid its fee).
        success: bool,
    },
    /// Something the ledger recorded: one of a transaction's receipt events (with its id), or
    /// one of the block's own (deadlines: phases ending, rounds failing, jobs settling).
    Ledger {
        /// The block's height.
        height: u64,
        /// The transaction whose receipt holds the event; `null` for the block's own events.
        #[schema(value_type = Option<schemas::HashHex>)]
        tx_hash: Option<Hash>,
        /// The event itself.
        #[schema(value_type = schemas::EventSchema)]
        event: Event,
    },
    /// This subscriber fell behind and missed events; re-read state to catch up (only on a
    /// stream without `from_height`: a resumed stream refills itself from the node's history).
    Lagged {
        /// How many events were skipped.
        skipped: u64,
    },
}

impl ChainEvent {
    /// The SSE event name this event is sent under (its `type`).
    pub fn name(&self) -> &'static str {
        match self {
            ChainEvent::Block { .. } => "block",
            ChainEvent::TxIncluded { .. } => "tx_included",
            ChainEvent::Ledger { .. } => "ledger",
            ChainEvent::Lagged { .. } => "lagged",
        }
    }

    /// The height of the block the event belongs to; `None` for `Lagged`.
    pub fn height(&self) -> Option<u64> {
        match self {
            ChainEvent::Block { height, .. }
            | ChainEvent::TxIncluded { height, .. }
            | ChainEvent::Ledger { height, .. } => Some(*height),
            ChainEvent::Lagged { .. } => None,
        }
    }

    /// The events one finalized block contributes to the stream, in their fixed order: for
    /// each transaction in block order its `TxIncluded` then its receipt's events, then the
    /// block's own events, and last the `Block` itself, which tells a subscriber the height
    /// is complete. The node and its test stand-in both build them here, so live and replayed
    /// streams cannot differ.
    pub fn of_block(
        height: u64,
        hash: Hash,
        state_root: Hash,
        receipts: &[Receipt],
        events: &[Event],
    ) -> Vec<ChainEvent> {
        let per_receipt: usize = receipts.iter().map(|r| r.events.len() + 1).sum();
        let mut out = Vec::with_capacity(per_receipt + events.len() + 1);
        for receipt in receipts {
            out.push(ChainEvent::TxIncluded {
                tx_hash: receipt.tx_hash,
                height,
                success: receipt.outcome == TxOutcome::Success,
            });
            out.extend(receipt.events.iter().map(|event| ChainEvent::Ledger {
                height,
                tx_hash: Some(receipt.tx_hash),
                event: event.clone(),
            }));
        }
        out.extend(events.iter().map(|event| ChainEvent::Ledger {
            height,
            tx_hash: None,
            event: event.clone(),
        }));
        out.push(ChainEvent::Block {
            height,
            hash,
            tx_count: u32::try_from(receipts.len()).expect("blocks hold fewer than 2^32 txs"),
            state_root,
        });
        out
    }
}

/// The heights whose events a node can replay for `GET /v1/events?from_height=`:
/// `lowest..=tip`, empty when `lowest > tip` (nothing finalized since the node's start point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeights {
    /// The lowest height replayable; below it the node has no record (it started from a
    /// snapshot above it).
    pub lowest: u64,
    /// The highest finalized height whose events are recorded.
    pub tip: u64,
}

/// Every error body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's machine-readable code, human-readable message, and optional structured details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code (`malformed_transaction`, `nonce_replayed`, `rate_limited`, ...).
    pub code: String,
    /// What happened and what to do about it.
    pub message: String,
    /// Structured details when there are any: for a ledger refusal, the `TxError` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// One epoch boundary, for a node that syncs from this one: the epoch's last block header,
/// the finalization of it, and the proof of the validator set its state names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncEpoch {
    /// The epoch whose last block this is.
    pub epoch: u64,
    /// The block's height: the last of the epoch.
    pub height: u64,
    /// The block's header.
    #[schema(value_type = schemas::HeaderSchema)]
    pub header: Header,
    /// The block's finalization (commonware's encoding of simplex's `Finalization`), in hex;
    /// signed by the epoch's validators.
    pub finalization: String,
    /// `borsh(ValidatorSetProof)` of the state after the block, in hex: the next epoch's set
    /// against the header's state root.
    pub proof: String,
}

/// Epoch boundaries in order, from the one asked for; at most `SYNC_EPOCHS_MAX` of them, and
/// none past the node's latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncEpochs {
    /// The boundaries, epoch by epoch without gaps.
    pub epochs: Vec<SyncEpoch>,
}

/// Most boundaries one `GET /v1/sync/epochs` returns.
pub const SYNC_EPOCHS_MAX: usize = 64;

/// Most proof bytes one `GET /v1/sync/epochs` carries past its first boundary: the server
/// stops listing there, so the body stays under [`SYNC_EPOCHS_BODY_BYTES_MAX`].
pub const SYNC_EPOCHS_PROOF_BYTES_BUDGET: usize = 16 << 20;

/// Most bytes of a `GET /v1/sync/epochs` body a client reads: the budget plus one largest
/// proof (`ValidatorSetProof`, at most 2^20 slots of 41 bytes), both in hex, with room for
/// the headers and finalizations.
pub const SYNC_EPOCHS_BODY_BYTES_MAX: usize =
    2 * (SYNC_EPOCHS_PROOF_BYTES_BUDGET + (41 << 20)) + (1 << 20);

/// The response header naming the height of the snapshot `GET /v1/sync/snapshot` sends.
pub const SNAPSHOT_HEIGHT_HEADER: &str = "x-snapshot-height";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_parse() {
        assert_eq!("latest".parse(), Ok(BlockId::Latest));
        assert_eq!("17".parse(), Ok(BlockId::Height(17)));
        let hash = Hash([0xab; 32]);
        assert_eq!(hash.to_string().parse(), Ok(BlockId::Hash(hash)));
        for bad in ["", "-1", "99999999999999999999", "abc", "0x12"] {
            assert!(bad.parse::<BlockId>().is_err(), "{bad:?} parsed");
        }
        for id in [BlockId::Latest, BlockId::Height(3), BlockId::Hash(hash)] {
            assert_eq!(id.to_string().parse(), Ok(id));
        }
    }
}

/// Where a node looks for a blob it is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobLookup {
    /// Its own store, then (once, never forwarded further) its peers'.
    AskPeers,
    /// Its own store only: what a node asks of a peer, so a request for a blob nobody has
    /// ends after one hop instead of circling between nodes.
    Local,
}
