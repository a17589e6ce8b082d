//! Every decoder of untrusted bytes returns an error on random and truncated input, and never
//! panics on mutated input. These are the functions the fuzz targets drive.

use aifactory_secagg::simulate::{Protocol, Simulation};
use aifactory_secagg::{
    AdvertiseList, BoundedVec, Result, RoundConfig, ShareBundle, decode_advertise,
    decode_advertise_list, decode_commitment, decode_consistency_check, decode_masked_input,
    decode_share_bundle, decode_share_keys, decode_survivor_list, decode_transcript,
    decode_unmask_request, decode_unmask_response, encode,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

type Decoder = fn(&[u8]) -> Result<()>;

/// Every decoder, named, each with one valid encoding from a real round.
fn decoders_with_samples() -> Vec<(&'static str, Decoder, Vec<u8>)> {
    let mut sim = Simulation::new(4, 10, Protocol::SecAgg);
    sim.dropouts = [0.0, 0.0, 0.25, 0.0, 0.0];
    let outcome = sim.run().unwrap();
    let t = outcome.transcript.unwrap();
    let list = AdvertiseList {
        round: t.config.round,
        adverts: t.adverts.clone(),
    };
    let bundle = ShareBundle {
        round: t.config.round,
        to: 1,
        shares: BoundedVec::new(
            t.share_keys
                .iter()
                .flat_map(|s| s.body.shares.iter().filter(|e| e.to == 1).cloned())
                .collect(),
        )
        .unwrap(),
    };
    vec![
        (
            "advertise",
            |b| decode_advertise(b).map(drop),
            t.adverts[0].encode(),
        ),
        (
            "advertise list",
            |b| decode_advertise_list(b).map(drop),
            encode(&list),
        ),
        (
            "share-keys",
            |b| decode_share_keys(b).map(drop),
            t.share_keys[0].encode(),
        ),
        (
            "share bundle",
            |b| decode_share_bundle(b).map(drop),
            encode(&bundle),
        ),
        (
            "masked-input",
            |b| decode_masked_input(b).map(drop),
            t.masked_inputs[0].encode(),
        ),
        (
            "survivor list",
            |b| decode_survivor_list(b).map(drop),
            encode(&t.request.list()),
        ),
        (
            "consistency-check",
            |b| decode_consistency_check(b).map(drop),
            t.request.checks()[0].encode(),
        ),
        (
            "unmask request",
            |b| decode_unmask_request(b).map(drop),
            encode(&t.request),
        ),
        (
            "unmask-response",
            |b| decode_unmask_response(b).map(drop),
            t.responses[0].encode(),
        ),
        (
            "round config",
            |b| RoundConfig::decode(b).map(drop),
            t.config.encode(),
        ),
        (
            "round commitment",
            |b| decode_commitment(b).map(drop),
            encode(&t.commitment()),
        ),
        ("transcript", |b| decode_transcript(b).map(drop), t.encode()),
    ]
}

#[test]
fn every_decoder_accepts_its_own_encoding() {
    for (name, decode, sample) in decoders_with_samples() {
        assert!(decode(&sample).is_ok(), "{name} refused a valid encoding");
    }
}

#[test]
fn every_decoder_refuses_truncated_bytes() {
    for (name, decode, sample) in decoders_with_samples() {
        let step = (sample.len() / 300).max(1);
        for len in (0..sample.len()).step_by(step).chain([sample.len() - 1]) {
            assert!(
                decode(&sample[..len]).is_err(),
                "{name} accepted a {len}-byte prefix of {}",
                sample.len()
            );
        }
        let mut longer = sample.clone();
        longer.push(0);
        assert!(decode(&longer).is_err(), "{name} accepted a trailing byte");
    }
}

#[test]
fn every_decoder_refuses_random_bytes() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    for (name, decode, _) in decoders_with_samples() {
        for _ in 0..300 {
            let len = rng.gen_range(0..2048);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            assert!(
                decode(&bytes).is_err(),
                "{name} accepted {len} random bytes"
            );
        }
        // A claimed length of four billion is refused before anything is allocated for it.
        assert!(decode(&[0xff; 64]).is_err(), "{name} accepted all-ones");
    }
}

#[test]
fn every_decoder_survives_bit_flips() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for (_, decode, sample) in decoders_with_samples() {
        for _ in 0..300 {
            let mut bytes = sample.clone();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            // Ok or Err are both fine; a panic fails the test.
            let _ = decode(&bytes);
        }
    }
}

#[test]
fn verifying_mutated_transcripts_never_panics() {
    let (_, _, sample) = decoders_with_samples()
        .pop()
        .expect("the transcript comes last");
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut decoded = 0;
    for _ in 0..300 {
        let mut bytes = sample.clone();
        let at = rng.gen_range(0..bytes.len());
        bytes[at] ^= 1 << rng.gen_range(0..8);
        if let Ok(transcript) = decode_transcript(&bytes) {
            decoded += 1;
            // A flipped bit anywhere must be refused by verification, never panic it.
            assert!(
                transcript.verify().is_err(),
                "a transcript with byte {at} flipped verified"
            );
        }
    }
    assert!(
        decoded > 100,
        "too few mutations decoded ({decoded}) to exercise verification"
    );
}
