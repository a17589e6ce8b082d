//! The gateway agent: serves deployed models over HTTP (`aifactory_api::gateway`), paid call
//! by call with vouchers on payment channels, signs a receipt for every answer, and claims
//! the vouchers it holds on chain.
//!
//! - [`models`] loads each deployment's model blob, checked against the chain;
//! - [`admit`] is the acceptance rule for a voucher;
//! - [`vouchers`] makes each accepted voucher durable before its answer leaves;
//! - [`service`] is the request path;
//! - [`claims`] decides what to claim and when; the role's tick sends the claims through the
//!   outbox, so a restart re-sends the same transaction rather than a new one.
//!
//! Channel state lives on the chain and in the voucher log, nowhere else: there is no lock
//! to leak and nothing to unlock after a crash.

pub mod admit;
pub mod claims;
pub mod models;
pub mod service;
pub mod vouchers;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aifactory_api::gateway::{InferenceService as _, gateway_router};
use aifactory_types::Amount;
use aifactory_types::lifecycle::{ChannelId, ClaimChannels, DeploymentId};
use aifactory_types::transaction::ChainId;
use aifactory_types::{BoundedVec, Payload, TxError};
use anyhow::{Context as _, anyhow};
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::{AgentSettings, Aif, Drill, Relative};
use crate::nodes::Nodes;
use crate::outbox::Sent;
use crate::runtime::{Agent, Look, Role};
use claims::{ClaimPolicy, plan};
use models::Served;
use service::Gateway;
use vouchers::VoucherLog;

/// How many fees' worth must be unclaimed before the interval alone makes a claim.
const CLAIM_DUST_FEES: Amount = 10;

/// A gateway's settings (the `[gateway]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Where to serve the gateway API, e.g. `127.0.0.1:8800`.
    pub listen: SocketAddr,
    /// The deployments to serve; each must be this key's.
    pub deployments: Vec<DeploymentId>,
    /// Claim everything unclaimed at least this often, in seconds.
    #[serde(default = "default_claim_interval_s")]
    pub claim_interval_s: u64,
    /// Claim everything once this much is unclaimed, in AIF.
    #[serde(default = "default_claim_threshold")]
    pub claim_threshold: Aif,
    /// Claim a channel at once when it expires within this many blocks.
    #[serde(default = "default_claim_margin_blocks")]
    pub claim_margin_blocks: u64,
    /// Refuse vouchers on channels that expire within this many blocks (time to claim).
    #[serde(default = "default_accept_margin_blocks")]
    pub accept_margin_blocks: u64,
    /// Faults to act out (tests and drills only).
    #[serde(default)]
    pub drill: Drill,
    /// Answer without checking or recording vouchers, to measure what payment costs
    /// (`scripts/bench-gateway` only: such a gateway is never paid).
    #[serde(default)]
    pub unpaid_for_bench: bool,
}

fn default_claim_interval_s() -> u64 {
    60
}

fn default_claim_threshold() -> Aif {
    Aif(10 * aifactory_types::amount::BASE_UNITS_PER_AIF)
}

fn default_claim_margin_blocks() -> u64 {
    50
}

fn default_accept_margin_blocks() -> u64 {
    60
}

/// A gateway's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Shared settings.
    pub agent: AgentSettings,
    /// The role's.
    pub gateway: GatewaySettings,
}

impl Relative for GatewayConfig {
    fn resolve(&mut self, base: &std::path::Path) {
        self.agent.resolve(base);
    }
}

/// The role: keeps the tip and the channels fresh and claims what is due.
#[derive(Debug)]
pub struct GatewayRole {
    gateway: Arc<Gateway>,
    settings: GatewaySettings,
    /// The fee each claim pays.
    fee: Amount,
    last_claim: Instant,
    refreshed: bool,
}

impl GatewayRole {
    /// Loads the deployments, recovers the voucher log and starts serving on the configured
    /// address; returns the role and the address it listens on.
    pub async fn start(
        config: &GatewayConfig,
        agent: &Agent,
    ) -> anyhow::Result<(Self, SocketAddr)> {
        let settings = config.gateway.clone();
        let address = agent.outbox.address();
        let status = agent
            .nodes
            .call(|c| async move { c.status().await })
            .await?;
        let chain_id = ChainId::new(status.chain_id).map_err(|e| anyhow!("chain id: {e}"))?;
        let mut served = Vec::new();
        for &id in &settings.deployments {
            let blob = settings.drill.serve_blob;
            served.push(Served::load(&agent.nodes, id, address, blob).await?);
        }
        let (log, held) = VoucherLog::open(&agent.state_dir.join("vouchers.log"))?;
        tracing::info!(channels = held.len(), "voucher log recovered");
        let mut gateway = Gateway::new(
            agent.outbox.key().clone(),
            chain_id,
            Nodes::new(&config.agent.nodes)?,
            served,
            log,
            held,
            status.finalized_height,
            settings.accept_margin_blocks,
        );
        if settings.unpaid_for_bench {
            tracing::warn!("unpaid for a bench: vouchers are neither checked nor recorded");
            gateway = gateway.unpaid_for_bench();
        }
        let gateway = Arc::new(gateway);
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let local = listener.local_addr()?;
        let router = gateway_router(gateway.clone());
        tokio::spawn(async move {
            if let Err(e) = aifactory_api::serve(listener, router, std::future::pending()).await {
                tracing::error!(error = %e, "the gateway's server stopped");
            }
        });
        tracing::info!(%local, deployments = ?settings.deployments, "gateway serving");
        Ok((
            GatewayRole {
                gateway,
                settings,
                fee: config.agent.fee,
                last_claim: Instant::now(),
                refreshed: false,
            },
            local,
        ))
    }

    /// Reads every channel with a voucher held from the chain again.
    async fn refresh_held(&self) -> anyhow::Result<()> {
        for id in self.gateway.held().into_keys() {
            self.gateway
                .refresh(id)
                .await
                .map_err(|e| anyhow!(e.message))?;
        }
        Ok(())
    }

    /// Sends one transaction of due claims; returns how many channels it claimed.
    async fn claim(&mut self, agent: &mut Agent) -> anyhow::Result<usize> {
        let interval = Duration::from_secs(self.settings.claim_interval_s);
        let policy = ClaimPolicy {
            margin: self.settings.claim_margin_blocks,
            interval_passed: self.last_claim.elapsed() >= interval,
            dust: self.fee.saturating_mul(CLAIM_DUST_FEES),
            threshold: self.settings.claim_threshold.0,
        };
        let tip = self.gateway.status().height;
        let claims = plan(&self.gateway.held(), &self.gateway.book(), tip, policy);
        if claims.is_empty() {
            if policy.interval_passed {
                self.last_claim = Instant::now();
            }
            return Ok(0);
        }
        let label = claim_label(
            &claims
                .iter()
                .map(|c| (c.channel, c.amount))
                .collect::<Vec<_>>(),
        );
        let channels: Vec<ChannelId> = claims.iter().map(|c| c.channel).collect();
        let payload = Payload::ClaimChannels(ClaimChannels {
            claims: BoundedVec::new(claims).expect("a plan fits one transaction"),
        });
        let sent = agent.outbox.send(&agent.nodes, &label, payload).await?;
        match &sent {
            Sent::Refused(TxError::Channel { problem }) => {
                tracing::warn!(%problem, "a claim was refused; reading its channels again");
            }
            Sent::Refused(other) => tracing::warn!(error = %other, "claim refused"),
            Sent::Done | Sent::Executed => {
                tracing::info!(channels = channels.len(), "claimed");
            }
        }
        for id in &channels {
            self.gateway
                .refresh(*id)
                .await
                .map_err(|e| anyhow!(e.message))?;
        }
        self.last_claim = Instant::now();
        Ok(channels.len())
    }
}

/// The outbox label of a claim: the same claims always get the same label, so a claim sent
/// before a crash is re-sent, not signed anew.
fn claim_label(claims: &[(ChannelId, Amount)]) -> String {
    let mut hasher = blake3::Hasher::new();
    for (channel, amount) in claims {
        hasher.update(&channel.to_le_bytes());
        hasher.update(&amount.to_le_bytes());
    }
    format!("claim {}", hasher.finalize().to_hex())
}

impl Role for GatewayRole {
    const NAME: &'static str = "gateway";

    async fn tick(&mut self, agent: &mut Agent, _look: &Look) -> anyhow::Result<()> {
        let status = agent
            .nodes
            .call(|c| async move { c.status().await })
            .await?;
        self.gateway.set_tip(status.finalized_height);
        if !self.refreshed {
            self.refresh_held().await?;
            self.refreshed = true;
        }
        self.claim(agent).await?;
        Ok(())
    }
}
