//! A gateway's wire bodies: a paid prediction request and its answer with a signed receipt,
//! the models a gateway serves, the voucher it holds for a channel, and its status.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use aifactory_types::lifecycle::{
    ChannelId, DeploymentId, ModelId, SignedInferenceReceipt, sign_voucher,
};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Address, Amount, Hash, SecretKey, Signature};

use crate::schemas;

/// A consumer's voucher for one call: everything owed on the channel so far, signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Voucher {
    /// The channel.
    pub channel: ChannelId,
    /// The cumulative amount, in base units: the last voucher's plus at least the price.
    pub amount: Amount,
    /// The consumer's signature (see `docs/inference.md`).
    #[schema(value_type = schemas::SignatureHex)]
    pub signature: Signature,
}

/// `POST /v1/predict/{model}`: the voucher that pays and the input rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PredictRequest {
    /// The payment.
    pub voucher: Voucher,
    /// CSV with a header line naming the model's input columns (extra columns are ignored);
    /// its plain BLAKE3 is the receipt's `input_hash`.
    pub input: String,
}

impl PredictRequest {
    /// A request for `input` paid by the voucher `key` signs for `amount` in all on `channel`.
    pub fn paid(
        key: &SecretKey,
        chain_id: &ChainId,
        channel: ChannelId,
        amount: Amount,
        input: String,
    ) -> Self {
        PredictRequest {
            voucher: Voucher {
                channel,
                amount,
                signature: sign_voucher(key, chain_id, channel, amount).signature,
            },
            input,
        }
    }
}

/// One row's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PredictedRow {
    /// The most probable class (the lowest on a tie).
    pub class: u32,
    /// Each class's probability.
    pub probabilities: Vec<f32>,
}

/// The answer: a row per input row, and the gateway's signed receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PredictResponse {
    /// The rows, in input order.
    pub rows: Vec<PredictedRow>,
    /// What the gateway attests: model, input and output hashes, the voucher, the height.
    #[schema(value_type = Object)]
    pub receipt: SignedInferenceReceipt,
}

/// A model a gateway serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServedModel {
    /// The model.
    pub model: ModelId,
    /// The deployment it is served under.
    pub deployment: DeploymentId,
    /// What one call costs, in base units (per request, whatever its rows).
    pub price_per_call: Amount,
    /// The blob served, checked against the deployment on chain.
    #[schema(value_type = schemas::HashHex)]
    pub model_hash: Hash,
    /// The input columns the header must name, in the order used.
    pub columns: Vec<String>,
}

/// `GET /v1/status` of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GatewayStatus {
    /// The gateway's account: it signs receipts and claims channels.
    #[schema(value_type = schemas::AddressText)]
    pub gateway: Address,
    /// The chain.
    pub chain_id: String,
    /// The latest finalized height the gateway knows.
    pub height: u64,
    /// What it serves.
    pub models: Vec<ServedModel>,
}

/// `GET /v1/channels/{id}` of a gateway: the highest voucher it holds, so a consumer that lost
/// its own record can resume from a voucher it can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldVoucher {
    /// The voucher.
    pub voucher: Voucher,
    /// What the chain says was claimed of it so far.
    pub claimed: Amount,
}
