//! What the API reads of finalized blocks: a block with its receipts and events, where a
//! transaction landed, and the events a resumed `/v1/events` stream replays. The recent window in memory answers first;
//! older heights come from disk, the block from marshal's archive and its outcome from
//! [`crate::outcomes`], so both are served for every block the node has.

use aifactory_api::views::{BlockId, BlockView, ChainEvent, EventHeights, TxStatus};
use aifactory_types::Hash;
use commonware_consensus::marshal::Identifier;
use commonware_consensus::types::Height;

use crate::block::{ChainBlock, to_digest};
use crate::chain::{FinalizedBlock, NodeHandle};
use crate::engine::MarshalMailbox;
use crate::outcomes::{OutcomeRecord, Outcomes};

/// The block `id` with its receipts and events, if the node has it; receipts and events are
/// `None` only for a block older than the node's recorded outcomes (see [`event_heights`]).
pub async fn block_view(
    node: &NodeHandle,
    archive: &MarshalMailbox,
    outcomes: &Outcomes,
    id: BlockId,
) -> Option<BlockView> {
    let recent = {
        let recent = node.chain().recent();
        match id {
            BlockId::Latest => recent.latest(),
            BlockId::Height(height) => recent.by_height(height),
            BlockId::Hash(hash) => recent.by_hash(&hash),
        }
    };
    if let Some(finalized) = recent {
        return Some(view_of(&finalized));
    }
    let identifier = match id {
        BlockId::Latest => Identifier::Latest,
        BlockId::Height(0) => return None,
        BlockId::Height(height) => Identifier::Height(Height::new(height)),
        BlockId::Hash(hash) => Identifier::Digest(to_digest(hash)),
    };
    let block: ChainBlock = archive.get_block(identifier).await?.inner().clone();
    let record = outcome_of(outcomes, &block).await;
    Some(BlockView {
        hash: block.hash(),
        block: block.block().clone(),
        receipts: record.as_ref().map(|r| r.receipts.clone()),
        events: record.map(|r| r.events),
    })
}

/// Where the finalized transaction `hash` landed, with its receipt, if its block's outcome
/// is recorded (the recent window answers first; see the API's `tx_status`).
pub async fn recorded_tx(outcomes: &Outcomes, hash: Hash) -> Option<TxStatus> {
    let location = outcomes.locate(hash).await?;
    let record = outcomes.get(location.height).await?;
    let receipt = record.receipts.get(location.index as usize)?.clone();
    assert_eq!(
        receipt.tx_hash, hash,
        "a transaction located at another's receipt"
    );
    Some(TxStatus::Included {
        height: location.height,
        block_hash: record.hash,
        index: location.index,
        receipt,
    })
}

/// The recorded outcome of `block`, if there is one and it is this block's.
async fn outcome_of(outcomes: &Outcomes, block: &ChainBlock) -> Option<OutcomeRecord> {
    let record = outcomes.get(block.header().height).await?;
    // Heights are finalized, so a record of another block means the disk is corrupt.
    assert_eq!(
        record.hash,
        block.hash(),
        "the outcome recorded is another block's"
    );
    Some(record)
}

/// The heights a resumed event stream can replay: the recorded run ending at the newest, or
/// nothing yet (everything from the block after the finalized one).
pub fn event_heights(node: &NodeHandle, outcomes: &Outcomes) -> EventHeights {
    match outcomes.range() {
        Some((lowest, tip)) => EventHeights { lowest, tip },
        None => {
            let tip = node.finalized_state().height();
            EventHeights {
                lowest: tip + 1,
                tip,
            }
        }
    }
}

/// The stream events of the finalized block at `height`, if its outcome is in the window or
/// on disk.
pub async fn block_events(
    node: &NodeHandle,
    outcomes: &Outcomes,
    height: u64,
) -> Option<Vec<ChainEvent>> {
    let recent = node.chain().recent().by_height(height);
    if let Some(finalized) = recent {
        return Some(events_of(&finalized));
    }
    let record = outcomes.get(height).await?;
    Some(ChainEvent::of_block(
        height,
        record.hash,
        record.state_root,
        &record.receipts,
        &record.events,
    ))
}

/// The stream events of a finalized block (see [`ChainEvent::of_block`] for their order).
pub fn events_of(finalized: &FinalizedBlock) -> Vec<ChainEvent> {
    ChainEvent::of_block(
        finalized.block.header().height,
        finalized.block.hash(),
        finalized.state_root,
        &finalized.receipts,
        &finalized.events,
    )
}

/// The view of a block in the recent window.
pub fn view_of(finalized: &FinalizedBlock) -> BlockView {
    BlockView {
        hash: finalized.block.hash(),
        block: finalized.block.block().clone(),
        receipts: Some(finalized.receipts.clone()),
        events: Some(finalized.events.clone()),
    }
}
