//! Secure aggregation for federated rounds: the trainer learns the sum of the clients'
//! updates and nothing else about any one of them, even when clients drop out.
//!
//! The protocol is Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving
//! Machine Learning", with the sparse neighbour graph of Bell et al. 2020 (SecAgg+) as an
//! option. The crate is pure: no I/O, no clock, no threads of its own beyond rayon in the
//! trainer's recovery; messages are values with encoders and decoders, so any transport (the
//! chain's agents, a test harness) can carry them.
//!
//! # Parties and setup
//!
//! n clients, each with an ed25519 signing key published on chain (the *roster*; a client's
//! id is its index), and one trainer that relays every message. The public round
//! configuration ([`RoundConfig`]) fixes the round id, the roster, the vector length, the
//! threshold t, the masking graph (complete, or a Harary graph of degree k ≈ 3·log2 n drawn
//! from a public seed), the quantiser and, optionally, differential privacy. Each client's
//! *holders* are its graph neighbours plus itself; t must be a strict majority of them, and
//! defaults to [`threshold_default`] (the least t with 2t − h ≥ ⌈h/3⌉).
//!
//! # The five phases
//!
//! 0. **Advertise keys.** Each client u draws two X25519 key pairs — (c_u, C_u) to encrypt
//!    shares and (s_u, S_u) to seed pairwise masks — and signs (C_u, S_u). The trainer checks
//!    the signatures, keeps the set U1 of senders, and sends each client the adverts of its
//!    live neighbours. Fewer than t in U1 aborts.
//! 1. **Share keys.** u draws a self-mask seed b_u and Shamir-shares both b_u and s_u with
//!    threshold t among its live holders. Each neighbour's pair of shares is sealed with
//!    ChaCha20-Poly1305 under a key derived from X25519(c_u, C_v); u signs the sealed shares
//!    with a commitment to every share and to b_u. The trainer keeps U2 and forwards to each
//!    client the shares sealed to it. Fewer than t in U2 aborts.
//! 2. **Masked input.** u quantises its update (see [`quantize`]) to x_u modulo 2^k and sends
//!    y_u = x_u + PRG(b_u) + Σ_{v ∈ N(u) ∩ U2} ±PRG(s_{u,v}), where s_{u,v} is derived from
//!    X25519(s_u, S_v), the sign is + towards larger ids, and PRG is ChaCha20. The trainer
//!    keeps U3, the senders. Fewer than t in U3 aborts.
//! 3. **Consistency check** (Bonawitz et al.'s fourth round). The trainer sends U3 to the
//!    survivors. Each checks it (sorted, lists itself, lists no neighbour that did not share
//!    with it, lists at least t of its own holders) and signs the round and the list, under
//!    the namespace `aifactory/secagg/v1/consistency-check`. A client signs one list per round.
//!    The trainer keeps U4, the signers; fewer than t, or fewer than the roster's
//!    [`consistency_quorum`] Q, aborts.
//! 4. **Unmasking.** The trainer sends the list with every signature on it. A client answers
//!    only a request for the very list it signed, carrying valid signatures on it from at least
//!    t of its own holders and from at least Q clients in all. It then reveals, for every owner
//!    whose shares it holds, the share of b if the owner is in U3 and the share of s if it
//!    dropped — one kind per owner, ever. With t shares per owner the trainer rebuilds each
//!    survivor's b and each dropped client's s, checks them against the owner's commitment
//!    and advertised key, and computes Σ_{U3} y − Σ_{U3} PRG(b) ∓ (pairwise masks towards
//!    dropped clients) = Σ_{U3} x modulo 2^k. Pairwise masks between survivors cancel.
//!
//! # What each party learns
//!
//! - The trainer: U1, U2, U3, U4, the public keys, the sealed shares (unreadable), the masked
//!   inputs (each uniform on its own), and in the end Σ_{u ∈ U3} x_u and Σ samples; with DP
//!   only a noised sum (see [`dp`]). Nothing about any proper subset of inputs.
//! - A client: its neighbours' public keys and its shares of their secrets; the survivor list
//!   and who signed it.
//! - Anyone with the transcript: what the trainer learned, and that it was computed honestly
//!   ([`Transcript::verify`]); the chain records only the [`RoundCommitment`].
//!
//! # Threat model
//!
//! - **Trainer actively lying, colluding with c clients.** Every client message is signed with
//!   its roster key over a namespace per message kind and the digest of the whole round
//!   configuration (round id included), so the trainer cannot forge, replay or re-type one;
//!   shares are sealed between clients, so it cannot read or forge one. It can lie about who
//!   dropped, and show different clients different survivor lists — the attack that unmasks
//!   one client by collecting its self-mask seed from some holders and its neighbours' mask
//!   keys from others. The consistency check stops it: honest clients sign one list each, so
//!   two different lists can both gather Q signatures only if 2Q − n ≤ c; below that, every
//!   honest client that reveals anything acts on the same list, reveals one share kind per
//!   owner, and the trainer gets the other kind of any secret only from colluders' shares.
//!   It learns nothing beyond the sum while c ≤ [`Round::colluders_max`] = min(2Q − n − 1,
//!   t − 2): the second term keeps, among the t holders each survivor needs on its list, an
//!   honest live neighbour whose pairwise mask stays secret. With the defaults (t =
//!   [`threshold_default`] of the holders, Q = `threshold_default(n)`) that is about a third of
//!   the roster on the complete graph: c ≤ 2 of 5, 2 of 7, 33 of 100. With SecAgg+ the same
//!   global bound holds, and the colluders among any one client's holders must also number at
//!   most t − 2 (about two thirds of a neighbourhood); the graph is drawn from a seed fixed
//!   after the roster, so colluders cannot choose to be neighbours.
//!   When a round runs over the chain the survivor list comes from the ledger, which is one
//!   more layer; the crate does not rely on it.
//! - **Clients** may drop at any phase, send malformed or forged messages (refused with a
//!   typed error), or deal inconsistent shares (detected at recovery, naming the client; the
//!   round then aborts rather than reveal a wrong or partial sum).
//! - **Out of scope**: a client lying about its own update (robust aggregation's job);
//!   denial of service by a trainer that aborts rounds.
//! - **Aborts** reveal nothing: fewer than t survivors, or fewer than t valid shares for any
//!   owner, ends the round with an error and without computing any sum.
//!
//! Differential privacy composes by distributed noise added by the clients; see [`dp`].

mod aggregate;
mod agreement;
mod client;
mod commit;
mod config;
pub mod dp;
mod error;
mod graph;
mod input;
pub mod limits;
pub mod mask;
mod messages;
pub mod quantize;
mod recover;
pub mod ring;
mod seal;
mod server;
pub mod shamir;
pub mod simulate;
mod transcript;

use borsh::{BorshDeserialize, BorshSerialize};

pub use aggregate::Aggregate;
pub use aifactory_types::{BoundedBytes, BoundedVec};
pub use client::Client;
pub use config::{Round, RoundConfig, consistency_quorum, threshold_default, threshold_min};
pub use error::{Error, Result};
pub use graph::{Graph, GraphKind};
pub use input::{ClientSeeds, encode_input, encode_integers};
pub use messages::{
    Advertise, AdvertiseList, Body, ConsistencyCheck, EncryptedShare, MaskedInput, RevealedShare,
    ShareBundle, ShareCommitment, ShareKeys, ShareKind, Signed, SurvivorList, SurvivorSignature,
    UnmaskRequest, UnmaskResponse, decode_advertise, decode_advertise_list,
    decode_consistency_check, decode_masked_input, decode_share_bundle, decode_share_keys,
    decode_survivor_list, decode_unmask_request, decode_unmask_response, digest, encode,
};
pub use server::Server;
pub use transcript::{RoundCommitment, Transcript, decode_commitment, decode_transcript};

/// A client's id: its index in the round's roster.
pub type ClientId = u32;

/// A round's unique id, bound into every signature, key derivation and AEAD.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct RoundId(pub [u8; 32]);
