//! Criterion benchmarks of the ledger's hot paths: applying presigned transfers, verifying
//! their signatures, raw ed25519 batch verification, and the state-root update.
#![allow(missing_docs)] // the criterion macros generate undocumented items

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use aifactory_crypto::verify_batch;
use aifactory_ledger::SlotTree;
use aifactory_ledger::testing::{TransferWorkload, with_raw_signatures};
use aifactory_types::{Block, VerifiedBlock};

const TXS: usize = 2_000;

fn workload() -> (TransferWorkload, Vec<VerifiedBlock>) {
    let workload = TransferWorkload::new(100_000, TXS, 1);
    let verified = workload
        .blocks
        .iter()
        .map(|b| b.clone().verify().unwrap())
        .collect();
    (workload, verified)
}

fn apply(c: &mut Criterion) {
    let (workload, verified) = workload();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(TXS as u64));
    group.sample_size(20);
    group.bench_function("apply_presigned_transfers", |b| {
        b.iter_batched(
            || workload.genesis_state.clone(),
            |mut state| state.apply_block(&verified[0]).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let bytes = workload.blocks[0].encode();
    group.bench_function("decode_verify_apply_transfers", |b| {
        b.iter_batched(
            || workload.genesis_state.clone(),
            |mut state| {
                let block = Block::decode(&bytes).unwrap().verify().unwrap();
                state.apply_block(&block).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    with_raw_signatures(&workload.blocks[0], |messages| {
        group.bench_function("ed25519_batch_verify_raw", |b| {
            b.iter(|| verify_batch(messages).unwrap())
        });
    });
    group.finish();
}

fn state_root(c: &mut Criterion) {
    static KEY: aifactory_crypto::Domain = aifactory_crypto::Domain::new("bench key");
    let leaf = |i: u64| KEY.hash(&[&i.to_le_bytes()]);
    let mut tree = SlotTree::new();
    for slot in 0..100_000u32 {
        tree.set(slot, leaf(slot.into()));
    }
    tree.commit();
    let mut round = 0u64;
    let mut group = c.benchmark_group("state_tree");
    group.throughput(Throughput::Elements(TXS as u64 * 2));
    group.bench_function("update_and_commit_100k", |b| {
        b.iter(|| {
            round += 1;
            for i in 0..(TXS as u64 * 2) {
                tree.set((i * 37 % 100_000) as u32, leaf(round + i));
            }
            tree.commit()
        })
    });
    group.finish();
}

criterion_group!(benches, apply, state_root);
criterion_main!(benches);
