//! The verifier against a real chain: honest boundaries pass, every lie a peer could tell is
//! named.

use aifactory_ledger::testing::{TestChain, test_genesis, test_key};
use aifactory_ledger::{State, ValidatorSetProofError, save_snapshot};
use aifactory_types::{GenesisValidator, Hash, Header, SecretKey};
use commonware_consensus::simplex::types::{Finalize, Proposal};
use commonware_consensus::types::{Round, View};
use commonware_cryptography::Signer as _;
use commonware_utils::iter::NonEmpty;

use super::*;

/// Blocks per epoch in these tests.
const EPOCH: u64 = 4;

/// A chain of four validators (keys 0..4), built to the end of epoch 0.
struct Fixture {
    genesis: State,
    boundary: Header,
    after: State,
    keys: Vec<SecretKey>,
}

fn fixture() -> Fixture {
    let keys: Vec<SecretKey> = (0..4).map(test_key).collect();
    let mut genesis = test_genesis(&keys, 1_000_000);
    genesis.params.epoch_length_blocks = EPOCH;
    let stake = genesis.params.validator_stake_min;
    genesis.validators = keys
        .iter()
        .map(|key| GenesisValidator {
            address: key.address(),
            stake,
        })
        .collect();
    let mut chain = TestChain::from_genesis(keys.clone(), genesis);
    let genesis_state = chain.state.clone();
    chain.build_until(EPOCH - 2);
    let built = chain.build(vec![]);
    Fixture {
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
    let mut genesis = test_genesis(&keys, 1_000_000);
    genesis.params.epoch_length_blocks = EPOCH;
    let stake = genesis.params.validator_stake_min;
    genesis.validators = keys
        .iter()
        .map(|key| GenesisValidator {
            address: key.address(),
            stake,
        })
        .collect();
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
