//! The gateway's request path: find the model, read the input, admit the voucher, check its
//! signature, predict, make the voucher durable, sign the receipt, answer. Nothing is held
//! across a failure: a refused or failed call leaves the channel exactly as it was, so the
//! next correct voucher on it is served.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aifactory_api::ApiError;
use aifactory_api::gateway::{INFERENCE_ROWS_MAX, InferenceService};
use aifactory_api::views::gateway::{
    GatewayStatus, HeldVoucher, PredictRequest, PredictResponse, PredictedRow, Voucher,
};
use aifactory_client::views::inference::ChannelView;
use aifactory_types::lifecycle::{
    Channel, ChannelId, Claim, InferenceReceipt, ModelId, most_probable, output_hash,
};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Hash, SecretKey};
use axum::http::StatusCode;
use futures::FutureExt as _;
use futures::future::BoxFuture;

use super::admit::{Admission, Offer, Refusal, admit, expected_amount};
use super::models::Served;
use super::vouchers::{VoucherLog, VoucherRecord};
use crate::nodes::Nodes;

/// Everything a request needs, shared by the server and the claiming loop.
pub struct Gateway {
    key: SecretKey,
    chain_id: ChainId,
    nodes: Nodes,
    served: BTreeMap<ModelId, Arc<Served>>,
    /// Channels as the chain last showed them.
    book: Mutex<BTreeMap<ChannelId, Channel>>,
    /// The highest voucher accepted per channel (what the log holds).
    held: Mutex<BTreeMap<ChannelId, VoucherRecord>>,
    log: VoucherLog,
    tip: AtomicU64,
    accept_margin: u64,
    /// Bench only: answer without checking or recording vouchers (receipts are still signed),
    /// so that a benchmark can measure what payment costs.
    unpaid: bool,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("gateway", &self.key.address())
            .field("models", &self.served.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A JSON error with a status, a code and details.
fn error(status: StatusCode, code: &str, message: String, details: serde_json::Value) -> ApiError {
    let mut error = ApiError::new(status, code, message);
    error.details = Some(details);
    error
}

/// A 402 for `refusal`, naming what would pay.
fn payment_required(refusal: Refusal, expected: u64) -> ApiError {
    let code = match refusal {
        Refusal::WrongDeployment { .. } => "wrong_deployment",
        Refusal::ChannelExpiring { .. } => "channel_expiring",
        Refusal::ChannelExpired { .. } => "channel_expired",
        Refusal::ReplayedVoucher { .. } => "replayed_voucher",
        Refusal::StaleVoucher { .. } => "stale_voucher",
        Refusal::OverDeposit { .. } => "over_deposit",
    };
    let mut details = serde_json::json!({ "expected_amount": expected });
    match refusal {
        Refusal::ChannelExpiring { expiry_height } | Refusal::ChannelExpired { expiry_height } => {
            details["expiry_height"] = expiry_height.into();
        }
        Refusal::OverDeposit { deposit, .. } => details["deposit"] = deposit.into(),
        _ => {}
    }
    error(
        StatusCode::PAYMENT_REQUIRED,
        code,
        refusal.to_string(),
        details,
    )
}

impl Gateway {
    /// A gateway signing with `key` on `chain_id`, serving `served`, with the vouchers the log
    /// recovered.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: SecretKey,
        chain_id: ChainId,
        nodes: Nodes,
        served: Vec<Served>,
        log: VoucherLog,
        held: BTreeMap<ChannelId, VoucherRecord>,
        tip: u64,
        accept_margin: u64,
    ) -> Self {
        Gateway {
            key,
            chain_id,
            nodes,
            served: served
                .into_iter()
                .map(|s| (s.deployment.model, Arc::new(s)))
                .collect(),
            book: Mutex::new(BTreeMap::new()),
            held: Mutex::new(held),
            log,
            tip: AtomicU64::new(tip),
            accept_margin,
            unpaid: false,
        }
    }

    /// Answers without checking or recording vouchers: for `scripts/bench-gateway`'s unpaid
    /// runs only, never for a gateway that wants to be paid.
    pub fn unpaid_for_bench(mut self) -> Self {
        self.unpaid = true;
        self
    }

    /// Records the latest finalized height.
    pub fn set_tip(&self, height: u64) {
        self.tip.fetch_max(height, Ordering::Relaxed);
    }

    /// The highest voucher of every channel, for claiming.
    pub fn held(&self) -> BTreeMap<ChannelId, VoucherRecord> {
        self.held.lock().expect("not poisoned").clone()
    }

    /// Channels as last read from the chain.
    pub fn book(&self) -> BTreeMap<ChannelId, Channel> {
        self.book.lock().expect("not poisoned").clone()
    }

    /// Reads channel `id` from the chain (proofs checked) into the book; `None` if it is not
    /// open.
    pub async fn refresh(&self, id: ChannelId) -> Result<Option<Channel>, ApiError> {
        let view: Result<ChannelView, _> = self
            .nodes
            .call(|c| async move { c.channel(id).await })
            .await;
        match view {
            Ok(view) => {
                let channel = view.channel.value;
                self.book
                    .lock()
                    .expect("not poisoned")
                    .insert(id, channel.clone());
                self.set_tip(view.height);
                Ok(Some(channel))
            }
            Err(e) if e.is_not_found() => {
                self.book.lock().expect("not poisoned").remove(&id);
                Ok(None)
            }
            Err(e) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chain_unreachable",
                format!("the gateway cannot read the channel from its nodes: {e}"),
            )),
        }
    }

    async fn answer(
        &self,
        model: ModelId,
        request: PredictRequest,
    ) -> Result<PredictResponse, ApiError> {
        let served = self.served.get(&model).cloned().ok_or_else(|| {
            ApiError::not_found(
                "unknown_model",
                format!("this gateway does not serve model {model}"),
            )
        })?;
        let rows = request
            .input
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        if rows > INFERENCE_ROWS_MAX + 1 {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "input_too_large",
                format!("at most {INFERENCE_ROWS_MAX} rows a request"),
                serde_json::json!({ "max_rows": INFERENCE_ROWS_MAX }),
            ));
        }
        let features = served.features(&request.input).map_err(|e| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_input",
                e.0,
                serde_json::json!({ "columns": served.columns() }),
            )
        })?;
        let input_hash = Hash::from(blake3::hash(request.input.as_bytes()));
        let Voucher {
            channel: channel_id,
            amount,
            signature,
        } = request.voucher;
        let record = VoucherRecord {
            channel: channel_id,
            amount,
            signature,
            input_hash,
        };
        let admission = match self.unpaid {
            true => None,
            false => Some(self.admit_voucher(&served, &record).await?),
        };
        let tip = self.tip.load(Ordering::Relaxed);
        let worker = served.clone();
        let probabilities = tokio::task::spawn_blocking(move || worker.predict(&features))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    e.to_string(),
                )
            })?
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "prediction_failed",
                    format!("{e:#}"),
                )
            })?;
        if let Some(admission) = admission {
            self.record_voucher(record, admission, served.deployment.price_per_call)
                .await?;
        }
        let classes = probabilities.classes;
        let rows = probabilities
            .p
            .chunks(classes)
            .map(|row| PredictedRow {
                class: most_probable(row) as u32,
                probabilities: row.to_vec(),
            })
            .collect();
        let receipt = InferenceReceipt {
            chain_id: self.chain_id.clone(),
            deployment: served.id,
            model,
            model_hash: served.model_hash(),
            channel: channel_id,
            amount,
            input_hash,
            output_hash: output_hash(classes, &probabilities.p),
            height: tip,
        }
        .sign(&self.key);
        Ok(PredictResponse { rows, receipt })
    }

    /// Checks `record` against its channel (read from the chain when it is new, may have been
    /// topped up, or looks expired) and the voucher held, and its signature; how it pays.
    async fn admit_voucher(
        &self,
        served: &Served,
        record: &VoucherRecord,
    ) -> Result<Admission, ApiError> {
        let VoucherRecord {
            channel: channel_id,
            amount,
            signature,
            ..
        } = *record;
        let price = served.deployment.price_per_call;
        let unknown = || {
            error(
                StatusCode::PAYMENT_REQUIRED,
                "unknown_channel",
                format!("channel {channel_id} is not open on chain"),
                serde_json::json!({ "expected_amount": price }),
            )
        };
        let known = self
            .book
            .lock()
            .expect("not poisoned")
            .get(&channel_id)
            .cloned();
        // A voucher above the deposit we know may follow a top-up: look again.
        let mut fresh = !matches!(&known, Some(c) if amount <= c.deposit);
        let mut channel = match known {
            Some(c) if !fresh => c,
            _ => self.refresh(channel_id).await?.ok_or_else(unknown)?,
        };
        let held = self
            .held
            .lock()
            .expect("not poisoned")
            .get(&channel_id)
            .copied();
        let (admission, expected) = loop {
            let offer = Offer {
                channel: &channel,
                held: held.as_ref(),
                deployment: served.id,
                price,
                tip: self.tip.load(Ordering::Relaxed),
                margin: self.accept_margin,
                voucher: record,
            };
            let expected = expected_amount(&channel, held.as_ref(), price);
            match admit(&offer) {
                // The consumer may have extended the channel since it was read: look again.
                Err(Refusal::ChannelExpiring { .. } | Refusal::ChannelExpired { .. }) if !fresh => {
                    fresh = true;
                    channel = self.refresh(channel_id).await?.ok_or_else(unknown)?;
                }
                result => break (result.map_err(|r| payment_required(r, expected))?, expected),
            }
        };
        let claim = Claim {
            channel: channel_id,
            consumer: channel.consumer,
            amount,
            signature,
        };
        if claim.verify(&self.chain_id).is_err() {
            return Err(error(
                StatusCode::PAYMENT_REQUIRED,
                "bad_signature",
                "the voucher is not signed by the channel's consumer".into(),
                serde_json::json!({ "expected_amount": expected }),
            ));
        }
        Ok(admission)
    }

    /// Holds `record` as its channel's highest voucher if it pays (unless another request on
    /// the channel was paid first), and makes it durable before the answer leaves.
    async fn record_voucher(
        &self,
        record: VoucherRecord,
        admission: Admission,
        price: u64,
    ) -> Result<(), ApiError> {
        let (channel_id, amount) = (record.channel, record.amount);
        if admission == Admission::Pays {
            let mut held = self.held.lock().expect("not poisoned");
            let current = held.get(&channel_id).map_or(0, |h| h.amount);
            if amount <= current {
                // Another request on the channel was paid first with this amount or more.
                let expected = current.saturating_add(price);
                return Err(payment_required(
                    Refusal::StaleVoucher { amount, expected },
                    expected,
                ));
            }
            held.insert(channel_id, record);
        }
        // A retry is written again too: its first answer may still be waiting for the disk,
        // and no answer leaves before the voucher it was paid by is durable.
        if let Err(e) = self.log.write(record).await {
            tracing::error!(error = %e, "the voucher log cannot be written; stopping");
            // A gateway that cannot record what it is owed must not keep answering.
            std::process::abort();
        }
        Ok(())
    }
}

impl InferenceService for Gateway {
    fn predict(
        &self,
        model: ModelId,
        request: PredictRequest,
    ) -> BoxFuture<'_, Result<PredictResponse, ApiError>> {
        self.answer(model, request).boxed()
    }

    fn status(&self) -> GatewayStatus {
        GatewayStatus {
            gateway: self.key.address(),
            chain_id: self.chain_id.to_string(),
            height: self.tip.load(Ordering::Relaxed),
            models: self.served.values().map(|s| s.describe()).collect(),
        }
    }

    fn held_voucher(&self, channel: ChannelId) -> Option<HeldVoucher> {
        let held = *self.held.lock().expect("not poisoned").get(&channel)?;
        let claimed = self
            .book
            .lock()
            .expect("not poisoned")
            .get(&channel)
            .map_or(0, |c| c.claimed);
        Some(HeldVoucher {
            voucher: Voucher {
                channel,
                amount: held.amount,
                signature: held.signature,
            },
            claimed,
        })
    }
}
