//! The verifier against a real chain: honest boundaries pass, every lie a peer could tell is
//! named.

use aifactory_ledger::testing::{TestChain, test_genesis_all_validators, test_key};
use aifactory_ledger::{State, ValidatorSetProofError};

use crate::snapshots::save_snapshot;
use aifactory_types::{Genesis, Hash, Header, SecretKey};
use commonware_consensus::simplex::types::{Finalize, Proposal};
use commonware_consensus::types::{Round, View};
use commonware_cryptography::Signer as _;
use commonware_utils::iter::NonEmpty;

use super::*;

/// Blocks per epoch in these tests.
const EPOCH: u64 = 4;

/// A chain of four validators (keys 0..4), built to the end of epoch 0.
struct Fixture {
    genesis_file: Genesis,
    genesis: State,
    boundary: Header,
    after: State,
    keys: Vec<SecretKey>,
}

fn fixture() -> Fixture {
    let keys: Vec<SecretKey> = (0..4).map(test_key).collect();
    let mut genesis = test_genesis_all_validators(&keys, 1_000_000);
    genesis.params.epoch_length_blocks = EPOCH;
    let genesis_file = genesis.clone();
    let mut chain = TestChain::from_genesis(keys.clone(), genesis);
    let genesis_state = chain.state.clone();
    chain.build_until(EPOCH - 2);
    let built = chain.build(vec![]);
    Fixture {
        genesis_file,
        genesis: genesis_state,
        boundary: built.block.header,
        after: chain.state,
        keys,
    }
}

fn participants(keys: &[SecretKey]) -> Set<PublicKey> {
    Set::from_iter_dedup(keys.iter().map(|k| keys::private_key(k).public_key()))
}

/// A finalization of `payload` in `epoch`, signed by every key of `signers` as the
/// participants `signers` make.
fn finalize(signers: &[SecretKey], epoch: u64, payload: Digest) -> Finalization<Scheme, Digest> {
    let set = participants(signers);
    let proposal = Proposal::new(
        Round::new(Epoch::new(epoch), View::new(5)),
        View::new(4),
        payload,
    );
    let schemes: Vec<Scheme> = signers
        .iter()
        .map(|k| Scheme::signer(CONSENSUS_NAMESPACE, set.clone(), keys::private_key(k)).unwrap())
        .collect();
    let votes: Vec<Finalize<Scheme, Digest>> = schemes
        .iter()
        .map(|s| Finalize::sign(s, proposal.clone()).unwrap())
        .collect();
    Finalization::from_owned_finalizes(
        &schemes[0],
        NonEmpty::try_new(votes.into_iter()).unwrap(),
        &Sequential,
    )
    .unwrap()
}

/// The honest boundary of epoch 0.
fn honest(f: &Fixture) -> SyncEpoch {
    SyncEpoch {
        epoch: 0,
        height: EPOCH - 1,
        header: f.boundary.clone(),
        finalization: finalization_hex(&finalize(&f.keys, 0, to_digest(f.boundary.hash()))),
        proof: hex::encode(f.after.validator_set_proof().encode()),
    }
}

#[test]
fn an_honest_boundary_verifies_and_names_the_next_set() {
    let f = fixture();
    let mut verifier = BoundaryVerifier::new(&f.genesis).unwrap();
    let floor = verifier.verify(&honest(&f)).expect("honest");
    assert_eq!(floor.epoch(), Epoch::new(0));
    assert_eq!(floor.participants, participants(&f.keys));
    assert_eq!(verifier.next_epoch(), 1);
    assert_eq!(
        verifier.participants,
        keys::validator_set(&f.after).unwrap()
    );
}

#[test]
fn a_certificate_from_outsiders_is_refused() {
    let f = fixture();
    let outsiders: Vec<SecretKey> = (10..14).map(test_key).collect();
    let mut boundary = honest(&f);
    boundary.finalization =
        finalization_hex(&finalize(&outsiders, 0, to_digest(f.boundary.hash())));
    let result = BoundaryVerifier::new(&f.genesis).unwrap().verify(&boundary);
    assert!(
        matches!(result, Err(SyncError::Certificate { epoch: 0 })),
        "{result:?}"
    );
}

#[test]
fn a_verifier_with_other_participants_refuses_an_honest_certificate() {
    let f = fixture();
    // A genesis with one of the four validators replaced.
    let mut keys = f.keys.clone();
    keys[3] = test_key(20);
    let mut genesis = test_genesis_all_validators(&keys, 1_000_000);
    genesis.params.epoch_length_blocks = EPOCH;
    let other = State::from_genesis(&genesis).unwrap();
    let result = BoundaryVerifier::new(&other).unwrap().verify(&honest(&f));
    assert!(
        matches!(result, Err(SyncError::Certificate { epoch: 0 })),
        "{result:?}"
    );
}

#[test]
fn a_finalization_of_another_block_or_epoch_is_refused() {
    let f = fixture();
    let check = |finalization: Finalization<Scheme, Digest>, what: &str| {
        let mut boundary = honest(&f);
        boundary.finalization = finalization_hex(&finalization);
        let result = BoundaryVerifier::new(&f.genesis).unwrap().verify(&boundary);
        assert!(
            matches!(result, Err(SyncError::Finalization { epoch: 0, .. })),
            "{what}: {result:?}"
        );
    };
    check(
        finalize(&f.keys, 0, to_digest(Hash([7; 32]))),
        "another block",
    );
    check(
        finalize(&f.keys, 1, to_digest(f.boundary.hash())),
        "another epoch",
    );

    let mut garbage = honest(&f);
    garbage.finalization = "00ff".into();
    assert!(matches!(
        BoundaryVerifier::new(&f.genesis).unwrap().verify(&garbage),
        Err(SyncError::Finalization { .. })
    ));
}

#[test]
fn a_lying_proof_or_listing_is_refused() {
    let f = fixture();
    let mut verifier = BoundaryVerifier::new(&f.genesis).unwrap();

    let mut proof = f.after.validator_set_proof();
    proof.slots.pop();
    let mut boundary = honest(&f);
    boundary.proof = hex::encode(proof.encode());
    assert!(matches!(
        verifier.verify(&boundary),
        Err(SyncError::Proof {
            epoch: 0,
            source: ValidatorSetProofError::RootMismatch { .. }
        })
    ));

    let mut skipped = honest(&f);
    skipped.epoch = 1;
    assert!(matches!(
        verifier.verify(&skipped),
        Err(SyncError::OutOfOrder { expected: 0, .. })
    ));
    assert_eq!(
        verifier.next_epoch(),
        0,
        "nothing refused moves the verifier"
    );
}

#[test]
fn a_snapshot_that_does_not_match_the_verified_header_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.snapshot");
    save_snapshot(&f.after, &path).unwrap();
    check_snapshot(&path, &f.genesis, &f.boundary).expect("the honest snapshot");

    // The state one block earlier: consistent, but not the state after the boundary.
    save_snapshot(&f.genesis, &path).unwrap();
    assert!(matches!(
        check_snapshot(&path, &f.genesis, &f.boundary),
        Err(SyncError::SnapshotMismatch { .. })
    ));
}

/// A peer's API serving whatever boundaries and snapshot it is given, and nothing else.
#[derive(Clone)]
struct Peer {
    epochs: Vec<SyncEpoch>,
    snapshot: Vec<u8>,
    height: u64,
}

impl aifactory_api::NodeService for Peer {
    async fn submit(
        &self,
        _: aifactory_types::VerifiedTransaction,
    ) -> Result<Hash, aifactory_api::SubmitError> {
        unreachable!("sync asks only for boundaries and the snapshot")
    }
    async fn tx_status(&self, _: Hash) -> Option<aifactory_api::views::TxStatus> {
        None
    }
    async fn account(
        &self,
        _: aifactory_types::Address,
    ) -> Option<aifactory_api::views::AccountView> {
        None
    }
    async fn block(
        &self,
        _: aifactory_api::views::BlockId,
    ) -> Option<aifactory_api::views::BlockView> {
        None
    }
    async fn status(&self) -> aifactory_api::views::StatusView {
        unreachable!("sync asks only for boundaries and the snapshot")
    }
    fn finalized_state(&self) -> std::sync::Arc<aifactory_ledger::State> {
        unreachable!("sync asks only for boundaries and the snapshot")
    }
    async fn put_blob(
        &self,
        _: Hash,
        _: aifactory_api::BlobBody,
    ) -> Result<aifactory_api::views::BlobStored, aifactory_api::BlobError> {
        unreachable!("sync asks only for boundaries and the snapshot")
    }
    async fn get_blob(
        &self,
        _: Hash,
        _: aifactory_api::BlobLookup,
    ) -> Result<Option<aifactory_api::BlobContent>, aifactory_api::BlobError> {
        Ok(None)
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<aifactory_api::views::ChainEvent> {
        tokio::sync::broadcast::channel(1).1
    }
    async fn sync_epochs(&self, from: u64) -> Option<SyncEpochs> {
        let epochs = self
            .epochs
            .iter()
            .filter(|b| b.epoch >= from)
            .cloned()
            .collect();
        Some(SyncEpochs { epochs })
    }
    async fn sync_snapshot(&self) -> Option<aifactory_api::SnapshotContent> {
        let bytes = bytes::Bytes::from(self.snapshot.clone());
        Some(aifactory_api::SnapshotContent {
            height: self.height,
            content: aifactory_api::BlobContent {
                size: bytes.len() as u64,
                body: futures::stream::once(async move { Ok(bytes) }).boxed(),
            },
        })
    }
}

/// Serves `peer` on a loopback port; returns a client of it.
async fn serve(peer: Peer) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = aifactory_api::router(
        peer,
        aifactory_api::ApiConfig::default(),
        axum::Router::new(),
    );
    tokio::spawn(aifactory_api::serve(
        listener,
        router,
        std::future::pending(),
    ));
    Client::new(&format!("http://{address}")).unwrap()
}

fn snapshot_bytes(state: &State) -> Vec<u8> {
    let mut bytes = Vec::new();
    state.write_snapshot(&mut bytes).unwrap();
    bytes
}

/// Syncs from `peer` into a fresh directory; returns the result and whether anything is
/// left in the directory.
async fn sync_into_fresh_dir(f: &Fixture, peer: Peer) -> (Result<SyncFloor, SyncError>, bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.snapshot");
    let result = sync_from_peer(&serve(peer).await, &f.genesis_file, &path).await;
    let left = std::fs::read_dir(dir.path()).unwrap().next().is_some();
    if result.is_ok() {
        let restored = load_snapshot(&path, &SnapshotLimits::default()).unwrap();
        assert_eq!(restored.root(), f.after.root());
    }
    (result, left)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_peer_syncs_and_a_lying_one_leaves_nothing_behind() {
    let f = fixture();
    let honest_peer = Peer {
        epochs: vec![honest(&f)],
        snapshot: snapshot_bytes(&f.after),
        height: EPOCH - 1,
    };
    let (result, left) = sync_into_fresh_dir(&f, honest_peer.clone()).await;
    assert_eq!(result.expect("an honest peer").epoch(), Epoch::new(0));
    assert!(left, "the snapshot is installed");

    let check = |what: &'static str, peer: Peer, refused: fn(&SyncError) -> bool| {
        let f = &f;
        async move {
            let (result, left) = sync_into_fresh_dir(f, peer).await;
            let error = result.expect_err(what);
            assert!(refused(&error), "{what}: {error}");
            assert!(!left, "{what}: something was written");
        }
    };

    // A snapshot of a different state at the boundary height.
    let mut other = TestChain::from_genesis(f.keys.clone(), f.genesis_file.clone());
    let tx = other.tx(1, TestChain::transfer_to(f.keys[2].address(), 5));
    other.build(vec![tx]);
    other.build_until(EPOCH - 1);
    let mut peer = honest_peer.clone();
    peer.snapshot = snapshot_bytes(&other.state);
    check("another state", peer, |e| {
        matches!(e, SyncError::SnapshotMismatch { .. })
    })
    .await;

    let mut peer = honest_peer.clone();
    peer.snapshot = snapshot_bytes(&f.genesis);
    check("a snapshot off a boundary", peer, |e| {
        matches!(e, SyncError::NotABoundary { height: 0 })
    })
    .await;

    let mut peer = honest_peer.clone();
    let outsiders: Vec<SecretKey> = (10..14).map(test_key).collect();
    peer.epochs[0].finalization =
        finalization_hex(&finalize(&outsiders, 0, to_digest(f.boundary.hash())));
    check("a forged certificate", peer, |e| {
        matches!(e, SyncError::Certificate { epoch: 0 })
    })
    .await;

    let mut peer = honest_peer;
    peer.epochs.clear();
    check("no boundaries", peer, |e| {
        matches!(e, SyncError::MissingEpoch { epoch: 0 })
    })
    .await;
}
