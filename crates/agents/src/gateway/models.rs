//! The models a gateway serves: each deployment named in its settings, read from the chain
//! with its proofs, its blob fetched and checked against the deployment's `model_hash`, and
//! turned into something that predicts from CSV rows.

use aifactory_api::views::gateway::ServedModel;
use aifactory_learn::data::features::{FeatureColumn, Featurizer};
use aifactory_learn::data::schema::{Column, ColumnType, Schema};
use aifactory_learn::data::table::Table;
use aifactory_learn::onnx::{OnnxModel, OnnxOutput};
use aifactory_learn::predict::{NativeModel, Predictor, Probabilities};
use aifactory_learn::store::StoredModel;
use aifactory_types::lifecycle::{Deployment, DeploymentId, DeploymentStatus, ModelArtifact};
use aifactory_types::{Address, Hash};
use anyhow::{anyhow, bail};

use crate::nodes::Nodes;
use crate::recipe::fetch_blob;

/// A deployment this gateway serves, ready to predict.
#[derive(Debug)]
pub struct Served {
    /// The deployment's id.
    pub id: DeploymentId,
    /// The deployment as the chain showed it at start.
    pub deployment: Deployment,
    predictor: Predictor,
    featurizer: Option<Featurizer>,
    columns: Vec<String>,
}

/// Why input rows cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl Served {
    /// Reads deployment `id` from the chain (proofs checked), refuses it unless `gateway`
    /// serves it and it is not retired, and loads its model blob, checked against its hash
    /// (or, in a drill, the blob `instead`).
    pub async fn load(
        nodes: &Nodes,
        id: DeploymentId,
        gateway: Address,
        instead: Option<Hash>,
    ) -> anyhow::Result<Self> {
        let view = nodes
            .call(|c| async move { c.deployment(id).await })
            .await?;
        let deployment = view.deployment.value;
        if deployment.gateway != gateway {
            bail!(
                "deployment {id} is served by {}, not by this gateway's key {gateway}",
                deployment.gateway
            );
        }
        if deployment.status == DeploymentStatus::Retired {
            bail!("deployment {id} is retired");
        }
        let blob = match instead {
            Some(other) => {
                tracing::warn!(deployment = id, %other, "drill: serving another model blob");
                other
            }
            None => deployment.model_hash,
        };
        let bytes = fetch_blob(nodes, &blob).await?;
        Self::from_blob(id, deployment, &view.model.value.artifact, &bytes)
    }

    /// Deployment `id` ready to predict from its model blob `bytes` (already checked against
    /// its hash), read as `artifact` says: what a gateway serves and a validator re-runs.
    pub fn from_blob(
        id: DeploymentId,
        deployment: Deployment,
        artifact: &ModelArtifact,
        bytes: &[u8],
    ) -> anyhow::Result<Self> {
        let (predictor, featurizer) = match artifact {
            ModelArtifact::Onnx(_) => (
                Predictor::Onnx(
                    OnnxModel::from_bytes(bytes, OnnxOutput::Logits)
                        .map_err(|e| anyhow!("model blob of deployment {id}: {e}"))?,
                ),
                None,
            ),
            ModelArtifact::Trained { .. } => {
                let model = StoredModel::from_bytes(bytes)
                    .map_err(|e| anyhow!("model blob of deployment {id}: {e}"))?;
                let featurizer = model.features.clone();
                let native = NativeModel::new(&model)
                    .map_err(|e| anyhow!("model blob of deployment {id}: {e}"))?;
                (Predictor::Native(Box::new(native)), featurizer)
            }
            ModelArtifact::Spec(_) => bail!("deployment {id} names a bare spec"),
        };
        let columns = match &featurizer {
            Some(f) => {
                f.columns
                    .iter()
                    .map(|c| match c {
                        FeatureColumn::Numeric { name, .. }
                        | FeatureColumn::OneHot { name, .. } => name.clone(),
                    })
                    .collect()
            }
            None => (0..predictor.inputs()).map(|i| format!("x{i}")).collect(),
        };
        Ok(Served {
            id,
            deployment,
            predictor,
            featurizer,
            columns,
        })
    }

    /// The blob served.
    pub fn model_hash(&self) -> Hash {
        self.deployment.model_hash
    }

    /// How the model is described to consumers.
    pub fn describe(&self) -> ServedModel {
        ServedModel {
            model: self.deployment.model,
            deployment: self.id,
            price_per_call: self.deployment.price_per_call,
            model_hash: self.deployment.model_hash,
            columns: self.columns.clone(),
        }
    }

    /// The input columns a request must name.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Reads CSV `input` (a header, then rows) into the model's features: through its encoder
    /// for a native model (by column name; extra columns ignored), or every column as a number
    /// for an ONNX model.
    pub fn features(&self, input: &str) -> Result<Vec<f32>, InputError> {
        let header = input.lines().next().unwrap_or_default();
        let names: Vec<String> = header.split(',').map(|n| n.trim().to_owned()).collect();
        let schema = Schema {
            columns: names
                .iter()
                .map(|name| Column {
                    name: name.clone(),
                    kind: ColumnType::Category,
                    min: None,
                    max: None,
                    categories: Vec::new(),
                })
                .collect(),
            label: None,
            missing: vec![String::new(), "?".to_owned()],
            header: true,
            quasi_identifiers: Vec::new(),
            sensitive: None,
        };
        let table = Table::parse_csv(input.as_bytes(), &schema)
            .map_err(|e| InputError(format!("the input is not CSV with a header: {e}")))?;
        if table.rows.is_empty() {
            return Err(InputError("the input has no rows".into()));
        }
        match &self.featurizer {
            Some(f) => f.encode_x(&table).map_err(|e| InputError(e.to_string())),
            None => {
                if names.len() != self.predictor.inputs() {
                    return Err(InputError(format!(
                        "the model takes {} numeric columns; the input has {}",
                        self.predictor.inputs(),
                        names.len()
                    )));
                }
                let mut x = Vec::with_capacity(table.rows.len() * names.len());
                for row in &table.rows {
                    for cell in row {
                        let text = cell.as_deref().unwrap_or("0");
                        x.push(
                            text.parse::<f32>()
                                .map_err(|_| InputError(format!("{text:?} is not a number")))?,
                        );
                    }
                }
                Ok(x)
            }
        }
    }

    /// Class probabilities for `features` (CPU-bound: call it off the async threads).
    pub fn predict(&self, features: &[f32]) -> anyhow::Result<Probabilities> {
        self.predictor
            .predict(features)
            .map_err(|e| anyhow!("predicting with deployment {}: {e}", self.id))
    }
}
