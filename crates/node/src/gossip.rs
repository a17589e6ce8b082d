//! Transaction gossip: a transaction accepted here (from the API) is sent to every connected
//! peer, so that whichever validator leads the next view has it in its mempool.
//!
//! **Out:** accepted transactions queue (bounded by [`GOSSIP_QUEUE_MAX`]; when full, gossip
//! of the newest is skipped: they stay in our mempool and reach a block when we propose); a
//! task waits [`GOSSIP_BATCH_DELAY_MS`] after the first, then sends up to
//! [`GOSSIP_BATCH_TXS_MAX`] of them in one message to all peers.
//!
//! **In:** a batch is decoded with caps ([`decode_batch`]), its signatures are checked as a
//! batch, and each transaction goes through the same mempool admission as the API's. Peers
//! forward only what their own mempool admitted, so an undecodable batch or a bad signature
//! is a lie and the peer is blocked; a transaction that is merely stale (included meanwhile,
//! nonce taken) is dropped quietly. Received transactions are not forwarded again: every
//! node is connected to every validator.

use std::time::Duration;

use aifactory_types::SignedTransaction;
use aifactory_types::codec::{self, BoundedBytes, BoundedVec, DecodeError};
use aifactory_types::limits::TX_BYTES_MAX;
use aifactory_types::transaction::verify_transactions;
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::chain::NodeHandle;
use crate::limits::{
    GOSSIP_BATCH_DELAY_MS, GOSSIP_BATCH_TXS_MAX, GOSSIP_MESSAGE_BYTES_MAX, GOSSIP_QUEUE_MAX,
};
use crate::metrics::NodeMetrics;

/// One gossip message: encoded signed transactions.
pub type Batch = BoundedVec<BoundedBytes<TX_BYTES_MAX>, GOSSIP_BATCH_TXS_MAX>;

/// Decodes a gossip message from a peer (untrusted bytes) into transactions, each with its
/// encoded size (what the mempool's byte limit counts).
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<(SignedTransaction, usize)>, DecodeError> {
    let batch: Batch = codec::decode("gossip batch", bytes, GOSSIP_MESSAGE_BYTES_MAX)?;
    batch
        .into_inner()
        .into_iter()
        .map(|tx| Ok((SignedTransaction::decode(&tx)?, tx.len())))
        .collect()
}

/// Encodes transactions (already encoded each) as one gossip message.
pub fn encode_batch(txs: Vec<Vec<u8>>) -> Vec<u8> {
    let items = txs
        .into_iter()
        .map(|tx| BoundedBytes::new(tx).expect("admitted transactions fit TX_BYTES_MAX"))
        .collect();
    codec::encode(&Batch::new(items).expect("batches are cut at GOSSIP_BATCH_TXS_MAX"))
}

/// Where locally accepted transactions are offered for gossip; cheap to clone.
#[derive(Debug, Clone)]
pub struct GossipQueue {
    queue: mpsc::Sender<Vec<u8>>,
}

impl GossipQueue {
    /// Offers an admitted transaction's bytes for gossip; skipped if the queue is full.
    pub fn offer(&self, tx: Vec<u8>) {
        if self.queue.try_send(tx).is_err() {
            debug!("gossip queue full: the transaction stays local");
        }
    }
}

/// Starts gossip over `channel`: sending what is offered to the returned queue, and admitting
/// what peers send into `node`'s mempool. Blocks lying peers through `blocker`.
pub fn start<E, S, R, B>(
    context: E,
    node: NodeHandle,
    (sender, receiver): (S, R),
    blocker: B,
    metrics: NodeMetrics,
) -> (GossipQueue, Handle<()>, Handle<()>)
where
    E: Clock + Spawner,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let (queue, outgoing) = mpsc::channel(GOSSIP_QUEUE_MAX);
    let send = context
        .child("gossip_out")
        .spawn(move |context| send_loop(context, outgoing, sender));
    let receive = context
        .child("gossip_in")
        .spawn(move |_| receive_loop(node, receiver, blocker, metrics));
    (GossipQueue { queue }, send, receive)
}

async fn send_loop<E: Clock, S: Sender<PublicKey = PublicKey>>(
    context: E,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    mut sender: S,
) {
    while let Some(first) = outgoing.recv().await {
        context
            .sleep(Duration::from_millis(GOSSIP_BATCH_DELAY_MS))
            .await;
        let mut batch = vec![first];
        while batch.len() < GOSSIP_BATCH_TXS_MAX {
            match outgoing.try_recv() {
                Ok(tx) => batch.push(tx),
                Err(_) => break,
            }
        }
        let count = batch.len();
        let message = encode_batch(batch);
        let _ = sender.send(Recipients::All, message, false);
        debug!(count, "gossiped transactions");
    }
}

async fn receive_loop<R, B>(node: NodeHandle, mut receiver: R, mut blocker: B, metrics: NodeMetrics)
where
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    while let Ok((peer, message)) = receiver.recv().await {
        let (txs, sizes): (Vec<_>, Vec<_>) = match decode_batch(message.as_ref()) {
            Ok(decoded) => decoded.into_iter().unzip(),
            Err(error) => {
                warn!(?peer, %error, "peer sent an undecodable gossip batch: blocking it");
                let _ = blocker.block(peer);
                continue;
            }
        };
        let verified = match verify_transactions(txs) {
            Ok(verified) => verified,
            Err((index, error)) => {
                warn!(?peer, index, %error, "peer gossiped a badly signed transaction: blocking it");
                let _ = blocker.block(peer);
                continue;
            }
        };
        for result in node.chain().admit(verified.into_iter().zip(sizes)) {
            match result {
                Ok(_) => {
                    metrics.gossip_admitted.inc();
                }
                Err(rejection) => metrics.reject(&rejection),
            }
        }
        metrics
            .mempool_size
            .set(node.mempool_len().try_into().unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;

    use super::*;

    #[test]
    fn batches_round_trip_and_caps_hold() {
        let chain = TestChain::new(2, 1_000_000_000);
        let txs: Vec<SignedTransaction> = (0..3)
            .map(|_| chain.tx(0, TestChain::transfer_to(chain.address(1), 5)))
            .collect();
        let bytes = encode_batch(txs.iter().map(SignedTransaction::encode).collect());
        let sizes: Vec<usize> = txs.iter().map(|tx| tx.encode().len()).collect();
        let decoded: Vec<_> = txs.iter().cloned().zip(sizes).collect();
        assert_eq!(decode_batch(&bytes).unwrap(), decoded);

        // A count beyond the cap, a truncated message and trailing bytes are refused.
        let mut too_many = codec::encode(&u32::try_from(GOSSIP_BATCH_TXS_MAX + 1).unwrap());
        too_many.extend_from_slice(&[0; 64]);
        assert!(decode_batch(&too_many).is_err());
        assert!(decode_batch(&bytes[..bytes.len() - 1]).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_batch(&trailing).is_err());
        // An item that is not a transaction is refused.
        let junk =
            codec::encode(&Batch::new(vec![BoundedBytes::new(vec![1, 2, 3]).unwrap()]).unwrap());
        assert!(decode_batch(&junk).is_err());
    }
}
