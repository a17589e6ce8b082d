//! The one error type of the crate: every refusal a client, the trainer or a verifier can make.
//!
//! Hostile or broken input always lands here with a message a person can act on; a broken
//! internal invariant panics instead.

use crate::ClientId;

/// Why a step of secure aggregation refused its input or aborted the round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The public round configuration is unusable.
    #[error("invalid round configuration: {0}")]
    Config(String),
    /// Bytes from outside could not be decoded as the named message.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// Which message or field was being decoded.
        what: &'static str,
        /// What was wrong with the bytes.
        reason: String,
    },
    /// A variable-length field or message is longer than its limit.
    #[error("{what} has length {len}, above the limit {max}")]
    TooLong {
        /// Which field was too long.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The limit (a `*_MAX` constant in `limits`).
        max: usize,
    },
    /// A message belongs to another round (a replay across rounds).
    #[error("{kind} message is for another round")]
    WrongRound {
        /// The message kind.
        kind: &'static str,
    },
    /// A signature does not verify under the sender's roster key for this message kind.
    #[error(
        "{kind} message from client {sender} has an invalid signature (forged, or replayed from another message kind)"
    )]
    BadSignature {
        /// The message kind.
        kind: &'static str,
        /// The claimed sender.
        sender: ClientId,
    },
    /// A client id is not on the round's roster.
    #[error("client {0} is not on the roster")]
    UnknownClient(ClientId),
    /// A message arrived in the wrong phase (reordered, late or early).
    #[error("{got} arrived while {party} is in phase {phase}")]
    UnexpectedPhase {
        /// Who refused it: "client" or "trainer".
        party: &'static str,
        /// The phase it was in.
        phase: &'static str,
        /// What arrived.
        got: &'static str,
    },
    /// The same sender sent the same kind of message twice.
    #[error("duplicate {kind} message from client {sender}")]
    Duplicate {
        /// The message kind.
        kind: &'static str,
        /// The sender.
        sender: ClientId,
    },
    /// A message names a sender, recipient or peer that the protocol does not allow there.
    #[error("{kind} message: {reason}")]
    Unexpected {
        /// The message kind.
        kind: &'static str,
        /// What was not allowed.
        reason: String,
    },
    /// A peer's public key is a low-order point: the agreement would be all zeros.
    #[error("client {0} advertised a low-order X25519 key")]
    LowOrderKey(ClientId),
    /// An encrypted share does not decrypt: it was forged or altered on the way.
    #[error(
        "encrypted share from client {from} to client {to} does not decrypt (forged or altered)"
    )]
    Decrypt {
        /// The claimed author of the share.
        from: ClientId,
        /// The recipient.
        to: ClientId,
    },
    /// A client has fewer live neighbours than the threshold, so it will not take part.
    #[error("client {client} has {have} live neighbours, fewer than the threshold {need}")]
    NotEnoughNeighbours {
        /// The client that refuses.
        client: ClientId,
        /// Live neighbours it has.
        have: usize,
        /// The threshold t.
        need: usize,
    },
    /// Fewer than t clients survive a phase: the round aborts and nothing is revealed.
    #[error(
        "round aborted: {have} clients left after {phase}, fewer than the threshold {need}; no partial sum is revealed"
    )]
    TooFewSurvivors {
        /// The phase after which they were counted.
        phase: &'static str,
        /// Survivors.
        have: usize,
        /// The threshold t.
        need: usize,
    },
    /// Fewer than t valid shares arrived to recover one client's secret: the round aborts.
    #[error(
        "round aborted: {have} valid {kind} shares of client {owner}, fewer than the threshold {need}; no partial sum is revealed"
    )]
    NotEnoughShares {
        /// Whose secret could not be recovered.
        owner: ClientId,
        /// Which secret: "self-mask seed" or "mask key".
        kind: &'static str,
        /// Valid shares received.
        have: usize,
        /// The threshold t.
        need: usize,
    },
    /// The trainer asked for a share that would reveal both secrets of one peer: refused.
    #[error(
        "refused: revealing the {asked} share of client {peer} after its {revealed} share was revealed would let the trainer unmask it"
    )]
    DoubleReveal {
        /// The peer whose secrets would both be revealed.
        peer: ClientId,
        /// Kind already revealed.
        revealed: &'static str,
        /// Kind now asked for.
        asked: &'static str,
    },
    /// An unmasking request carries too few consistency signatures on its survivor list: the
    /// trainer may have shown other clients other lists.
    #[error(
        "refused unmasking request: {have} signatures on its survivor list from {whose}, fewer than {need}"
    )]
    NotEnoughSignatures {
        /// Whose signatures were counted: "my holders" or "the roster".
        whose: &'static str,
        /// Valid signatures found.
        have: usize,
        /// Signatures required.
        need: usize,
    },
    /// The trainer's unmasking request is inconsistent with what this client saw.
    #[error("refused unmasking request: {0}")]
    BadRequest(String),
    /// A revealed share does not match the commitment its author signed.
    #[error(
        "share of client {owner} revealed by client {holder} does not match its signed commitment"
    )]
    BadShare {
        /// Who revealed the share.
        holder: ClientId,
        /// Whose secret it is a share of.
        owner: ClientId,
    },
    /// A recovered secret does not match its owner's commitment or advertised key: the owner
    /// dealt inconsistent shares.
    #[error(
        "round aborted: the recovered {kind} of client {owner} does not match what it committed to (it dealt inconsistent shares)"
    )]
    Reconstruction {
        /// Whose secret.
        owner: ClientId,
        /// Which secret.
        kind: &'static str,
    },
    /// A client's update is unusable (wrong length, non-finite, bad sample count).
    #[error("invalid update: {0}")]
    Input(String),
    /// The aggregate's total weight is zero or more than its survivors could claim: a client
    /// sent a malformed masked weight, so the mean cannot be read.
    #[error(
        "the aggregate's total weight {total} is outside 1..={max}: a client sent a malformed weight"
    )]
    WeightTotal {
        /// The total weight found.
        total: u64,
        /// The most the survivors could claim.
        max: u64,
    },
    /// A transcript does not recompute to what it claims.
    #[error("transcript does not verify: {0}")]
    Transcript(String),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, Error>;
