//! The node's own decoders of peers' bytes: gossiped transaction batches and full blocks as
//! the block and backfill channels carry them. (Votes and certificates are commonware's own
//! messages, decoded and fuzzed by commonware.)

use std::sync::LazyLock;

use aifactory_ledger::testing::TestChain;
use aifactory_node::block::{BlockCodecConfig, ChainBlock};
use aifactory_node::gossip::{decode_batch, encode_batch};
use commonware_codec::{Copying, Decode, Encode};

/// Decodes a gossip batch; whatever decodes must re-encode to the same bytes.
pub fn gossip_batch(data: &[u8]) {
    if let Ok(txs) = decode_batch(data) {
        for (tx, size) in &txs {
            assert_eq!(
                tx.encode().len(),
                *size,
                "a size is its transaction's encoded size"
            );
        }
        let again = encode_batch(txs.iter().map(|(tx, _)| tx.encode()).collect());
        assert_eq!(again, data, "a gossip batch has exactly one encoding");
    }
}

/// The codec config of the test chain every seed block comes from.
static CONFIG: LazyLock<BlockCodecConfig> =
    LazyLock::new(|| BlockCodecConfig::from_genesis_state(&TestChain::new(4, 1_000_000).state));

/// Decodes a block as a peer sends it; whatever decodes must re-encode to the same bytes and
/// survive signature verification.
pub fn chain_block(data: &[u8]) {
    if let Ok(block) = ChainBlock::decode_cfg(Copying(data), &CONFIG) {
        assert_eq!(
            &block.encode()[..],
            data,
            "a block has exactly one encoding"
        );
        let _ = block.block().clone().verify();
    }
}
