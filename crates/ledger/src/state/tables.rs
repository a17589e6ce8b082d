//! The state's tables, declared once: each line of [`tables!`] names a table's field, marker
//! type, tag, name, key and value types and snapshot cap, and everything that walks the tables
//! (the state root, savepoints and rollback, snapshot writing and reading, proofs) is generated
//! from that one list, in tag order. A table declared out of tag order, or with a tag that is
//! not in `aifactory_types::state_key::tag`, does not compile.
//!
//! Adding a table: its tag in `state_key::tag` (the public, documented part: proofs name it),
//! then one line here. Snapshots, roots and rollback follow.

use std::fmt::Debug;
use std::hash::Hash as StdHash;

use borsh::{BorshDeserialize, BorshSerialize};

use aifactory_crypto::Hash;
use aifactory_types::lifecycle::{
    Challenge, ChallengeId, Channel, ChannelId, Dataset, DatasetId, Deployment, DeploymentId,
    IdCounters, Job, JobId, Model, ModelId, Participant, PhaseData, PhaseKey, Round, Score,
    Settlement, Vote,
};
use aifactory_types::state_key::tag;
use aifactory_types::{Account, Address, EntryProof, Params};

use super::table::{Journaled, Table};
use super::{Candidate, ChainMeta, Deadline, Validator};
use crate::SnapshotLimits;
use crate::snapshot::SINGLETON_SLOTS_MAX;

/// A table of the state: its tag (its position in the state root and the first byte of its
/// leaves), its name, and the types of its keys and values. Implemented by [`tables!`] only.
pub trait TableDef: 'static {
    /// The table's tag.
    const TAG: u8;
    /// The table's name, for errors and logs.
    const NAME: &'static str;
    /// Whether the table keeps its keys in order, for range queries.
    const ORDERED: bool;
    /// Its keys.
    type Key: Ord + StdHash + Clone + Debug + PartialEq + BorshSerialize + BorshDeserialize;
    /// Its values.
    type Value: Clone + Default + Debug + PartialEq + BorshSerialize + BorshDeserialize;
    /// Most slots a snapshot may declare for the table under `limits`.
    fn snapshot_slots_max(limits: &SnapshotLimits) -> u32;
    /// Whether `proof` shows its entry in this table of the state whose root is `root`.
    fn verify(proof: &EntryProof<Self::Key, Self::Value>, root: &Hash) -> bool {
        proof.verify(Self::TAG, root)
    }
    /// The table in `tables`.
    #[doc(hidden)]
    fn of(tables: &Tables) -> &Table<Self::Key, Self::Value>;
    /// The table in `tables`, for writing.
    #[doc(hidden)]
    fn of_mut(tables: &mut Tables) -> &mut Table<Self::Key, Self::Value>;
}

/// Something done to every table in tag order, with its types known ([`Tables::visit`]).
pub(crate) trait Visit {
    /// What stops the walk.
    type Error;
    /// Visits table `T`.
    fn visit<T: TableDef>(&mut self, table: &Table<T::Key, T::Value>) -> Result<(), Self::Error>;
}

/// Makes every table in tag order, with its types known ([`Tables::build`]).
pub(crate) trait Build {
    /// What stops the building.
    type Error;
    /// Makes table `T`.
    fn build<T: TableDef>(&mut self) -> Result<Table<T::Key, T::Value>, Self::Error>;
}

/// Declares the tables: see the module docs.
macro_rules! tables {
    ($(
        $(#[$doc:meta])*
        $field:ident: $marker:ident = $tag:path, $name:literal, $key:ty => $value:ty,
            ordered: $ordered:literal, snapshot_slots_max: |$limits:ident| $slots_max:expr;
    )+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $marker;

            impl TableDef for $marker {
                const TAG: u8 = $tag;
                const NAME: &'static str = $name;
                const ORDERED: bool = $ordered;
                type Key = $key;
                type Value = $value;
                fn snapshot_slots_max($limits: &SnapshotLimits) -> u32 {
                    $slots_max
                }
                fn of(tables: &Tables) -> &Table<$key, $value> {
                    &tables.$field
                }
                fn of_mut(tables: &mut Tables) -> &mut Table<$key, $value> {
                    &mut tables.$field
                }
            }
        )+

        /// Every table of the state, in tag order.
        #[derive(Debug, Clone)]
        pub struct Tables {
            $(
                $(#[$doc])*
                pub(crate) $field: Table<$key, $value>,
            )+
        }

        /// The tags, in declaration order.
        const TAGS: &[u8] = &[$($tag),+];

        impl Tables {
            /// Every table, empty.
            pub(crate) fn new() -> Self {
                Tables { $($field: Table::new($tag, $ordered),)+ }
            }

            /// Calls `visitor` on every table, in tag order.
            pub(crate) fn visit<V: Visit>(&self, visitor: &mut V) -> Result<(), V::Error> {
                $(visitor.visit::<$marker>(&self.$field)?;)+
                Ok(())
            }

            /// Makes every table with `builder`, in tag order.
            pub(crate) fn build<B: Build>(builder: &mut B) -> Result<Self, B::Error> {
                // Struct fields are evaluated in the order written: tag order.
                Ok(Tables { $($field: builder.build::<$marker>()?,)+ })
            }

            /// Every table, in tag order, for what does not need their types.
            pub(crate) fn journaled(&self) -> [&dyn Journaled; TABLE_COUNT] {
                [$(&self.$field),+]
            }

            /// Every table, in tag order, for writing.
            pub(crate) fn journaled_mut(&mut self) -> [&mut dyn Journaled; TABLE_COUNT] {
                [$(&mut self.$field),+]
            }
        }
    };
}

tables! {
    /// Chain metadata: height and time of the last block, under `()`.
    meta: MetaTable = tag::META, "chain metadata", () => ChainMeta,
        ordered: false, snapshot_slots_max: |_limits| SINGLETON_SLOTS_MAX;
    /// The ledger's parameters, under `()`.
    params: ParamsTable = tag::PARAMS, "parameters", () => Params,
        ordered: false, snapshot_slots_max: |_limits| SINGLETON_SLOTS_MAX;
    /// Accounts by address.
    accounts: AccountsTable = tag::ACCOUNTS, "accounts", Address => Account,
        ordered: false, snapshot_slots_max: |limits| limits.account_slots_max;
    /// The current validator set, by address.
    validators: ValidatorsTable = tag::VALIDATORS, "validators", Address => Validator,
        ordered: false, snapshot_slots_max: |limits| limits.validator_slots_max;
    /// Candidates for the validator set, by address.
    candidates: CandidatesTable = tag::CANDIDATES, "candidates", Address => Candidate,
        ordered: false, snapshot_slots_max: |limits| limits.candidate_slots_max;
    /// Work due at a height, keyed by (height, kind, id): a queue in key order.
    deadlines: DeadlinesTable = tag::DEADLINES, "deadlines", Deadline => (),
        ordered: true, snapshot_slots_max: |limits| limits.deadline_slots_max;
    /// The last id issued of each lifecycle kind, under `()`.
    counters: CountersTable = tag::COUNTERS, "id counters", () => IdCounters,
        ordered: false, snapshot_slots_max: |_limits| SINGLETON_SLOTS_MAX;
    /// Datasets by id.
    datasets: DatasetsTable = tag::DATASETS, "datasets", DatasetId => Dataset,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Models by id.
    models: ModelsTable = tag::MODELS, "models", ModelId => Model,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Jobs by id.
    jobs: JobsTable = tag::JOBS, "jobs", JobId => Job,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Participants of each job, by (job, address): "everyone in job X" is a prefix.
    participants: ParticipantsTable = tag::PARTICIPANTS, "participants",
        (JobId, Address) => Participant,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Rounds of each job, by (job, sequence).
    rounds: RoundsTable = tag::ROUNDS, "rounds", (JobId, u32) => Round,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Phase messages, by (job, round, phase, poster): a phase's survivors are a prefix.
    phase_posts: PhasePostsTable = tag::PHASE_POSTS, "phase posts", PhaseKey => PhaseData,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Validators' score commitments and reveals, by (job, validator).
    scores: ScoresTable = tag::SCORES, "scores", (JobId, Address) => Score,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// What each settled job paid, by job: a deployment's royalty table follows it.
    settlements: SettlementsTable = tag::SETTLEMENTS, "settlements", JobId => Settlement,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Deployments by id.
    deployments: DeploymentsTable = tag::DEPLOYMENTS, "deployments",
        DeploymentId => Deployment,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Live deployments by (model, gateway): "who serves model M" is a prefix, and a gateway
    /// serves a model at most once at a time.
    model_gateways: ModelGatewaysTable = tag::MODEL_GATEWAYS, "model gateways",
        (ModelId, Address) => DeploymentId,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Open payment channels by id.
    channels: ChannelsTable = tag::CHANNELS, "channels", ChannelId => Channel,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Open payment channels by (consumer, channel): a consumer finds its channels on chain,
    /// with proofs, without asking a gateway.
    consumer_channels: ConsumerChannelsTable = tag::CONSUMER_CHANNELS, "consumer channels",
        (Address, ChannelId) => (),
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Challenges of gateways' answers by id, kept after they resolve.
    challenges: ChallengesTable = tag::CHALLENGES, "challenges", ChallengeId => Challenge,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Votes by (challenge, voter): a challenge's votes are a prefix, in voter order.
    challenge_votes: ChallengeVotesTable = tag::CHALLENGE_VOTES, "challenge votes",
        (ChallengeId, Address) => Vote,
        ordered: true, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
    /// Every receipt ever challenged, by receipt id: a receipt is challenged once.
    challenged_receipts: ChallengedReceiptsTable = tag::CHALLENGED_RECEIPTS,
        "challenged receipts", Hash => ChallengeId,
        ordered: false, snapshot_slots_max: |limits| limits.lifecycle_slots_max;
}

/// How many tables the state has.
pub(crate) const TABLE_COUNT: usize = tag::COUNT;

// Tags are dense, in declaration order, and as many as `state_key::tag` says: the state root
// hashes the tables' roots by position, so a table out of place would shift every other one.
const _: () = {
    assert!(TAGS.len() == TABLE_COUNT);
    let mut i = 0;
    while i < TAGS.len() {
        assert!(TAGS[i] as usize == i, "tables are declared in tag order");
        i += 1;
    }
};

impl Tables {
    /// Every table's root, in tag order: what the state root hashes.
    pub(crate) fn roots(&self) -> [Hash; TABLE_COUNT] {
        self.journaled().map(|table| table.root())
    }
}
