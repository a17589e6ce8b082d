//! Wiring one node: marshal (block dissemination, backfill, finalized archives), the ledger
//! application behind marshal's `Inline` wrapper, and simplex, one engine per epoch
//! ([`crate::epochs`]), over whatever network and runtime the caller provides (the simulated
//! ones in tests, TCP and tokio in a node). A node votes in the epochs whose validator set
//! holds its key and follows the others as a verifier (a full node).
//!
//! **Channels** (each registered by the caller with a rate quota, before the network starts):
//! votes, certificates and simplex's own resolver; full blocks (buffered broadcast); backfill
//! (marshal's resolver, which fetches missing blocks and finalizations by digest or height).
//!
//! **Durable where** (all under the runtime's storage, prefixed by `partition_prefix`):
//! simplex's write-ahead journal (synced before any vote leaves, so a restart cannot
//! equivocate); marshal's immutable archives of finalized blocks and finalizations by height,
//! its cache of notarized blocks, and its processed height; each finalized block's receipts
//! and events by height ([`crate::outcomes`]). The ledger state is memory only.
//!
//! **Restart:** marshal reopens its archives and reports its processed height; [`start`]
//! replays finalized blocks 1..=processed from the archive into a fresh genesis state before
//! simplex starts, then simplex recovers its journal and marshal delivers anything after the
//! processed height (redelivered blocks are skipped by height). Blocks a restarted node
//! missed arrive through backfill from peers. The epoch entered is the one the next block
//! belongs to, with the participants the finalized state names.

use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};
use std::time::Duration;

use aifactory_ledger::State;
use aifactory_types::{Genesis, GenesisError, SecretKey};
use commonware_broadcast::buffered;
use commonware_consensus::marshal::core::Actor as Marshal;
use commonware_consensus::marshal::resolver::p2p as marshal_resolver;
use commonware_consensus::marshal::standard::{Inline, Standard};
use commonware_consensus::marshal::{self, Start};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::types::{Epoch, Epocher, FixedEpocher, Height, ViewDelta};
use commonware_cryptography::certificate;
use commonware_cryptography::ed25519::PublicKey;
use commonware_cryptography::{Digested, Digestible, Signer};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_storage::archive::immutable;
use commonware_utils::{NZU16, NZU64, NZUsize, NonZeroDuration};
use rand_core_0_10::CryptoRng;

use crate::application::LedgerApplication;
use crate::block::{BlockCodecConfig, ChainBlock, to_digest};
use crate::chain::{Chain, NodeHandle};
use crate::epochs::{self, EpochSchemes, EpochStart, Orchestrator};
use crate::finalizer;
use crate::keys::{self, KeyError};
use crate::mempool::MempoolConfig;
use crate::outcomes::{self, Outcomes};
use crate::snapshots::SnapshotPolicy;
use crate::sync::SyncFloor;

/// The consensus signing namespace: every vote and certificate is signed under it (the scheme
/// appends its own per-message suffixes), and nothing else is.
pub const CONSENSUS_NAMESPACE: &[u8] = b"aifactory-2026-11_CONSENSUS";

/// The p2p handshake namespace, separate from the consensus one.
pub const P2P_NAMESPACE: &[u8] = b"aifactory-2026-11_P2P";

/// Blocks per epoch, from the chain's parameters (checked at genesis to be at least 2).
fn epoch_length(genesis: &State) -> NonZeroU64 {
    NonZeroU64::new(genesis.params().epoch_length_blocks).expect("genesis checks the epoch length")
}
/// Capacity of every actor mailbox (marshal, broadcast, simplex).
pub(crate) const MAILBOX_SIZE: NonZeroUsize = NZUsize!(1024);
const PAGE_SIZE: NonZeroU16 = NZU16!(4096);
const PAGE_CACHE_PAGES: NonZeroUsize = NZUsize!(1024);
/// Write buffer of every journal and archive (marshal's and simplex's).
pub(crate) const WRITE_BUFFER: NonZeroUsize = NZUsize!(64 * 1024);
/// Replay buffer of every journal and archive (marshal's and simplex's).
pub(crate) const REPLAY_BUFFER: NonZeroUsize = NZUsize!(64 * 1024);
const ARCHIVE_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(1024);
const CACHE_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(64);
/// Views of activity marshal and simplex keep behind the finalized one.
pub(crate) const VIEW_RETENTION: u64 = 16;
const BROADCAST_DEQUE_SIZE: usize = 16;
const MAX_REPAIR: NonZeroUsize = NZUsize!(16);
const MAX_PENDING_ACKS: NonZeroUsize = NZUsize!(16);

/// Consensus timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Least time between a block and an empty child: a leader with nothing to include
    /// waits this long after its parent's timestamp (or until a transaction arrives), so an
    /// idle chain does not spin. Less than `leader`, or the leader's own view times out.
    pub empty_block: Duration,
    /// How long to wait for the leader's proposal.
    pub leader: Duration,
    /// How long to wait for a notarization to certify (must exceed `leader`).
    pub certification: Duration,
    /// How often to rebroadcast timeouts while stuck.
    pub retry: Duration,
    /// After this long without progress, skip leaders (must exceed the other two).
    pub skip: Duration,
    /// How long a fetch of a missing certificate or block may take.
    pub fetch: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            empty_block: Duration::from_secs(1),
            leader: Duration::from_secs(2),
            certification: Duration::from_secs(3),
            retry: Duration::from_secs(10),
            skip: Duration::from_secs(11),
            fetch: Duration::from_secs(1),
        }
    }
}

/// One validator's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The validator's account key, which also signs its votes.
    pub key: SecretKey,
    /// The chain's genesis; its validators are the consensus participants.
    pub genesis: Genesis,
    /// Prefix of every storage partition this validator uses.
    pub partition_prefix: String,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// Where to keep ledger snapshots, if anywhere (real nodes; simulations keep none).
    pub snapshots: Option<SnapshotPolicy>,
    /// A verified epoch boundary to start marshal from instead of genesis (a node that
    /// synced from a peer's snapshot, which `snapshots` must hold; see [`crate::sync`]).
    pub floor: Option<SyncFloor>,
    /// Most estimated bytes of recent finalized blocks kept in memory for the API
    /// (normally [`crate::limits::RECENT_BLOCKS_BYTES_MAX`]); older ones are read from disk.
    pub recent_blocks_bytes_max: usize,
}

/// The five channels a validator uses, each a sender and receiver pair.
#[derive(Debug)]
pub struct Channels<S, R> {
    /// simplex votes.
    pub votes: (S, R),
    /// simplex certificates.
    pub certificates: (S, R),
    /// simplex's certificate fetches.
    pub resolver: (S, R),
    /// Full blocks, pushed by proposers (buffered broadcast).
    pub blocks: (S, R),
    /// marshal's fetches of missing blocks and finalizations.
    pub backfill: (S, R),
}

/// Why a validator could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The genesis is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// A key cannot be used for consensus.
    #[error("{0}")]
    Key(#[from] KeyError),
}

/// marshal's mailbox: finalized blocks and certificates by height or digest.
pub type MarshalMailbox = marshal::core::Mailbox<Scheme, Standard<ChainBlock>>;

/// A running validator.
pub struct Validator {
    /// What the API reads and writes.
    pub handle: NodeHandle,
    /// The shared chain view (also behind `handle`).
    pub chain: Chain,
    /// Our consensus public key.
    pub public_key: PublicKey,
    /// The running consensus: one simplex engine per epoch, started in turn.
    pub consensus: Handle<()>,
    /// The running marshal actor.
    pub marshal: Handle<()>,
    /// Reads of the finalized archive.
    pub archive: MarshalMailbox,
    /// The finalized blocks' recorded receipts and events.
    pub outcomes: Outcomes,
}

/// The configuration of an immutable archive named `name` under `prefix`: marshal's two and
/// the block outcomes' ([`crate::outcomes`]) share it.
pub(crate) fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: &CacheRef,
    codec: C,
) -> immutable::Config<C> {
    immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
        freezer_table_initial_size: 64,
        freezer_table_resize_frequency: 10,
        freezer_table_resize_chunk_size: 10,
        freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
        freezer_value_target_size: 64 * 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        items_per_section: ARCHIVE_ITEMS_PER_SECTION,
        freezer_key_write_buffer: WRITE_BUFFER,
        freezer_value_write_buffer: WRITE_BUFFER,
        ordinal_write_buffer: WRITE_BUFFER,
        replay_buffer: REPLAY_BUFFER,
        codec_config: codec,
    }
}

/// Starts a validator on `context` over `channels`; `blocker` and `peers` come from the
/// network (simplex and marshal block misbehaving peers and fetch from the tracked set).
pub async fn start<E, S, R, B, P>(
    context: E,
    config: Config,
    channels: Channels<S, R>,
    blocker: B,
    peers: P,
) -> Result<Validator, StartError>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
    P: Provider<PublicKey = PublicKey> + Clone,
{
    let genesis_state = State::from_genesis(&config.genesis)?;
    let private_key = keys::private_key(&config.key);
    let public_key = private_key.public_key();
    let codec = BlockCodecConfig::from_genesis_state(&genesis_state);
    let genesis_block = ChainBlock::genesis(&genesis_state);
    let genesis_digest = genesis_block.digest();
    let restored = config
        .snapshots
        .as_ref()
        .and_then(|policy| policy.load(genesis_state.chain_id()));
    let epocher = FixedEpocher::new(epoch_length(&genesis_state));
    let chain = Chain::new(restored.unwrap_or(genesis_state), config.mempool)
        .with_recent_blocks_bytes_max(config.recent_blocks_bytes_max);
    let prefix = config.partition_prefix.clone();
    let page_cache = CacheRef::new(PAGE_SIZE, PAGE_CACHE_PAGES);
    let (outcomes_actor, outcomes) =
        outcomes::init(context.child("block_outcomes"), &prefix, &page_cache).await;
    outcomes_actor.start(context.child("block_outcomes_actor"));

    let (backfill_rx, backfill) = marshal_resolver::init(
        context.child("backfill"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: MAILBOX_SIZE,
            fetch_timeout: NonZeroDuration::new(config.timeouts.fetch)
                .expect("non-zero fetch timeout"),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );
    let (broadcast, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: MAILBOX_SIZE,
            deque_size: BROADCAST_DEQUE_SIZE,
            priority: false,
            codec_config: codec.clone(),
            peer_provider: peers,
            strategy: Sequential,
        },
    );
    broadcast.start(channels.blocks);

    let finalizations = immutable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            &prefix,
            "finalizations-by-height",
            &page_cache,
            <Scheme as certificate::Verifier>::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .expect("the finalizations archive opens");
    let blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(&prefix, "finalized-blocks", &page_cache, codec.clone()),
    )
    .await
    .expect("the finalized blocks archive opens");

    let schemes = EpochSchemes::default();
    let start = match config.floor {
        None => Start::Genesis(Digested::precomputed(genesis_block, genesis_digest)),
        Some(floor) => {
            // marshal checks the floor's certificate against its epoch's participants.
            schemes.register(floor.epoch(), floor.participants, &private_key);
            Start::Floor(floor.finalization)
        }
    };
    let (marshal_actor, marshal_mailbox, floor) =
        Marshal::<_, Standard<ChainBlock>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: schemes.clone(),
                epocher: epocher.clone(),
                start,
                partition_prefix: format!("{prefix}-marshal"),
                mailbox_size: MAILBOX_SIZE,
                view_retention: ViewDelta::new(VIEW_RETENTION),
                prunable_items_per_section: CACHE_ITEMS_PER_SECTION,
                page_cache: page_cache.clone(),
                replay_buffer: REPLAY_BUFFER,
                key_write_buffer: WRITE_BUFFER,
                value_write_buffer: WRITE_BUFFER,
                block_codec_config: codec,
                max_repair: MAX_REPAIR,
                max_pending_acks: MAX_PENDING_ACKS,
                strategy: Sequential,
            },
        )
        .await;
    let (finalizer_mailbox, finalizer_queue) = finalizer::channel();
    let marshal_handle = marshal_actor.start(finalizer_mailbox, buffer, (backfill_rx, backfill));

    // Rebuild the finalized state from the archive (after the snapshot, if one was restored)
    // before consensus can ask about it.
    let processed = floor.processed().map_or(0, |p| p.height().get());
    let restored_height = chain.finalized().height();
    if restored_height > 0 {
        let block = marshal_mailbox
            .get_block(Height::new(restored_height))
            .await;
        if let Some(block) = block {
            assert_eq!(
                block.inner().hash(),
                chain.finalized().last_block_hash(),
                "the snapshot is not of this node's finalized chain"
            );
        }
    }
    for height in restored_height + 1..=processed {
        let block = marshal_mailbox
            .get_block(Height::new(height))
            .await
            .expect("marshal keeps every processed block");
        finalizer::apply(&chain, &outcomes, block.inner())
            .await
            .expect("the outcome archive runs while the node starts");
    }

    // Enter the epoch the next block belongs to, building on its first block's parent.
    let (epoch_mailbox, epoch_queue) = epochs::channel();
    let finalized = chain.finalized();
    let epoch = epochs::epoch_after(&epocher, finalized.height());
    let anchor = match epoch.get().checked_sub(1) {
        None => genesis_digest,
        Some(previous) => {
            let boundary = epocher
                .last(Epoch::new(previous))
                .expect("every epoch has a last height");
            if boundary.get() == finalized.height() {
                to_digest(finalized.last_block_hash())
            } else {
                marshal_mailbox
                    .get_block(boundary)
                    .await
                    .expect("marshal keeps every processed block")
                    .digest()
            }
        }
    };
    epoch_mailbox.enter(EpochStart {
        epoch,
        participants: keys::validator_set(&finalized)?,
        anchor,
    });

    let snapshot_writer = config.snapshots.as_ref().map(SnapshotPolicy::start_writer);
    let finalizer_chain = chain.clone();
    let finalizer_outcomes = outcomes.clone();
    let finalizer_epochs = finalizer::Epochs {
        epocher: epocher.clone(),
        mailbox: epoch_mailbox,
    };
    context.child("finalizer").spawn(move |_| {
        finalizer::run(
            finalizer_chain,
            finalizer_outcomes,
            finalizer_queue,
            snapshot_writer,
            finalizer_epochs,
        )
    });

    let application = Inline::new(
        context.child("application"),
        LedgerApplication::new(
            chain.clone(),
            config.key.address(),
            config.timeouts.empty_block,
        ),
        marshal_mailbox.clone(),
        epocher.clone(),
    );
    let orchestrator = Orchestrator {
        context: context.child("consensus"),
        key: private_key,
        application,
        blocker,
        marshal: marshal_mailbox.clone(),
        schemes,
        epocher,
        timeouts: config.timeouts,
        partition_prefix: prefix,
        page_cache,
    };
    let consensus = orchestrator.start(
        epoch_queue,
        channels.votes,
        channels.certificates,
        channels.resolver,
    );
    Ok(Validator {
        handle: chain.handle(),
        chain,
        public_key,
        consensus,
        marshal: marshal_handle,
        archive: marshal_mailbox,
        outcomes,
    })
}
