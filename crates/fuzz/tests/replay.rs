//! Replays every committed corpus file through its target, then seeded random mutations of the
//! corpus (bit flips, truncations, splices) and random bytes: cheap fuzzing on every CI run.
//! Coverage-guided fuzzing for longer runs is `scripts/fuzz`.

use std::path::PathBuf;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use aifactory_fuzz::TARGETS;

const MUTATIONS_PER_TARGET: usize = 3_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

fn mutate(rng: &mut ChaCha20Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
    match rng.gen_range(0..4) {
        0 if !input.is_empty() => {
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..input.len());
                input[i] ^= 1 << rng.gen_range(0..8);
            }
        }
        1 => input.truncate(rng.gen_range(0..=input.len())),
        2 => {
            let other = &seeds[rng.gen_range(0..seeds.len())];
            let cut = rng.gen_range(0..=other.len());
            input.extend_from_slice(&other[cut..]);
        }
        _ => {
            input = vec![0; rng.gen_range(0..512)];
            rng.fill_bytes(&mut input);
        }
    }
    input
}

#[test]
fn every_target_survives_its_corpus_and_mutations() {
    for (name, target) in TARGETS {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "target {name} has no corpus");
        for seed in &seeds {
            target(seed);
        }
        let mut rng = ChaCha20Rng::seed_from_u64(0xf022);
        let mutations = if *name == "ledger" {
            MUTATIONS_PER_TARGET / 20
        } else {
            MUTATIONS_PER_TARGET
        };
        for _ in 0..mutations {
            target(&mutate(&mut rng, &seeds));
        }
    }
}
