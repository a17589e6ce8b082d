//! OpenAPI descriptions of the ledger's types, which live in `aifactory-types` and do not
//! derive `ToSchema` (that crate stays free of HTTP concerns). Each mirror here describes what
//! the real type's serde output looks like; the API's tests validate real responses against
//! the served document, so a mirror that drifts from its type fails them.
//!
//! Tagged enums with many variants (`TxError`, `Event`, `Payload`) are described by their tag
//! and its allowed values; their per-variant fields are listed in the type's rustdoc.

use utoipa::ToSchema;

/// A 32-byte hash as 64 lowercase hex digits.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$")]
pub struct HashHex(#[allow(dead_code)] String);

/// An address: bech32m with the prefix `aif` over a 32-byte ed25519 public key.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^aif1[02-9ac-hj-np-z]{58}$")]
pub struct AddressText(#[allow(dead_code)] String);

/// A 64-byte ed25519 signature as 128 hex digits.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-fA-F]{128}$")]
pub struct SignatureHex(#[allow(dead_code)] String);

/// A batch of transactions to submit: a JSON array of at most 256 strings, each the hex of a
/// `SignedTransaction`'s canonical Borsh encoding (as `tx_hex` in `SubmitTx`).
#[derive(ToSchema)]
#[schema(value_type = Vec<String>)]
pub struct TxHexBatch(#[allow(dead_code)] Vec<String>);

/// One server-sent event of `GET /v1/events`, as a client's SSE parser hands it over: `event`
/// names the kind and `data` is the `ChainEvent` itself as JSON text.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChainEventMessage {
    /// The kind of event (the `type` inside `data`).
    #[schema(inline)]
    event: ChainEventName,
    /// The `ChainEvent` as JSON.
    data: String,
}

/// The kinds of chain event.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ChainEventName {
    /// A block was applied.
    Block,
    /// A transaction was included.
    TxIncluded,
    /// The ledger recorded an event (a receipt's, or the block's own).
    Ledger,
    /// The subscriber fell behind and missed events.
    Lagged,
}

/// Raw bytes (`application/octet-stream`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryBody(#[allow(dead_code)] Vec<u8>);

/// Why the ledger refused a transaction: `code` names the variant (see `TxError`); the other
/// fields depend on it (`expected`/`got` for nonces and chain ids, `min`/`got` for fees, ...).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TxErrorSchema {
    /// The refusal's code.
    #[schema(inline)]
    code: TxErrorCode,
}

/// Every `TxError` code.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TxErrorCode {
    /// Signed for another chain.
    WrongChainId,
    /// Past its expiry height.
    Expired,
    /// The sender has no account.
    UnknownAccount,
    /// The nonce was already used.
    NonceReplayed,
    /// The nonce skips ahead.
    NonceFromFuture,
    /// Below the minimum fee.
    FeeTooLow,
    /// The balance cannot pay the fee.
    CannotPayFee,
    /// An overdraft.
    InsufficientFunds,
    /// A zero amount.
    ZeroAmount,
    /// Stake below the minimum.
    StakeBelowMinimum,
    /// Unstaking more than is bonded.
    InsufficientStake,
    /// Too many unbonding entries.
    TooManyUnbonding,
    /// Nothing has matured.
    NothingToWithdraw,
    /// Too little bonded stake to become a validator candidate.
    ValidatorStakeTooLow,
    /// Already a validator candidate.
    AlreadyCandidate,
    /// Not a validator candidate, so nothing to leave.
    NotCandidate,
    /// The fee does not pay for the state the transaction adds.
    StateGrowthUnpaid,
    /// No dataset has this id.
    UnknownDataset,
    /// No model has this id.
    UnknownModel,
    /// No job has this id.
    UnknownJob,
    /// A dataset with no rows.
    EmptyDataset,
    /// An empty SPDX licence.
    EmptyLicence,
    /// A dataset stake below the minimum.
    DatasetStakeTooLow,
    /// The dataset is another provider's.
    NotDatasetProvider,
    /// The dataset is retired.
    DatasetRetired,
    /// The dataset is in unfinished jobs.
    DatasetInUse,
    /// A royalty above the whole.
    RoyaltyTooHigh,
    /// Job terms that break a rule (`problem` says which).
    InvalidJobTerms,
    /// The job is not in the stage this needs.
    WrongStage,
    /// Only the sponsor may do this.
    NotSponsor,
    /// Only the trainer may do this.
    NotTrainer,
    /// The job already has a trainer.
    AlreadyClaimed,
    /// Already taking part in the job.
    AlreadyParticipant,
    /// The job has all the providers or validators it allows.
    JobFull,
    /// The job does not allow the dataset.
    DatasetNotAllowed,
    /// The dataset asks more than the job offers.
    DatasetPriceAboveOffer,
    /// The consent names other terms.
    TermsMismatch,
    /// A stake below what the job asks.
    JobStakeTooLow,
    /// Not the job's current round.
    WrongRound,
    /// Not the round's current phase.
    WrongPhase,
    /// The deadline has passed.
    PastDeadline,
    /// Not expected in this phase.
    NotExpected,
    /// The round is not waiting for the trainer.
    NotAggregating,
    /// Already posted in this phase.
    AlreadyPosted,
    /// A contribution not from a single survivor.
    BadContribution,
    /// More samples than the dataset's rows.
    SamplesExceedRows,
    /// No score commitment to reveal.
    NoCommitment,
    /// The score is already revealed.
    AlreadyRevealed,
    /// The reveal does not match the commitment.
    RevealMismatch,
    /// The wrong number of leave-one-out contributions.
    ContributionsLength,
    /// A deploy or undeploy that breaks a rule (`problem` says which).
    Deployment,
    /// A channel action that breaks a rule (`problem` says which).
    Channel,
    /// A challenge or vote that breaks a rule (`problem` says which).
    Challenge,
}

/// Whether an included transaction's action took effect.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TxOutcomeSchema {
    /// `success` or `failed`.
    #[schema(inline)]
    status: OutcomeStatus,
    /// Why it failed (only when `status` is `failed`).
    error: Option<TxErrorSchema>,
}

/// An outcome's status.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OutcomeStatus {
    /// The action took effect.
    Success,
    /// The action failed; the fee was paid.
    Failed,
}

/// Something a transaction or a block did: `kind` names it; the other fields depend on it
/// (`payer`, `proposer`, `from`, `to`, `account`, `amount`, `release_height`, `bonded`,
/// `from_epoch`, `job`, `round`, `phase`, ...; see `aifactory_types::Event`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventSchema {
    /// Which event.
    #[schema(inline)]
    kind: EventKind,
}

/// Every event kind.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventKind {
    /// A fee moved to the proposer.
    FeePaid,
    /// Tokens moved.
    Transferred,
    /// Tokens were bonded.
    Staked,
    /// Stake began unbonding.
    Unbonding,
    /// Unbonded stake returned.
    Withdrawn,
    /// An account became a validator candidate.
    CandidateJoined,
    /// An account stopped being a validator candidate.
    CandidateLeft,
    /// A dataset was registered.
    DatasetRegistered,
    /// A dataset's terms changed.
    DatasetUpdated,
    /// A dataset retired.
    DatasetRetired,
    /// A model was registered.
    ModelRegistered,
    /// A job opened.
    JobOpened,
    /// A job was cancelled.
    JobCancelled,
    /// A trainer claimed a job.
    JobClaimed,
    /// A provider joined a job.
    JobJoined,
    /// A round started.
    RoundStarted,
    /// A provider posted in a phase.
    PhasePosted,
    /// A phase ended.
    PhaseEnded,
    /// A round closed.
    RoundClosed,
    /// A round failed.
    RoundFailed,
    /// Validation opened.
    ValidationOpened,
    /// A validator committed a score.
    ScoreCommitted,
    /// Reveals opened.
    RevealOpened,
    /// A validator revealed a score.
    ScoreRevealed,
    /// A job settled.
    JobSettled,
    /// A job failed.
    JobFailed,
    /// A job paid an account.
    JobPaid,
    /// Tokens were slashed (to the treasury, or shared out by a challenge).
    Slashed,
    /// A gateway deployed a model.
    Deployed,
    /// A gateway undeployed; its stake returns later.
    Undeploying,
    /// A deployment retired and its stake returned.
    Undeployed,
    /// A payment channel opened.
    ChannelOpened,
    /// A channel's deposit grew.
    ChannelToppedUp,
    /// A channel's expiry moved later.
    ChannelExtended,
    /// A gateway claimed a channel's voucher.
    ChannelClaimed,
    /// A deployment's royalty table paid an account.
    RoyaltyPaid,
    /// A channel closed and refunded its consumer.
    ChannelClosed,
    /// A gateway's answer was challenged.
    Challenged,
    /// A voter gave its verdict on a challenge.
    ChallengeVoted,
    /// A challenge was tallied.
    ChallengeResolved,
    /// A challenge paid an account.
    ChallengePaid,
}

/// What happened to one included transaction.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReceiptSchema {
    /// The transaction's id.
    tx_hash: HashHex,
    /// The fee charged, in base units.
    fee_paid: u64,
    /// Success, or failure with why.
    outcome: TxOutcomeSchema,
    /// What it did.
    events: Vec<EventSchema>,
}

/// One unbonding entry.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UnbondingSchema {
    /// Base units.
    amount: u64,
    /// First height at which it can be withdrawn.
    release_height: u64,
}

/// An account's contents.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AccountSchema {
    /// Spendable base units.
    balance: u64,
    /// The next nonce it must use.
    nonce: u64,
    /// Bonded stake, in base units.
    bonded: u64,
    /// Stake on its way out.
    unbonding: Vec<UnbondingSchema>,
}

/// A leaf's path to the state root: its slot, its 32 siblings from the leaf up, and the root
/// of every table in tag order (see `docs/encoding.md`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SlotProofSchema {
    /// The leaf's slot.
    slot: u32,
    /// How many slots the leaf's table has used (committed in its table root).
    slot_count: u32,
    /// Sibling hashes, leaf level first.
    siblings: Vec<HashHex>,
    /// Table roots, in tag order.
    table_roots: Vec<HashHex>,
}

/// An account with a proof that it is in the state under some root.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AccountProofSchema {
    /// Whose account.
    address: AddressText,
    /// Its contents.
    account: AccountSchema,
    /// The Merkle path.
    proof: SlotProofSchema,
}

/// A state entry with a proof that it is in the state under some root (the ledger's
/// `EntryProof`), for the tables without a mirror here: `key` and `value` are the table's key
/// and value as they serialise (a job's id, `[job, sequence]` for a round,
/// `{job, round, phase, poster}` for a phase post; a `Job`, `Round` or `PhaseData`, whose
/// fields are documented in `aifactory_types::lifecycle`), and `proof` is the Merkle path,
/// checked with the table's tag.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EntryProofSchema {
    /// The entry's key.
    #[schema(value_type = Value)]
    key: serde_json::Value,
    /// The entry's value.
    #[schema(value_type = Object)]
    value: serde_json::Value,
    /// The Merkle path.
    proof: SlotProofSchema,
}

/// A block header.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HeaderSchema {
    /// Height; the first block is 1.
    height: u64,
    /// The parent's hash.
    parent: HashHex,
    /// Milliseconds since the Unix epoch.
    timestamp_ms: u64,
    /// Who proposed it.
    proposer: AddressText,
    /// List root of the transaction ids.
    txs_root: HashHex,
    /// State root after the block.
    state_root: HashHex,
}

/// What a transaction asks the ledger to do: `kind` names it (`transfer` with `to`, `amount`,
/// `memo` as a byte array; `stake` and `unstake` with `amount`; `withdraw`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PayloadSchema {
    /// The action.
    #[schema(inline)]
    kind: PayloadKind,
}

/// Every payload kind.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PayloadKind {
    /// Move tokens.
    Transfer,
    /// Bond tokens.
    Stake,
    /// Begin unbonding.
    Unstake,
    /// Withdraw matured stake.
    Withdraw,
    /// Become a validator candidate.
    JoinValidators,
    /// Stop being a validator candidate.
    LeaveValidators,
    /// Register a dataset.
    RegisterDataset,
    /// Change a dataset's terms.
    UpdateDataset,
    /// Retire a dataset.
    RetireDataset,
    /// Register a model.
    RegisterModel,
    /// Open a job.
    OpenJob,
    /// Cancel a job.
    CancelJob,
    /// Claim a job as trainer.
    ClaimJob,
    /// Join a job as provider.
    JoinJob,
    /// Post in a round's phase.
    PostPhase,
    /// Close a round as trainer.
    CloseRound,
    /// Commit a score.
    CommitScore,
    /// Reveal a score.
    RevealScore,
    /// Deploy a model as a gateway.
    Deploy,
    /// Undeploy.
    Undeploy,
    /// Open a payment channel.
    OpenChannel,
    /// Add to a channel's deposit.
    TopUpChannel,
    /// Move a channel's expiry later.
    ExtendChannel,
    /// Claim channel vouchers as their gateway.
    ClaimChannels,
    /// Close a channel.
    CloseChannel,
    /// Challenge a gateway's signed answer.
    Challenge,
    /// Vote on a challenge.
    VoteChallenge,
}

/// An unsigned transaction.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TransactionSchema {
    /// The chain it is for.
    chain_id: String,
    /// Its sender and signer.
    sender: AddressText,
    /// The sender's next nonce.
    nonce: u64,
    /// Fee in base units.
    fee: u64,
    /// Last height it may be included at.
    expiry_height: u64,
    /// What to do.
    payload: PayloadSchema,
}

/// A transaction and its signature.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SignedTransactionSchema {
    /// The transaction.
    tx: TransactionSchema,
    /// The sender's signature.
    signature: SignatureHex,
}

/// A header and its transactions.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BlockSchema {
    /// The header.
    header: HeaderSchema,
    /// The transactions, in execution order.
    txs: Vec<SignedTransactionSchema>,
}

/// A licence: `{"spdx": "<SPDX id>"}`, or `{"text": "<hash of the licence's text>"}`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LicenceSchema {
    /// An SPDX licence identifier or expression.
    Spdx(String),
    /// The BLAKE3 hash of a custom licence's text, in the blob store.
    Text(HashHex),
}

/// What a model is made of: `{"spec": hash}`, `{"onnx": hash}` or
/// `{"trained": {"spec", "weights"}}`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ModelArtifactSchema {
    /// A declarative model spec.
    Spec(HashHex),
    /// An ONNX file.
    Onnx(HashHex),
    /// Trained weights for a spec.
    Trained {
        /// The spec's hash.
        spec: HashHex,
        /// The weights' hash.
        weights: HashHex,
    },
}

/// A registered dataset (`aifactory_types::lifecycle::Dataset`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DatasetSchema {
    /// Who registered it and is paid for it.
    provider: AddressText,
    /// Hash of the schema JSON.
    schema: HashHex,
    /// How many rows.
    rows: u64,
    /// Merkle root of the rows.
    rows_root: HashHex,
    /// The licence.
    licence: LicenceSchema,
    /// The least it accepts per training use, in base units.
    price: u64,
    /// Hash of the quality report.
    quality_report: HashHex,
    /// Hash of the anonymisation report.
    anonymity_report: HashHex,
    /// Base units locked behind it until it retires.
    stake: u64,
    /// The height it was registered at.
    registered_height: u64,
    /// Unfinished jobs it is enlisted in.
    active_jobs: u32,
    /// Jobs it has been enlisted in, ever.
    jobs_joined: u64,
    /// Whether it has been retired.
    retired: bool,
}

/// Where a trained model came from.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TrainedBySchema {
    /// The job.
    job: u64,
    /// The accepted score, in millionths of the job's metric.
    score: u64,
}

/// A registered or trained model (`aifactory_types::lifecycle::Model`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ModelSchema {
    /// Who registered it (for a trained model, the base model's developer).
    developer: AddressText,
    /// What it is made of.
    artifact: ModelArtifactSchema,
    /// The developer's royalty, in basis points.
    royalty_bps: u16,
    /// Its licence.
    licence: LicenceSchema,
    /// The model it derives from.
    parent: Option<u64>,
    /// The height it was registered at.
    registered_height: u64,
    /// For a trained model, the job and accepted score.
    trained_by: Option<TrainedBySchema>,
}

/// A participant's role: `trainer`, `validator`, or `provider` with its `dataset` and
/// `position` among the job's providers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleSchema {
    /// The role.
    #[schema(inline)]
    role: RoleName,
    /// A provider's dataset.
    dataset: Option<u64>,
    /// A provider's position among the job's providers.
    position: Option<u16>,
}

/// Every role.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RoleName {
    /// Runs the rounds and aggregates.
    Trainer,
    /// Trains on its dataset's rows.
    Provider,
    /// Scores the final model.
    Validator,
}

/// A job's participant (`aifactory_types::lifecycle::Participant`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ParticipantSchema {
    /// Its role.
    role: RoleSchema,
    /// Base units it locked in the job.
    stake: u64,
    /// When it joined.
    joined_height: u64,
    /// A provider's samples over the job's closed rounds.
    samples: u64,
    /// What the job paid it when it ended, in base units.
    paid: u64,
}

/// A validator's revealed report, in millionths.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScoreReportSchema {
    /// The job's metric.
    metric: u64,
    /// Expected calibration error.
    calibration_error: u64,
    /// Largest gap of the metric between groups.
    fairness_gap: u64,
    /// Whether every round's aggregate recomputed and matched.
    aggregates_match: bool,
    /// Each provider's leave-one-out contribution, in join order.
    contributions: Vec<u64>,
}

/// A validator's score (`aifactory_types::lifecycle::Score`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScoreSchema {
    /// The commitment.
    commitment: HashHex,
    /// When it was committed.
    committed_height: u64,
    /// The report, once revealed.
    revealed: Option<ScoreReportSchema>,
    /// Whether it was within the job's tolerance (set at settlement).
    within_tolerance: bool,
}

/// A dataset's entry with its proof: `key` is its id.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DatasetEntrySchema {
    /// The dataset's id.
    key: u64,
    /// The dataset.
    value: DatasetSchema,
    /// The Merkle path.
    proof: SlotProofSchema,
}

/// A model's entry with its proof: `key` is its id.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ModelEntrySchema {
    /// The model's id.
    key: u64,
    /// The model.
    value: ModelSchema,
    /// The Merkle path.
    proof: SlotProofSchema,
}

/// A participant's entry with its proof: `key` is `[job, address]`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ParticipantEntrySchema {
    /// `[job, address]`.
    #[schema(value_type = Vec<Value>)]
    key: Vec<serde_json::Value>,
    /// The participant.
    value: ParticipantSchema,
    /// The Merkle path.
    proof: SlotProofSchema,
}

/// A score's entry with its proof: `key` is `[job, validator]`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScoreEntrySchema {
    /// `[job, validator]`.
    #[schema(value_type = Vec<Value>)]
    key: Vec<serde_json::Value>,
    /// The score.
    value: ScoreSchema,
    /// The Merkle path.
    proof: SlotProofSchema,
}
