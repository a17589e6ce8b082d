//! Deployments: a staked gateway serving a model for a price per call, and the royalty table
//! every call's payment is split by, fixed from the job's settlement when the model is
//! deployed.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{BasisPoints, ModelId};
use crate::limits::{GATEWAY_URL_BYTES_MAX, PROVIDERS_PER_JOB_MAX, ROYALTY_SHARES_MAX};
use crate::{Address, Amount, BoundedString, BoundedVec, Hash, PayoutRole};

/// A deployment's id.
pub type DeploymentId = u64;

/// The pools a settled job paid, in the order of its split, and what each provider got: kept
/// for ever, so that a deployment's royalty table follows the settlement exactly.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Settlement {
    /// Trainer, providers, developer, validators and treasury pools, in base units.
    pub pools: [Amount; 5],
    /// Each provider's part of the providers' pool, in address order.
    pub providers: BoundedVec<(Address, Amount), PROVIDERS_PER_JOB_MAX>,
}

/// `Deploy`: a gateway offers a model for paid inference, locking a stake behind its answers.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deploy {
    /// Which model; a trained or ONNX model (a bare spec has no weights to serve).
    pub model: ModelId,
    /// What one call costs, in base units.
    pub price_per_call: Amount,
    /// The gateway's share of each payment, in basis points, at most `gateway_bps_max`; the
    /// developer's share that remains must still meet the model's royalty.
    pub gateway_bps: BasisPoints,
    /// Tokens locked behind the deployment until it retires; at least `gateway_stake_min`.
    pub stake: Amount,
    /// Where the gateway serves it: an `http://` or `https://` URL.
    pub url: BoundedString<GATEWAY_URL_BYTES_MAX>,
}

/// `Undeploy`: the gateway stops serving; its stake returns after the challenge window.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Undeploy {
    /// Which deployment.
    pub deployment: DeploymentId,
}

/// Where a deployment is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Serving: channels open, top up and claim.
    #[default]
    Active,
    /// The gateway undeployed: no new channels or top-ups, claims still paid, stake held
    /// until `until` so that answers already given can be challenged.
    Undeploying {
        /// The height its stake returns at.
        until: u64,
    },
    /// Over: its stake is returned and no claim is paid.
    Retired,
    /// A challenge found it serving wrong answers and slashed it: no new channels, top-ups
    /// or extensions; vouchers already signed are still paid. The gateway can only undeploy.
    Suspended,
}

/// One line of a royalty table: who is paid what part of each channel claim.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct RoyaltyShare {
    /// Who.
    pub account: Address,
    /// In what capacity.
    pub role: PayoutRole,
    /// The part, in millionths; a table's parts sum to exactly one million.
    pub weight_ppm: u32,
}

/// A live or past deployment.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Deployment {
    /// The gateway: who serves, signs receipts and claims channels.
    pub gateway: Address,
    /// The model served.
    pub model: ModelId,
    /// The blob the gateway must serve: the trained weights or the ONNX file.
    pub model_hash: Hash,
    /// What one call costs, in base units.
    pub price_per_call: Amount,
    /// Where the gateway serves it.
    pub url: BoundedString<GATEWAY_URL_BYTES_MAX>,
    /// Tokens locked behind it.
    pub stake: Amount,
    /// How each claim is split: gateway, developer, providers in address order, treasury.
    pub royalties: BoundedVec<RoyaltyShare, ROYALTY_SHARES_MAX>,
    /// Whether the model was trained and scored by a job on this chain (an imported model
    /// was not).
    pub validated: bool,
    /// Where it is in its life.
    pub status: DeploymentStatus,
    /// The height it was deployed at.
    pub deployed_height: u64,
    /// Everything its channels have paid, in base units.
    pub claimed_total: Amount,
    /// Challenges of its answers still being voted on: its stake stays until they resolve.
    pub challenges_open: u16,
}

/// Why a `Deploy` or `Undeploy` was refused.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    thiserror::Error,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum DeploymentError {
    /// The model is a bare spec: there are no weights to serve.
    #[error("model {model} is an untrained spec; deploy a trained or ONNX model")]
    ModelNotServable {
        /// The model.
        model: ModelId,
    },
    /// The stake is below `gateway_stake_min`.
    #[error("a deployment locks at least {min} base units; {offered} offered")]
    StakeTooLow {
        /// The minimum.
        min: Amount,
        /// The stake offered.
        offered: Amount,
    },
    /// A price of zero.
    #[error("the price per call must be positive")]
    ZeroPrice,
    /// The gateway's share is above `gateway_bps_max`, or leaves the developer less than the
    /// model's royalty.
    #[error("the gateway's share of {got} bps is above the most allowed, {max_bps} bps")]
    GatewayShareTooHigh {
        /// The share asked for.
        got: BasisPoints,
        /// The most it may be for this model.
        max_bps: BasisPoints,
    },
    /// The URL is not an `http://` or `https://` URL without spaces or control characters.
    #[error("the gateway URL must start with http:// or https:// and hold no spaces")]
    UrlInvalid,
    /// This gateway already serves this model.
    #[error("this gateway already serves the model, as deployment {deployment}")]
    AlreadyDeployed {
        /// The live deployment.
        deployment: DeploymentId,
    },
    /// No such deployment.
    #[error("no deployment {deployment}")]
    UnknownDeployment {
        /// The id given.
        deployment: DeploymentId,
    },
    /// The sender is not the deployment's gateway.
    #[error("only deployment {deployment}'s gateway may do this")]
    NotGateway {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// The deployment is not active or suspended (undeploying or retired).
    #[error("deployment {deployment} is {status:?}, not active")]
    NotActive {
        /// The deployment.
        deployment: DeploymentId,
        /// Where it is.
        status: DeploymentStatus,
    },
}

/// Whether `url` is one a deployment may name: `http://` or `https://`, something after it,
/// and no spaces or control characters.
pub fn gateway_url_is_valid(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls() {
        for good in ["http://127.0.0.1:8080", "https://gw.example/v1"] {
            assert!(gateway_url_is_valid(good), "{good}");
        }
        for bad in [
            "",
            "http://",
            "ftp://x",
            "http://a b",
            "http://a\u{7}",
            "gw.example",
        ] {
            assert!(!gateway_url_is_valid(bad), "{bad:?}");
        }
    }
}
