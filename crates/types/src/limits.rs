//! Every limit on what comes from outside, defined once. Decoders enforce these before they
//! allocate; the relations between them are checked at compile time.

/// Largest encoded signed transaction, in bytes.
pub const TX_BYTES_MAX: usize = 4 * 1024;

/// Longest chain id, in bytes of UTF-8.
pub const CHAIN_ID_BYTES_MAX: usize = 64;

/// Longest transfer memo, in bytes.
pub const MEMO_BYTES_MAX: usize = 256;

/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 16 * 1024;

/// Largest encoded block, in bytes.
pub const BLOCK_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most unbonding entries one account may have pending at once.
pub const UNBONDING_ENTRIES_MAX: usize = 16;

/// Largest genesis file, in bytes.
pub const GENESIS_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most accounts and validators a genesis may list.
pub const GENESIS_ACCOUNTS_MAX: usize = 1_000_000;

/// Most validators a genesis may list.
pub const GENESIS_VALIDATORS_MAX: usize = 256;

/// Hard cap on `Params::validators_max`, the size of one epoch's validator set: consensus
/// keeps per-validator bitmaps and does per-validator work each epoch.
pub const VALIDATORS_MAX: usize = 256;

/// Most deadlines a block runs (`aifactory_ledger`'s deadline queue); the rest roll over to
/// the next block, in order, so however much falls due at once, a block's work stays bounded.
pub const DUE_DEADLINES_PER_BLOCK_MAX: usize = 1024;

/// Highest `Params::fee_per_state_byte`, in base units: 1 AIF a byte.
pub const FEE_PER_STATE_BYTE_MAX: u64 = 1_000_000_000;

/// Longest SPDX licence expression, in bytes.
pub const LICENCE_ID_BYTES_MAX: usize = 64;

/// Longest name of a job's fairness group column, in bytes.
pub const GROUP_COLUMN_BYTES_MAX: usize = 64;

/// Most datasets a job may list as allowed.
pub const DATASETS_PER_JOB_MAX: usize = 64;

/// Most providers one job may enlist (and contributions one round may record).
pub const PROVIDERS_PER_JOB_MAX: usize = 64;

/// Most validators that may score one job.
pub const VALIDATORS_PER_JOB_MAX: usize = 32;

/// Most rounds one job may run.
pub const JOB_ROUNDS_MAX: u16 = 1_000;

/// Most retries of a failed round one job may allow.
pub const ROUND_RETRIES_MAX: u8 = 16;

/// Longest inline phase message, in bytes (anything larger goes in the blob store).
pub const PHASE_INLINE_BYTES_MAX: usize = 256;

/// Longest stage or phase deadline a job may set, in blocks (about four weeks at a block a
/// second): a job cannot park its escrow and stakes for ever.
pub const JOB_STAGE_BLOCKS_MAX: u64 = 2_500_000;

/// Most phase messages of a finished job one deadline prunes; the rest wait for the next block.
pub const PRUNED_POSTS_PER_DEADLINE_MAX: usize = 256;

/// Longest gateway URL a deployment may name, in bytes.
pub const GATEWAY_URL_BYTES_MAX: usize = 256;

/// Most channel claims one `ClaimChannels` transaction may carry.
pub const CLAIMS_PER_TX_MAX: usize = 32;

/// Encoded size of one channel claim: channel, consumer, amount, signature.
pub const CLAIM_BYTES: usize = 8 + 32 + 8 + 64;

/// Most lines of a deployment's royalty table: gateway, developer, every provider, treasury.
pub const ROYALTY_SHARES_MAX: usize = PROVIDERS_PER_JOB_MAX + 3;

/// Latest a channel may expire, in blocks after the height it is opened or extended at.
pub const CHANNEL_EXPIRY_BLOCKS_MAX: u64 = JOB_STAGE_BLOCKS_MAX;

/// Most voters one challenge takes.
pub const CHALLENGE_VOTERS_MAX: usize = 32;

const _: () = assert!(BLOCK_BYTES_MAX >= TX_BYTES_MAX);
const _: () = assert!(CHALLENGE_VOTERS_MAX <= u16::MAX as usize);
const _: () = assert!(TX_BYTES_MAX >= CLAIMS_PER_TX_MAX * CLAIM_BYTES + CHAIN_ID_BYTES_MAX + 256);
const _: () = assert!(PROVIDERS_PER_JOB_MAX <= u16::MAX as usize);
const _: () = assert!(VALIDATORS_PER_JOB_MAX <= u16::MAX as usize);
const _: () = assert!(DUE_DEADLINES_PER_BLOCK_MAX > 0);
const _: () = assert!(TX_BYTES_MAX > MEMO_BYTES_MAX + CHAIN_ID_BYTES_MAX + 256);
const _: () = assert!(BLOCK_TXS_MAX <= u32::MAX as usize);
const _: () = assert!(GENESIS_VALIDATORS_MAX <= GENESIS_ACCOUNTS_MAX);
const _: () = assert!(VALIDATORS_MAX <= u32::MAX as usize);
