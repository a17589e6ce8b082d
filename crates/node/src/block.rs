//! The block consensus orders: our ledger block, seen through commonware's `Block` and codec
//! traits.
//!
//! - **Digest.** A block's digest is our block hash ([`Header::hash`], keyed BLAKE3), carried
//!   in `commonware_cryptography::blake3::Digest` as a plain 32-byte container (commonware never
//!   rehashes it). So the hash consensus signs is the hash the ledger, the API and the explorer
//!   show.
//! - **Genesis.** Height 0 is a synthetic block that is never executed: its header names the
//!   genesis hash ([`aifactory_types::Genesis::hash`]) as its `parent`, and its digest is that
//!   genesis hash, so block 1's `parent` (which the ledger sets to
//!   `State::last_block_hash()` at genesis) links to it. Because this digest is not a hash of
//!   the header, the decoder refuses every height-0 block except the one exact genesis header
//!   in its config; otherwise a peer could answer a fetch for any digest with a forged
//!   height-0 block.
//! - **Wire form.** A `u32` little-endian length, then the block's canonical Borsh bytes. The
//!   decoder refuses a length over [`BLOCK_BYTES_MAX`] before reading further, and bytes that
//!   do not re-encode to themselves.

use aifactory_crypto::Hash;
use aifactory_ledger::State;
use aifactory_types::limits::BLOCK_BYTES_MAX;
use aifactory_types::{Address, Block, Header};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::types::Height;
use commonware_consensus::{Block as ConsensusBlock, Heightable};
use commonware_cryptography::Digestible;

/// The digest consensus orders: our 32-byte block hash.
pub type Digest = commonware_cryptography::blake3::Digest;

/// Bytes of the length prefix in front of a block's Borsh bytes.
const LENGTH_PREFIX_BYTES: usize = 4;

/// Largest encoded [`ChainBlock`], prefix included: the bound of every message carrying one.
pub const CHAIN_BLOCK_BYTES_MAX: usize = BLOCK_BYTES_MAX + LENGTH_PREFIX_BYTES;

const _: () = assert!(BLOCK_BYTES_MAX <= u32::MAX as usize);

/// A ledger block with its digest and canonical bytes computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBlock {
    block: Block,
    digest: Digest,
    bytes: Vec<u8>,
}

/// What decoding a [`ChainBlock`] needs: the one height-0 header it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCodecConfig {
    /// The genesis block's header; every other height-0 header is refused.
    pub genesis: Header,
}

/// Converts our hash into the consensus digest.
pub fn to_digest(hash: Hash) -> Digest {
    commonware_cryptography::blake3::Digest(hash.0)
}

/// Converts a consensus digest into our hash.
pub fn to_hash(digest: &Digest) -> Hash {
    Hash(digest.0)
}

impl ChainBlock {
    /// Wraps a block above genesis; its digest is its header's hash.
    pub fn new(block: Block) -> Self {
        assert!(block.header.height > 0, "only genesis sits at height 0");
        let digest = to_digest(block.hash());
        Self::with_digest(block, digest)
    }

    /// The synthetic height-0 block of the chain `state` starts from (a state at genesis).
    pub fn genesis(state: &State) -> Self {
        assert_eq!(state.height(), 0, "genesis is built from the genesis state");
        let block = Block {
            header: genesis_header(state),
            txs: Default::default(),
        };
        let digest = to_digest(state.last_block_hash());
        Self::with_digest(block, digest)
    }

    fn with_digest(block: Block, digest: Digest) -> Self {
        let bytes = block.encode();
        assert!(bytes.len() <= BLOCK_BYTES_MAX, "a block over the byte cap");
        ChainBlock {
            block,
            digest,
            bytes,
        }
    }

    /// The ledger block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.block.header
    }

    /// The block's hash (for genesis, the genesis hash).
    pub fn hash(&self) -> Hash {
        to_hash(&self.digest)
    }

    /// The canonical Borsh bytes (without the wire length prefix).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The header of the synthetic genesis block of the chain `state` starts from.
pub fn genesis_header(state: &State) -> Header {
    Header {
        height: 0,
        parent: state.last_block_hash(),
        timestamp_ms: state.timestamp_ms(),
        proposer: Address([0; 32]),
        txs_root: Hash::ZERO,
        state_root: state.root(),
    }
}

impl BlockCodecConfig {
    /// The config for the chain `state` starts from (a state at genesis).
    pub fn from_genesis_state(state: &State) -> Self {
        BlockCodecConfig {
            genesis: genesis_header(state),
        }
    }
}

impl Digestible for ChainBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        self.digest
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.header.height)
    }
}

impl ConsensusBlock for ChainBlock {
    fn parent(&self) -> Digest {
        to_digest(self.block.header.parent)
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let len = u32::try_from(self.bytes.len()).expect("checked against the cap when built");
        buf.put_u32_le(len);
        buf.put_slice(&self.bytes);
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        LENGTH_PREFIX_BYTES + self.bytes.len()
    }
}

impl Read for ChainBlock {
    type Cfg = BlockCodecConfig;

    fn read_cfg(buf: &mut impl Buf, cfg: &BlockCodecConfig) -> Result<Self, CodecError> {
        if buf.remaining() < LENGTH_PREFIX_BYTES {
            return Err(CodecError::EndOfBuffer);
        }
        let len = buf.get_u32_le() as usize;
        if len > BLOCK_BYTES_MAX {
            return Err(CodecError::InvalidLength(len));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let bytes = buf.copy_to_bytes(len);
        let block =
            Block::decode(&bytes).map_err(|e| CodecError::Wrapped("ChainBlock", e.into()))?;
        let canonical = block.encode();
        if canonical[..] != bytes[..] {
            return Err(CodecError::Invalid("ChainBlock", "non-canonical encoding"));
        }
        if block.header.height == 0 {
            if block.header != cfg.genesis || !block.txs.is_empty() {
                return Err(CodecError::Invalid(
                    "ChainBlock",
                    "not this chain's genesis",
                ));
            }
            let digest = to_digest(block.header.parent);
            return Ok(ChainBlock {
                block,
                digest,
                bytes: canonical,
            });
        }
        let digest = to_digest(block.hash());
        Ok(ChainBlock {
            block,
            digest,
            bytes: canonical,
        })
    }
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;
    use commonware_codec::Encode;

    use super::*;

    fn chain_with_block() -> (TestChain, ChainBlock, BlockCodecConfig) {
        let mut chain = TestChain::new(3, 1_000_000);
        let cfg = BlockCodecConfig::from_genesis_state(&chain.state);
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 10));
        let built = chain.build(vec![tx]);
        (chain, ChainBlock::new(built.block.to_block()), cfg)
    }

    fn decode(bytes: &[u8], cfg: &BlockCodecConfig) -> Result<ChainBlock, CodecError> {
        <ChainBlock as commonware_codec::Decode>::decode_cfg(commonware_codec::Copying(bytes), cfg)
    }

    #[test]
    fn round_trip_keeps_bytes_and_digest() {
        let (_, block, cfg) = chain_with_block();
        let wire = block.encode();
        assert_eq!(wire.len(), block.encode_size());
        let decoded = decode(&wire, &cfg).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.digest(), to_digest(block.block().hash()));
        assert_eq!(decoded.height(), Height::new(1));
    }

    #[test]
    fn genesis_links_block_one() {
        let chain = TestChain::new(3, 1_000_000);
        let genesis = ChainBlock::genesis(&chain.state);
        assert_eq!(genesis.hash(), chain.genesis.hash());
        assert_eq!(genesis.hash(), chain.state.last_block_hash());
        let cfg = BlockCodecConfig::from_genesis_state(&chain.state);
        let decoded = decode(&genesis.encode(), &cfg).unwrap();
        assert_eq!(decoded.digest(), genesis.digest());
        let (_, block, _) = chain_with_block();
        assert_eq!(
            block.parent(),
            genesis.digest(),
            "chain_with_block starts from the same genesis"
        );
    }

    #[test]
    fn forged_height_zero_block_is_refused() {
        let chain = TestChain::new(2, 1_000);
        let cfg = BlockCodecConfig::from_genesis_state(&chain.state);
        let mut forged = ChainBlock::genesis(&chain.state).block().clone();
        forged.header.parent = Hash([9; 32]);
        let forged = ChainBlock::with_digest(forged, to_digest(Hash([9; 32])));
        assert!(decode(&forged.encode(), &cfg).is_err());
    }

    #[test]
    fn oversized_truncated_and_trailing_input_is_refused() {
        let (_, block, cfg) = chain_with_block();
        let mut oversized = ((BLOCK_BYTES_MAX + 1) as u32).to_le_bytes().to_vec();
        oversized.extend_from_slice(&[0; 16]);
        assert!(matches!(
            decode(&oversized, &cfg),
            Err(CodecError::InvalidLength(_))
        ));
        let wire = block.encode();
        assert!(decode(&wire[..wire.len() - 1], &cfg).is_err());
        let mut trailing = wire.to_vec();
        trailing.push(0);
        assert!(decode(&trailing, &cfg).is_err());
    }
}
