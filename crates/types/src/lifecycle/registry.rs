//! The registries: datasets (rows stay with their provider; the chain holds commitments and
//! terms) and models (architectures by blob hash, and the trained models jobs produce).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{BasisPoints, DatasetId, JobId, Micros, ModelId};
use crate::limits::LICENCE_ID_BYTES_MAX;
use crate::{Address, Amount, BoundedString, Hash};

/// Under which licence data or a model may be used.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Licence {
    /// An SPDX licence identifier or expression, e.g. `CC-BY-4.0` (empty only in a table's
    /// placeholder value).
    Spdx(BoundedString<LICENCE_ID_BYTES_MAX>),
    /// A custom licence: the BLAKE3 hash of its text, which is in the blob store.
    Text(Hash),
}

impl Default for Licence {
    fn default() -> Self {
        Licence::Spdx(BoundedString::default())
    }
}

/// `RegisterDataset`: a provider commits to a dataset it holds and offers it for training.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterDataset {
    /// Hash of the schema JSON (columns, types, label), which is in the blob store.
    pub schema: Hash,
    /// How many rows the dataset has.
    pub rows: u64,
    /// BLAKE3 Merkle root of the rows (`aifactory data commit`).
    pub rows_root: Hash,
    /// The licence training uses it under.
    pub licence: Licence,
    /// The least the provider accepts per training use, in base units: a job whose providers'
    /// pool divided by its most providers is below it cannot enlist the dataset.
    pub price: Amount,
    /// Hash of the quality report (`aifactory data check`), in the blob store.
    pub quality_report: Hash,
    /// Hash of the anonymisation and k-anonymity report (`aifactory data anonymise`).
    pub anonymity_report: Hash,
    /// Tokens the provider locks behind the dataset, returned when it is retired; at least
    /// `dataset_stake_min`.
    pub stake: Amount,
}

/// `UpdateDataset`: the provider changes its dataset's terms; jobs already joined keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UpdateDataset {
    /// Which dataset.
    pub dataset: DatasetId,
    /// The new licence.
    pub licence: Licence,
    /// The new price per training use, in base units.
    pub price: Amount,
}

/// `RetireDataset`: the provider withdraws its dataset; its stake is returned. Refused while a
/// job that enlisted it is unfinished.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RetireDataset {
    /// Which dataset.
    pub dataset: DatasetId,
}

/// A registered dataset.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Dataset {
    /// Who registered it and is paid for it.
    pub provider: Address,
    /// Hash of the schema JSON, in the blob store.
    pub schema: Hash,
    /// How many rows.
    pub rows: u64,
    /// BLAKE3 Merkle root of the rows.
    pub rows_root: Hash,
    /// The licence, as last updated.
    pub licence: Licence,
    /// The least it accepts per training use, as last updated.
    pub price: Amount,
    /// Hash of the quality report.
    pub quality_report: Hash,
    /// Hash of the anonymisation and k-anonymity report.
    pub anonymity_report: Hash,
    /// Tokens locked behind it until it retires.
    pub stake: Amount,
    /// The height it was registered at.
    pub registered_height: u64,
    /// Unfinished jobs it is enlisted in; it cannot retire while any is.
    pub active_jobs: u32,
    /// Jobs it has been enlisted in, ever.
    pub jobs_joined: u64,
    /// Whether it has been retired (its stake returned; no job can enlist it).
    pub retired: bool,
}

/// What a model is made of, by blob hash.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelArtifact {
    /// A declarative model spec (`learn` crate JSON); training starts from its seeded weights.
    /// (The zero hash only in a table's placeholder value.)
    Spec(Hash),
    /// An ONNX file, for inference or as a starting point.
    Onnx(Hash),
    /// Trained weights (a `learn` model file) for the spec they fit.
    Trained {
        /// The spec's hash.
        spec: Hash,
        /// The weights' hash.
        weights: Hash,
    },
}

impl Default for ModelArtifact {
    fn default() -> Self {
        ModelArtifact::Spec(Hash::ZERO)
    }
}

impl ModelArtifact {
    /// The blob a job's first round starts from: the spec, the ONNX file, or the weights.
    pub fn starting_blob(&self) -> Hash {
        match self {
            ModelArtifact::Spec(hash) | ModelArtifact::Onnx(hash) => *hash,
            ModelArtifact::Trained { weights, .. } => *weights,
        }
    }
}

/// `RegisterModel`: a developer registers an architecture (or a pretrained model).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterModel {
    /// The spec or ONNX file, by blob hash.
    pub artifact: ModelArtifact,
    /// The developer's royalty, in basis points: a job on this model must give the developer
    /// at least this share of its budget, and deployments pay it per call.
    pub royalty_bps: BasisPoints,
    /// The licence it is used under.
    pub licence: Licence,
    /// The model it derives from, if any (lineage).
    pub parent: Option<ModelId>,
}

/// A registered model, or one a job produced.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Model {
    /// Who registered it (for a trained model, the base model's developer).
    pub developer: Address,
    /// What it is made of.
    pub artifact: ModelArtifact,
    /// The developer's royalty, in basis points.
    pub royalty_bps: BasisPoints,
    /// Its licence.
    pub licence: Licence,
    /// The model it derives from (for a trained model, the job's model).
    pub parent: Option<ModelId>,
    /// The height it was registered at.
    pub registered_height: u64,
    /// For a trained model: the job that produced it and the score validators accepted.
    pub trained_by: Option<TrainedBy>,
}

/// Where a trained model came from.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TrainedBy {
    /// The job.
    pub job: JobId,
    /// The accepted score, in millionths of the job's metric.
    pub score: Micros,
}
