//! Reading the lifecycle's tables: datasets, models, jobs, and each job's participants,
//! rounds, phase messages, scores and settlement; deployments, payment channels and
//! challenges (prefix queries on the ordered tables).

use aifactory_types::lifecycle::{
    Challenge, ChallengeId, ChallengeStatus, Channel, ChannelId, Dataset, DatasetId, Deployment,
    DeploymentId, IdCounters, Job, JobId, Model, ModelId, Participant, PhaseData, PhaseKey, Round,
    Score, Settlement, Vote,
};
use aifactory_types::{Address, Amount, Hash};

use super::State;

/// The lowest and highest addresses, bounding "every address" in a key range.
const ADDRESS_MIN: Address = Address([0; 32]);
const ADDRESS_MAX: Address = Address([0xff; 32]);

impl State {
    /// The last id issued of each lifecycle kind.
    pub fn id_counters(&self) -> IdCounters {
        self.tables.counters.get(&()).copied().unwrap_or_default()
    }

    /// A dataset, if registered.
    pub fn dataset(&self, id: DatasetId) -> Option<&Dataset> {
        self.tables.datasets.get(&id)
    }

    /// Every dataset, in id order.
    pub fn datasets(&self) -> impl Iterator<Item = (DatasetId, &Dataset)> {
        self.tables.datasets.iter().map(|(id, d)| (*id, d))
    }

    /// A model, if registered.
    pub fn model(&self, id: ModelId) -> Option<&Model> {
        self.tables.models.get(&id)
    }

    /// Every model, in id order.
    pub fn models(&self) -> impl Iterator<Item = (ModelId, &Model)> {
        self.tables.models.iter().map(|(id, m)| (*id, m))
    }

    /// A job, if opened.
    pub fn job(&self, id: JobId) -> Option<&Job> {
        self.tables.jobs.get(&id)
    }

    /// Every job, in id order.
    pub fn jobs(&self) -> impl Iterator<Item = (JobId, &Job)> {
        self.tables.jobs.iter().map(|(id, j)| (*id, j))
    }

    /// A job's participant, if `address` takes part in it.
    pub fn participant(&self, job: JobId, address: &Address) -> Option<&Participant> {
        self.tables.participants.get(&(job, *address))
    }

    /// A job's participants, in address order.
    pub fn participants(&self, job: JobId) -> impl Iterator<Item = (Address, &Participant)> {
        self.tables
            .participants
            .range((job, ADDRESS_MIN)..=(job, ADDRESS_MAX))
            .map(|((_, address), p)| (*address, p))
    }

    /// A round of a job, by sequence number.
    pub fn round(&self, job: JobId, round: u32) -> Option<&Round> {
        self.tables.rounds.get(&(job, round))
    }

    /// A job's rounds, retries included, in sequence order.
    pub fn rounds(&self, job: JobId) -> impl Iterator<Item = (u32, &Round)> {
        self.tables
            .rounds
            .range((job, 0)..=(job, u32::MAX))
            .map(|((_, seq), r)| (*seq, r))
    }

    /// The messages posted in one phase of a round, in poster address order: the phase's
    /// survivors.
    pub fn phase_posts(
        &self,
        job: JobId,
        round: u32,
        phase: u8,
    ) -> impl Iterator<Item = (Address, &PhaseData)> {
        let key = |poster| PhaseKey {
            job,
            round,
            phase,
            poster,
        };
        self.tables
            .phase_posts
            .range(key(ADDRESS_MIN)..=key(ADDRESS_MAX))
            .map(|(key, data)| (key.poster, data))
    }

    /// The keys of all a job's phase messages, in key order (round, phase, poster): what
    /// pruning a finished job removes.
    pub(crate) fn job_phase_keys(&self, job: JobId) -> impl Iterator<Item = PhaseKey> {
        let key = |round, phase, poster| PhaseKey {
            job,
            round,
            phase,
            poster,
        };
        self.tables
            .phase_posts
            .range(key(0, 0, ADDRESS_MIN)..=key(u32::MAX, u8::MAX, ADDRESS_MAX))
            .map(|(key, _)| *key)
    }

    /// A validator's score in a job, if it committed.
    pub fn score(&self, job: JobId, validator: &Address) -> Option<&Score> {
        self.tables.scores.get(&(job, *validator))
    }

    /// A job's scores, in validator address order.
    pub fn scores(&self, job: JobId) -> impl Iterator<Item = (Address, &Score)> {
        self.tables
            .scores
            .range((job, ADDRESS_MIN)..=(job, ADDRESS_MAX))
            .map(|((_, address), s)| (*address, s))
    }

    /// What a settled job paid, pool by pool and provider by provider.
    pub fn settlement(&self, job: JobId) -> Option<&Settlement> {
        self.tables.settlements.get(&job)
    }

    /// A deployment, live or retired.
    pub fn deployment(&self, id: DeploymentId) -> Option<&Deployment> {
        self.tables.deployments.get(&id)
    }

    /// Every deployment, in id order.
    pub fn deployments(&self) -> impl Iterator<Item = (DeploymentId, &Deployment)> {
        self.tables.deployments.iter().map(|(id, d)| (*id, d))
    }

    /// The live deployments of a model (not retired), in gateway address order.
    pub fn model_deployments(
        &self,
        model: ModelId,
    ) -> impl Iterator<Item = (Address, DeploymentId)> {
        self.tables
            .model_gateways
            .range((model, ADDRESS_MIN)..=(model, ADDRESS_MAX))
            .map(|((_, gateway), id)| (*gateway, *id))
    }

    /// An open payment channel.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.tables.channels.get(&id)
    }

    /// A consumer's open channels, in id order.
    pub fn consumer_channels(&self, consumer: &Address) -> impl Iterator<Item = ChannelId> {
        self.tables
            .consumer_channels
            .range((*consumer, 0)..=(*consumer, ChannelId::MAX))
            .map(|((_, channel), ())| *channel)
    }

    /// A challenge, open or resolved.
    pub fn challenge(&self, id: ChallengeId) -> Option<&Challenge> {
        self.tables.challenges.get(&id)
    }

    /// Every challenge, in id order.
    pub fn challenges(&self) -> impl Iterator<Item = (ChallengeId, &Challenge)> {
        self.tables.challenges.iter().map(|(id, c)| (*id, c))
    }

    /// A challenge's votes, in voter address order.
    pub fn challenge_votes(&self, id: ChallengeId) -> impl Iterator<Item = (Address, &Vote)> {
        self.tables
            .challenge_votes
            .range((id, ADDRESS_MIN)..=(id, ADDRESS_MAX))
            .map(|((_, voter), vote)| (*voter, vote))
    }

    /// The challenge of a receipt, by the receipt's id, if it was challenged.
    pub fn receipt_challenge(&self, receipt_id: &Hash) -> Option<ChallengeId> {
        self.tables.challenged_receipts.get(receipt_id).copied()
    }

    /// Tokens the lifecycle holds outside accounts: datasets' stakes, jobs' escrows, the
    /// stakes locked in jobs and deployments, what channels hold unclaimed, and the bonds and
    /// vote stakes of challenges still voting.
    pub fn locked_in_lifecycle(&self) -> Amount {
        let stakes = self.tables.datasets.iter().map(|(_, d)| d.stake);
        let escrows = self.tables.jobs.iter().map(|(_, j)| j.escrow);
        let locked = self.tables.participants.iter().map(|(_, p)| p.stake);
        let deployed = self.tables.deployments.iter().map(|(_, d)| d.stake);
        let unclaimed = self.tables.channels.iter().map(|(_, c)| {
            c.deposit
                .checked_sub(c.claimed)
                .expect("a channel never pays out more than its deposit")
        });
        let voting = self
            .tables
            .challenges
            .iter()
            .filter(|(_, c)| c.status == ChallengeStatus::Voting);
        let challenged = voting.flat_map(|(id, c)| {
            std::iter::once(c.bond).chain(self.challenge_votes(*id).map(|(_, v)| v.stake))
        });
        stakes
            .chain(escrows)
            .chain(locked)
            .chain(deployed)
            .chain(unclaimed)
            .chain(challenged)
            .try_fold(0u64, |sum, amount| sum.checked_add(amount))
            .expect("locked tokens fit the supply")
    }
}
