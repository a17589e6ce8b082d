//! The client: one method per route of the node API.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use aifactory_api::BlobLookup;
use aifactory_api::views::gateway::{GatewayStatus, HeldVoucher, PredictRequest, PredictResponse};
use aifactory_api::views::inference::{
    AccountChannels, ChallengePage, ChallengeView, ChannelView, DeploymentPage, DeploymentView,
};
use aifactory_api::views::lifecycle::{
    DatasetPage, DatasetView, JobPage, JobView, ModelPage, ModelView, PageRequest, ProvenanceView,
    RoundView,
};
use aifactory_api::views::{
    AccountView, BlobStored, BlockId, BlockView, SNAPSHOT_HEIGHT_HEADER,
    SYNC_EPOCHS_BODY_BYTES_MAX, StatusView, SubmitTx, SyncEpochs, TxAccepted, TxBatchItem,
    TxBatchResults, TxView,
};
use aifactory_types::lifecycle::{ChallengeId, ChannelId, DatasetId, DeploymentId, JobId, ModelId};
use aifactory_types::{Address, Hash, SignedTransaction};

use crate::{ClientError, EventStream};

/// Most idle connections a [`Client::with_timeouts`] client keeps open to its node.
pub const IDLE_CONNECTIONS_MAX: usize = 2;

/// A connection to one node's API. Cheap to clone; clones share a connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

impl Client {
    /// A client of the node at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().build()?;
        Self::with_http(base_url, http)
    }

    /// A client that gives up on a node that does not accept the connection within `connect`
    /// or goes silent mid-answer for `read`, and keeps at most [`IDLE_CONNECTIONS_MAX`] idle
    /// connections to it: what a node uses to ask its peers.
    pub fn with_timeouts(
        base_url: &str,
        connect: std::time::Duration,
        read: std::time::Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .pool_max_idle_per_host(IDLE_CONNECTIONS_MAX)
            .build()?;
        Self::with_http(base_url, http)
    }

    /// A client over a configured `reqwest::Client` (timeouts, proxies, certificates).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let base = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("not an http(s) URL"));
        }
        Ok(Client { http, base })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = self
            .base
            .join(path)
            .expect("API paths are valid relative URLs");
        self.http.request(method, url)
    }

    /// Submits a signed transaction (as hex inside JSON); returns its id.
    pub async fn submit_tx(&self, tx: &SignedTransaction) -> Result<TxAccepted, ClientError> {
        self.submit_tx_hex(&hex::encode(tx.encode())).await
    }

    /// Submits a transaction given as the hex of its canonical encoding, unchecked.
    pub async fn submit_tx_hex(&self, tx_hex: &str) -> Result<TxAccepted, ClientError> {
        let body = SubmitTx {
            tx_hex: tx_hex.to_owned(),
        };
        json(self.request(Method::POST, "v1/txs").json(&body)).await
    }

    /// Submits a transaction's raw canonical bytes as `application/octet-stream`, unchecked.
    pub async fn submit_tx_bytes(&self, bytes: Vec<u8>) -> Result<TxAccepted, ClientError> {
        let request = self
            .request(Method::POST, "v1/txs")
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        json(request).await
    }

    /// Submits up to 256 signed transactions (the server's `TX_BATCH_TXS_MAX`) in one request;
    /// one result per transaction, in order: its id, or the error the node gave for it alone.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<Result<TxAccepted, ClientError>>, ClientError> {
        let body: Vec<String> = txs.iter().map(|tx| hex::encode(tx.encode())).collect();
        let answer: TxBatchResults =
            json(self.request(Method::POST, "v1/txs/batch").json(&body)).await?;
        if answer.results.len() != txs.len() {
            return Err(ClientError::Decode(format!(
                "{} results for a batch of {}",
                answer.results.len(),
                txs.len()
            )));
        }
        answer.results.into_iter().map(batch_result).collect()
    }

    /// A transaction's status: pending, included with its receipt, or rejected.
    pub async fn tx(&self, hash: &Hash) -> Result<TxView, ClientError> {
        json(self.request(Method::GET, &format!("v1/txs/{hash}"))).await
    }

    /// An account with its proof; check it with `view.proof.verify(&view.state_root)`.
    pub async fn account(&self, address: &Address) -> Result<AccountView, ClientError> {
        json(self.request(Method::GET, &format!("v1/accounts/{address}"))).await
    }

    /// A block and its receipts.
    pub async fn block(&self, id: BlockId) -> Result<BlockView, ClientError> {
        json(self.request(Method::GET, &format!("v1/blocks/{id}"))).await
    }

    /// A page of registered datasets, in id order (no proofs).
    pub async fn datasets(&self, page: PageRequest) -> Result<DatasetPage, ClientError> {
        json(self.request(Method::GET, &format!("v1/datasets?{}", page.query()))).await
    }

    /// Dataset `id`, its proof checked against the state root the node sent with it.
    pub async fn dataset(&self, id: DatasetId) -> Result<DatasetView, ClientError> {
        let view: DatasetView =
            json(self.request(Method::GET, &format!("v1/datasets/{id}"))).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// A page of models, in id order (no proofs).
    pub async fn models(&self, page: PageRequest) -> Result<ModelPage, ClientError> {
        json(self.request(Method::GET, &format!("v1/models?{}", page.query()))).await
    }

    /// Model `id`, its proof checked against the state root the node sent with it.
    pub async fn model(&self, id: ModelId) -> Result<ModelView, ClientError> {
        let view: ModelView = json(self.request(Method::GET, &format!("v1/models/{id}"))).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// What is behind model `id`, every proof checked against the one state root the node
    /// sent with them.
    pub async fn provenance(&self, id: ModelId) -> Result<ProvenanceView, ClientError> {
        let path = format!("v1/models/{id}/provenance");
        let view: ProvenanceView = json(self.request(Method::GET, &path)).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// A page of deployments, live and retired, in id order (no proofs).
    pub async fn deployments(&self, page: PageRequest) -> Result<DeploymentPage, ClientError> {
        json(self.request(Method::GET, &format!("v1/deployments?{}", page.query()))).await
    }

    /// A page of model `id`'s deployments, in id order (no proofs).
    pub async fn model_deployments(
        &self,
        id: ModelId,
        page: PageRequest,
    ) -> Result<DeploymentPage, ClientError> {
        let path = format!("v1/models/{id}/deployments?{}", page.query());
        json(self.request(Method::GET, &path)).await
    }

    /// Deployment `id` with its model and settlement, every proof checked.
    pub async fn deployment(&self, id: DeploymentId) -> Result<DeploymentView, ClientError> {
        let path = format!("v1/deployments/{id}");
        let view: DeploymentView = json(self.request(Method::GET, &path)).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// Open channel `id` with its deployment, every proof checked.
    pub async fn channel(&self, id: ChannelId) -> Result<ChannelView, ClientError> {
        let view: ChannelView =
            json(self.request(Method::GET, &format!("v1/channels/{id}"))).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// A page of challenges, in id order (no proofs).
    pub async fn challenges(&self, page: PageRequest) -> Result<ChallengePage, ClientError> {
        json(self.request(Method::GET, &format!("v1/challenges?{}", page.query()))).await
    }

    /// Challenge `id` with its deployment and every vote, every proof checked.
    pub async fn challenge(&self, id: ChallengeId) -> Result<ChallengeView, ClientError> {
        let view: ChallengeView =
            json(self.request(Method::GET, &format!("v1/challenges/{id}"))).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// `consumer`'s open channels, every proof checked.
    pub async fn account_channels(
        &self,
        consumer: &Address,
    ) -> Result<AccountChannels, ClientError> {
        let path = format!("v1/accounts/{consumer}/channels");
        let view: AccountChannels = json(self.request(Method::GET, &path)).await?;
        view.verify(consumer)?;
        Ok(view)
    }

    /// A gateway's answer to `request` for `model`, with its signed receipt (this client's
    /// base URL is then a gateway's, not a node's). The receipt is not checked here: see
    /// `aifactory receipt verify`.
    pub async fn predict(
        &self,
        model: ModelId,
        request: &PredictRequest,
    ) -> Result<PredictResponse, ClientError> {
        json(
            self.request(Method::POST, &format!("v1/predict/{model}"))
                .json(request),
        )
        .await
    }

    /// A gateway's status: its account, the chain and the models it serves.
    pub async fn gateway_status(&self) -> Result<GatewayStatus, ClientError> {
        json(self.request(Method::GET, "v1/status")).await
    }

    /// The highest voucher a gateway holds for `channel`.
    pub async fn held_voucher(&self, channel: ChannelId) -> Result<HeldVoucher, ClientError> {
        json(self.request(Method::GET, &format!("v1/channels/{channel}"))).await
    }

    /// A page of jobs, in id order (no proofs).
    pub async fn jobs(&self, page: PageRequest) -> Result<JobPage, ClientError> {
        json(self.request(Method::GET, &format!("v1/jobs?{}", page.query()))).await
    }

    /// Job `id` with its participants, rounds and scores, every proof checked.
    pub async fn job(&self, id: JobId) -> Result<JobView, ClientError> {
        let view: JobView = json(self.request(Method::GET, &format!("v1/jobs/{id}"))).await?;
        view.verify(id)?;
        Ok(view)
    }

    /// Round `round` (its sequence number) of job `id` with each phase's posts, every proof
    /// checked.
    pub async fn round(&self, id: JobId, round: u32) -> Result<RoundView, ClientError> {
        let path = format!("v1/jobs/{id}/rounds/{round}");
        let view: RoundView = json(self.request(Method::GET, &path)).await?;
        view.verify(id, round)?;
        Ok(view)
    }

    /// The node's status.
    pub async fn status(&self) -> Result<StatusView, ClientError> {
        json(self.request(Method::GET, "v1/status")).await
    }

    /// Stores `bytes` as a blob under their BLAKE3 hash, which the caller names.
    pub async fn put_blob(&self, hash: &Hash, bytes: Bytes) -> Result<BlobStored, ClientError> {
        let request = self
            .request(Method::PUT, &format!("v1/blobs/{hash}"))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        json(request).await
    }

    /// Stores a blob streamed from `chunks` (a file being read, say), without buffering it.
    pub async fn put_blob_stream<S>(
        &self,
        hash: &Hash,
        chunks: S,
    ) -> Result<BlobStored, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let request = self
            .request(Method::PUT, &format!("v1/blobs/{hash}"))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(chunks));
        json(request).await
    }

    /// A blob's bytes as they arrive; `lookup` says whether the node may ask its peers.
    pub async fn get_blob_stream(
        &self,
        hash: &Hash,
        lookup: BlobLookup,
    ) -> Result<BoxStream<'static, Result<Bytes, ClientError>>, ClientError> {
        let response = checked(self.blob_request(hash, lookup)).await?;
        Ok(response.bytes_stream().map_err(ClientError::from).boxed())
    }

    /// A blob's bytes, all at once, from the node or (through it) its peers, checked against
    /// the hash asked for.
    pub async fn get_blob(&self, hash: &Hash) -> Result<Bytes, ClientError> {
        let response = checked(self.blob_request(hash, BlobLookup::AskPeers)).await?;
        content_of(*hash, response.bytes().await?)
    }

    fn blob_request(&self, hash: &Hash, lookup: BlobLookup) -> RequestBuilder {
        let query = match lookup {
            BlobLookup::AskPeers => "",
            BlobLookup::Local => "?local=true",
        };
        self.request(Method::GET, &format!("v1/blobs/{hash}{query}"))
    }

    /// Subscribes to the chain's events from now on (blocks, included transactions, ledger
    /// events); one that falls behind gets `Lagged`.
    pub async fn events(&self) -> Result<EventStream, ClientError> {
        self.event_stream("v1/events").await
    }

    /// The events of finalized blocks from `height` on, then live, with no gap and no
    /// duplicate: what an agent that restarts calls with one past the last height it finished
    /// (see [`EventStream::last_event_id`]). A height the node no longer has is a 410
    /// (`events_pruned`) naming the lowest it has.
    pub async fn events_from(&self, height: u64) -> Result<EventStream, ClientError> {
        self.event_stream(&format!("v1/events?from_height={height}"))
            .await
    }

    async fn event_stream(&self, path: &str) -> Result<EventStream, ClientError> {
        let request = self
            .request(Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let response = checked(request).await?;
        Ok(EventStream::new(response.bytes_stream().boxed()))
    }

    /// The node's OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        json(self.request(Method::GET, "v1/openapi.json")).await
    }

    /// Epoch boundaries from epoch `from` on, for state sync; a body over
    /// [`SYNC_EPOCHS_BODY_BYTES_MAX`] is refused as it arrives.
    pub async fn sync_epochs(&self, from: u64) -> Result<SyncEpochs, ClientError> {
        let request = self.request(Method::GET, &format!("v1/sync/epochs?from={from}"));
        let mut chunks = checked(request).await?.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if body.len().saturating_add(chunk.len()) > SYNC_EPOCHS_BODY_BYTES_MAX {
                return Err(ClientError::Decode(format!(
                    "the epoch list is over {SYNC_EPOCHS_BODY_BYTES_MAX} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// The node's latest ledger snapshot as it arrives, with the height it says it is at.
    pub async fn sync_snapshot_stream(
        &self,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, ClientError>>), ClientError> {
        let response = checked(self.request(Method::GET, "v1/sync/snapshot")).await?;
        let height = response
            .headers()
            .get(SNAPSHOT_HEIGHT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Decode(format!("no {SNAPSHOT_HEIGHT_HEADER} header")))?;
        Ok((
            height,
            response.bytes_stream().map_err(ClientError::from).boxed(),
        ))
    }
}

/// One item of a batch's answer as the single-transaction call would have returned it; an
/// item that is neither accepted nor refused means the answer cannot be read.
fn batch_result(item: TxBatchItem) -> Result<Result<TxAccepted, ClientError>, ClientError> {
    match (item.tx_hash, item.error) {
        (Some(tx_hash), None) => Ok(Ok(TxAccepted { tx_hash })),
        (None, Some(error)) => Ok(Err(ClientError::Api {
            status: item.status,
            code: error.code,
            message: error.message,
            details: error.details,
            retry_after_s: None,
        })),
        _ => Err(ClientError::Decode(
            "a batch item with neither or both of tx_hash and error".to_owned(),
        )),
    }
}

/// Sends a request and turns any non-success answer into a [`ClientError`].
async fn checked(request: RequestBuilder) -> Result<Response, ClientError> {
    let response = request.send().await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after_s = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.bytes().await?;
    Err(ClientError::from_body(
        status.as_u16(),
        retry_after_s,
        &body,
    ))
}

/// Sends a request and reads a JSON success body.
async fn json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ClientError> {
    let body = checked(request).await?.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
}

/// `bytes` if they are the content of blob `hash`; a node that serves anything else is caught
/// here rather than trusted by every caller.
fn content_of(hash: Hash, bytes: Bytes) -> Result<Bytes, ClientError> {
    if Hash::from(blake3::hash(&bytes)) == hash {
        Ok(bytes)
    } else {
        Err(ClientError::WrongBlob { hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_returned_only_if_it_hashes_to_what_was_asked() {
        let bytes = Bytes::from_static(b"a model");
        let hash = Hash::from(blake3::hash(&bytes));
        assert_eq!(content_of(hash, bytes.clone()).unwrap(), bytes);
        let other = Bytes::from_static(b"another model");
        assert!(matches!(
            content_of(hash, other),
            Err(ClientError::WrongBlob { hash: h }) if h == hash
        ));
    }
}
