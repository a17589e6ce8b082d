//! The transaction test vectors in `tests/vectors/transactions.json`, checked both ways: our
//! code must produce exactly the recorded bytes, digests, signatures and ids from the recorded
//! keys and fields, and must decode the recorded bytes back to the recorded fields.
//!
//! Regenerate (only when the format deliberately changes) with
//! `UPDATE_VECTORS=1 cargo test -p aifactory-types --test vectors`.

use serde::{Deserialize, Serialize};

use aifactory_types::payload::{Stake, Transfer, Unstake};
use aifactory_types::transaction::{ChainId, TX_ID_DOMAIN, TX_SIGNING_DOMAIN};
use aifactory_types::{Address, BoundedVec, Payload, SecretKey, SignedTransaction, Transaction};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/transactions.json"
);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Vector {
    comment: String,
    secret_key_hex: String,
    sender: Address,
    transaction: Transaction,
    unsigned_hex: String,
    signing_digest_hex: String,
    signature_hex: String,
    signed_hex: String,
    id_hex: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Vectors {
    signing_context: String,
    id_context: String,
    vectors: Vec<Vector>,
}

fn cases() -> Vec<(&'static str, [u8; 32], Payload)> {
    let to: Address = SecretKey::from_bytes([2; 32]).address();
    vec![
        (
            "transfer with an empty memo",
            [1; 32],
            Payload::Transfer(Transfer {
                to,
                amount: 1_500_000_000,
                memo: BoundedVec::default(),
            }),
        ),
        (
            "transfer with a memo",
            [3; 32],
            Payload::Transfer(Transfer {
                to,
                amount: 1,
                memo: BoundedVec::new(b"invoice 42".to_vec()).unwrap(),
            }),
        ),
        (
            "stake",
            [4; 32],
            Payload::Stake(Stake {
                amount: 100_000_000_000,
            }),
        ),
        ("unstake", [5; 32], Payload::Unstake(Unstake { amount: 7 })),
        ("withdraw", [6; 32], Payload::Withdraw),
        ("join validators", [7; 32], Payload::JoinValidators),
        ("leave validators", [8; 32], Payload::LeaveValidators),
    ]
}

fn make(comment: &str, secret: [u8; 32], payload: Payload, nonce: u64) -> Vector {
    let key = SecretKey::from_bytes(secret);
    let transaction = Transaction {
        chain_id: ChainId::new("aifactory-devnet").unwrap(),
        sender: key.address(),
        nonce,
        fee: 1_000,
        expiry_height: 1_000_000,
        payload,
    };
    let signed = transaction.clone().sign(&key);
    Vector {
        comment: comment.to_owned(),
        secret_key_hex: hex::encode(secret),
        sender: key.address(),
        unsigned_hex: hex::encode(borsh::to_vec(&transaction).unwrap()),
        signing_digest_hex: transaction.signing_digest().to_string(),
        signature_hex: signed.signature.to_string(),
        signed_hex: hex::encode(signed.encode()),
        id_hex: signed.hash().to_string(),
        transaction,
    }
}

fn generate() -> Vectors {
    Vectors {
        signing_context: TX_SIGNING_DOMAIN.context().to_owned(),
        id_context: TX_ID_DOMAIN.context().to_owned(),
        vectors: cases()
            .into_iter()
            .enumerate()
            .map(|(i, (comment, secret, payload))| make(comment, secret, payload, i as u64))
            .collect(),
    }
}

#[test]
fn vectors_match_both_ways() {
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(
            PATH,
            serde_json::to_string_pretty(&generate()).unwrap() + "\n",
        )
        .unwrap();
    }
    let recorded: Vectors = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();

    // Our encoder, signer and hashes reproduce the file exactly.
    assert_eq!(recorded, generate());

    // The recorded bytes decode to the recorded fields and verify, with no help from the keys.
    for vector in &recorded.vectors {
        let bytes = hex::decode(&vector.signed_hex).unwrap();
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded.tx, vector.transaction, "{}", vector.comment);
        assert_eq!(decoded.hash().to_string(), vector.id_hex);
        let verified = decoded.verify().expect("recorded signature verifies");
        assert_eq!(verified.tx().sender, vector.sender);
        assert!(
            vector.signed_hex.starts_with(&vector.unsigned_hex),
            "body then signature"
        );
        let digest = blake3::keyed_hash(
            &blake3::derive_key(&recorded.signing_context, b""),
            &hex::decode(&vector.unsigned_hex).unwrap(),
        );
        assert_eq!(
            digest.to_hex().as_str(),
            vector.signing_digest_hex,
            "by the documented rule"
        );
    }
}
