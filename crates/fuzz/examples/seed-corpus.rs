//! Writes the seed corpus under `fuzz/corpus/<target>/`: real encodings of transactions,
//! blocks, ledger operations, ledger snapshots, a secure-aggregation round, and the learning
//! crate's model files, specs, CSV rows and an ONNX model, for the fuzzers to start from.
//! Run once with `cargo run -p aifactory-fuzz --example seed-corpus`; the output is committed.

use std::path::{Path, PathBuf};

use aifactory_ledger::testing::TestChain;
use aifactory_secagg::simulate::{Protocol, Simulation};
use aifactory_types::Payload;
use aifactory_types::payload::Stake;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The snapshot target's seeds for `chain`'s state: as written (mode 0, checksums checked)
/// and with mode 1 (checksums recomputed before reading).
fn write_snapshots(dir: &Path, chain: &TestChain) {
    let mut bytes = vec![0];
    chain.state.write_snapshot(&mut bytes).unwrap();
    let height = chain.state.height();
    write(dir, "snapshot", &format!("height-{height}"), &bytes);
    bytes[0] = 1;
    write(
        dir,
        "snapshot",
        &format!("height-{height}-resealed"),
        &bytes,
    );
}

fn main() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut chain = TestChain::new(3, 1_000_000_000_000);
    let txs = vec![
        chain.tx(1, TestChain::transfer_to(chain.address(2), 5)),
        chain.tx(
            2,
            Payload::Stake(Stake {
                amount: 200_000_000_000,
            }),
        ),
    ];
    for (i, tx) in txs.iter().enumerate() {
        write(&corpus, "transaction", &format!("tx-{i}"), &tx.encode());
    }
    let batch = aifactory_node::gossip::encode_batch(txs.iter().map(|tx| tx.encode()).collect());
    write(&corpus, "gossip_batch", "two-txs", &batch);
    write(
        &corpus,
        "validator_set_proof",
        "four-validators",
        &aifactory_fuzz::validator_set_proof_seed(),
    );
    write_snapshots(&corpus, &chain);
    let built = chain.build(txs);
    write(
        &corpus,
        "block",
        "block-2-txs",
        &built.block.to_block().encode(),
    );
    let chain_block = aifactory_node::block::ChainBlock::new(built.block.to_block());
    write(
        &corpus,
        "chain_block",
        "block-2-txs",
        &commonware_codec::Encode::encode(&chain_block),
    );
    write(
        &corpus,
        "block",
        "block-empty",
        &chain.build(vec![]).block.to_block().encode(),
    );

    let mut ops = Vec::new();
    for (i, kind) in [0u8, 1, 2, 3, 0, 0].iter().enumerate() {
        ops.extend_from_slice(&[i as u8, *kind, i as u8 + 1]);
        ops.extend_from_slice(&(1_000u64 << (i * 6)).to_le_bytes());
        ops.push(1);
    }
    write(&corpus, "ledger", "six-ops", &ops);
    // The genesis validator leaves (the election keeps it: nobody else qualifies), a sender
    // without stake tries to join, another stakes.
    let mut ops = Vec::new();
    for (sender, kind, amount) in [(0u8, 5u8, 0u64), (1, 4, 0), (2, 1, 200_000_000_000)] {
        ops.extend_from_slice(&[sender, kind, 0]);
        ops.extend_from_slice(&amount.to_le_bytes());
        ops.push(1);
    }
    write(&corpus, "ledger", "candidacy", &ops);
    write_snapshots(&corpus, &chain);

    let simulation = Simulation::new(5, 16, Protocol::SecAgg);
    let outcome = simulation.run().unwrap();
    let transcript = outcome.transcript.expect("kept");
    write(
        &corpus,
        "secagg_transcript",
        "round-5x16",
        &transcript.encode(),
    );
    write(
        &corpus,
        "secagg_messages",
        "config",
        &outcome.config.encode(),
    );
    write(
        &corpus,
        "secagg_messages",
        "commitment",
        &aifactory_secagg::encode(&transcript.commitment()),
    );
    write_learn(&corpus);
    println!("wrote the seed corpus under {}", corpus.display());
}

/// The learning crate's seeds: small real inputs of each decoder.
fn write_learn(corpus: &Path) {
    let specs = [
        ("logreg", r#"{"kind":"logreg","inputs":4,"outputs":3}"#),
        (
            "mlp",
            r#"{"kind":"mlp","inputs":6,"hidden":[8,4],"outputs":1,"activation":"relu"}"#,
        ),
        (
            "cnn",
            r#"{"kind":"cnn","channels":1,"height":8,"width":8,"conv":[{"filters":2,"kernel":3}],"dense":[4],"outputs":3}"#,
        ),
    ];
    for (name, json) in specs {
        write(corpus, "learn_spec", name, json.as_bytes());
        let spec = aifactory_learn::ModelSpec::from_json(json).unwrap();
        let params = (0..spec.param_count())
            .map(|i| (i % 7) as f32 * 0.1 - 0.3)
            .collect();
        let model = aifactory_learn::store::StoredModel::new(spec, params).unwrap();
        write(corpus, "learn_model_file", name, &model.to_bytes().unwrap());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let adult = std::fs::read_to_string(root.join("data/adult/adult.data")).unwrap();
    let head: String = adult.lines().take(4).map(|l| format!("{l}\n")).collect();
    write(corpus, "learn_csv", "adult-4-rows", head.as_bytes());
    let onnx = std::fs::read(root.join("crates/learn/tests/vectors/tiny_mlp.onnx")).unwrap();
    write(corpus, "learn_onnx", "tiny-mlp", &onnx);
}
