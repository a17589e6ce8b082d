//! The small CNN learns MNIST-5k digits, and survives a save/load round trip.

use aifactory_learn::federated::partition;
use aifactory_learn::metrics;
use aifactory_learn::predict::predict_native;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{self, TrainConfig};
use aifactory_learn::{ModelSpec, datasets, params};

#[test]
fn cnn_learns_mnist_digits() {
    let all = datasets::mnist().unwrap();
    let parts = partition::iid(all.rows(), 5, 1).unwrap();
    let test = all.subset(&parts[0]);
    let train_rows: Vec<usize> = parts[1..].concat();
    let train_set = all.subset(&train_rows);
    let spec = ModelSpec::from_json(
        r#"{"kind":"cnn","channels":1,"height":28,"width":28,"conv":[{"filters":8,"kernel":3},{"filters":16,"kernel":3}],"dense":[32],"outputs":10}"#,
    )
    .unwrap();
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 32,
        learning_rate: 2e-3,
        seed: 1,
        ..TrainConfig::default()
    };
    let t0 = std::time::Instant::now();
    let out = train::train(&spec, &params::init(&spec, 1), &train_set, &cfg).unwrap();
    let model = StoredModel::new(spec, out.params).unwrap();
    let back = StoredModel::from_bytes(&model.to_bytes().unwrap()).unwrap();
    let probs = predict_native(&back, &test.x).unwrap();
    let eval = metrics::evaluate(&test.labels, &probs, None, 10).unwrap();
    println!(
        "CNN on MNIST-5k: {} train / {} test images, {} epochs in {:.1} s; test accuracy {:.2} %, macro F1 {:.3}, ECE {:.3}, losses {:?}",
        train_set.rows(),
        test.rows(),
        cfg.epochs,
        t0.elapsed().as_secs_f64(),
        100.0 * eval.accuracy,
        eval.f1,
        eval.ece,
        out.epoch_losses
    );
    assert!(eval.accuracy > 0.9, "accuracy {}", eval.accuracy);
    // mean cross-entropy per example: below chance (ln 10) after one epoch, then falling
    let l = &out.epoch_losses;
    assert!(
        l[0] < 10f64.ln() && l[2] < l[1] && l[1] < l[0],
        "epoch losses {l:?}"
    );
}
