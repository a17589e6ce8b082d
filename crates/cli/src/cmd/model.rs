//! `aifactory model`: make, train, evaluate and run models; import ONNX models; and the
//! chain's model registry (`register`, `show`, `list`, `provenance`, in `model_registry.rs`).

use std::path::{Path, PathBuf};

use aifactory_learn::data::features::Featurizer;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::metrics;
use aifactory_learn::onnx::{OnnxModel, OnnxOutput};
use aifactory_learn::predict::{NativeModel, Predictor};
use aifactory_learn::privacy::clip_noise::DpConfig;
use aifactory_learn::privacy::rdp::SgmQuery;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{self, Optimizer, TrainConfig};
use aifactory_learn::{ModelSpec, params};
use anyhow::{Context as _, bail};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use crate::cmd::data::Input;
use crate::cmd::model_registry;
use crate::context::Context;

/// `aifactory model`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

/// What `model init` wrote.
#[derive(Debug, Serialize)]
struct Initialised {
    model_file: PathBuf,
    spec_file: PathBuf,
    weights: aifactory_types::Hash,
    spec: aifactory_types::Hash,
}

/// A model spec and the labelled rows its feature encoding is fitted on.
#[derive(Debug, clap::Args)]
struct FitArgs {
    /// The model spec (JSON); its inputs are set from the data's encoding.
    #[arg(long)]
    spec: PathBuf,
    #[command(flatten)]
    input: Input,
    /// The label column (default: the schema's).
    #[arg(long)]
    label: Option<String>,
    /// Columns kept out of the features (e.g. a group column).
    #[arg(long)]
    exclude: Vec<String>,
}

impl FitArgs {
    /// The rows, the encoding fitted on them, and the spec with its inputs set to it.
    fn fit(&self) -> anyhow::Result<(Table, Featurizer, ModelSpec)> {
        let (schema, table) = self.input.load()?;
        let label = self
            .label
            .clone()
            .or(schema.label.clone())
            .context("no --label and the schema names none")?;
        let featurizer = Featurizer::fit(&table, &schema, &label, &self.exclude)?;
        let spec = with_inputs(
            ModelSpec::from_json(&std::fs::read_to_string(&self.spec)?)?,
            featurizer.features(),
        )?;
        Ok((table, featurizer, spec))
    }
}

/// Where a starting model's standardisation statistics come from.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Statistics {
    /// Fitted on the rows given.
    Data,
    /// Measured by the job's first secure round.
    Secure,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a spec's id, or a model file's spec id and content id.
    Id {
        /// A spec (.json) or a model (.safetensors).
        path: PathBuf,
    },
    /// Train a model on a labelled CSV and save it as safetensors.
    Train {
        #[command(flatten)]
        fit: FitArgs,
        /// Passes over the data.
        #[arg(long, default_value_t = 5)]
        epochs: usize,
        /// Examples per step.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Step size.
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// The optimiser.
        #[arg(long, value_enum, default_value_t = Opt::Adam)]
        optimizer: Opt,
        /// SGD momentum.
        #[arg(long, default_value_t = 0.9)]
        momentum: f64,
        /// L2 weight decay.
        #[arg(long, default_value_t = 0.0)]
        weight_decay: f64,
        /// DP-SGD: clip each example's gradient to this norm.
        #[arg(long, requires = "dp_noise")]
        dp_clip: Option<f64>,
        /// DP-SGD: noise multiplier.
        #[arg(long, requires = "dp_clip")]
        dp_noise: Option<f64>,
        /// δ for the ε reported under DP-SGD.
        #[arg(long, default_value_t = 1e-5)]
        delta: f64,
        /// Seed of initialisation and shuffling (public; DP noise comes from the OS instead).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a job's starting model: weights seeded from the spec, and the feature encoding
    /// every party of the job will use, fitted on a sample you may share (e.g. public rows).
    Init {
        #[command(flatten)]
        fit: FitArgs,
        /// Where the numeric columns' mean and standard deviation come from: `data` fits them on
        /// `--data`; `secure` leaves them to the job's first secure-aggregation round over every
        /// provider's rows (`--data` then only fixes the columns and categories).
        #[arg(long, value_enum, default_value_t = Statistics::Data)]
        statistics: Statistics,
        /// Seed of the initial weights (public).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Accuracy, precision, recall, F1, ROC AUC, log loss, ECE and fairness on a labelled CSV.
    Evaluate {
        /// A model (.safetensors) or an imported ONNX model (.onnx).
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        input: Input,
        /// The label column (default: the model's or the schema's).
        #[arg(long)]
        label: Option<String>,
        /// A group column for demographic-parity and equalized-odds differences.
        #[arg(long)]
        group: Option<String>,
        /// Bins of the expected calibration error.
        #[arg(long, default_value_t = 10)]
        bins: usize,
    },
    /// Write each row's predicted class and probabilities to a CSV.
    Predict {
        /// A model (.safetensors) or an imported ONNX model (.onnx).
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        input: Input,
        /// Where to write the predictions.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import an ONNX model: check that tract loads and optimises it, print its content id.
    Import {
        /// The ONNX file.
        path: PathBuf,
        /// What the model's first output holds.
        #[arg(long, value_enum, default_value_t = Output::Logits)]
        output: Output,
    },
    #[command(flatten)]
    Registry(model_registry::Command),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Opt {
    Adam,
    Sgd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Logits,
    Probabilities,
}

impl From<Output> for OnnxOutput {
    fn from(o: Output) -> OnnxOutput {
        match o {
            Output::Logits => OnnxOutput::Logits,
            Output::Probabilities => OnnxOutput::Probabilities,
        }
    }
}

fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// A loaded model and, for native models, its table encoder.
fn load_predictor(path: &Path) -> anyhow::Result<(Predictor, Option<Featurizer>)> {
    if is_onnx(path) {
        return Ok((
            Predictor::Onnx(OnnxModel::load(path, OnnxOutput::Logits)?),
            None,
        ));
    }
    let m = StoredModel::load(path).with_context(|| format!("loading {}", path.display()))?;
    let f = m.features.clone();
    Ok((Predictor::Native(Box::new(NativeModel::new(&m)?)), f))
}

/// The features of a table: through the model's encoder, or the numeric columns as they are.
fn features(
    table: &Table,
    schema: &Schema,
    featurizer: Option<&Featurizer>,
    skip: &[&str],
) -> anyhow::Result<Vec<f32>> {
    if let Some(f) = featurizer {
        return Ok(f.encode_x(table)?);
    }
    let cols: Vec<usize> = (0..table.columns.len())
        .filter(|&i| !skip.contains(&table.columns[i].as_str()))
        .collect();
    let mut x = Vec::with_capacity(table.rows.len() * cols.len());
    for row in &table.rows {
        for &i in &cols {
            let v = row[i].as_deref().unwrap_or("0");
            x.push(v.parse::<f32>().with_context(|| format!("column {} is not numeric ({v:?}); native models carry an encoder, ONNX models need numeric columns", schema.columns[i].name))?);
        }
    }
    Ok(x)
}

#[derive(Debug, Serialize)]
struct Trained {
    out: String,
    spec_id: String,
    content_id: String,
    rows: usize,
    features: usize,
    epoch_losses: Vec<f64>,
    dp_epsilon: Option<f64>,
}

pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Registry(command) => model_registry::run(command, context)?,
        Command::Id { path } => {
            let out = if path.extension().is_some_and(|e| e == "json") {
                let spec = ModelSpec::from_json(&std::fs::read_to_string(&path)?)?;
                serde_json::json!({"spec_id": spec.id()})
            } else {
                let m = StoredModel::load(&path)?;
                serde_json::json!({"spec_id": m.spec.id(), "content_id": m.content_id(), "params": m.params.len()})
            };
            context.print(&out, |o| serde_json::to_string_pretty(o).expect("json"));
        }
        Command::Import { path, output } => {
            let m = OnnxModel::load(&path, output.into())?;
            let out = serde_json::json!({"content_id": m.content_id(), "inputs": m.inputs()});
            context.print(&out, |o| {
                format!(
                    "imported {}: content id {}, {} inputs per row",
                    path.display(),
                    o["content_id"],
                    o["inputs"]
                )
            });
        }
        Command::Init {
            fit,
            statistics,
            seed,
            out,
        } => {
            let (_, featurizer, spec) = fit.fit()?;
            let featurizer = match statistics {
                Statistics::Data => featurizer,
                Statistics::Secure => featurizer.without_statistics(),
            };
            let model = StoredModel::new(spec.clone(), params::init(&spec, seed))?
                .with_features(featurizer)?;
            model.save(&out)?;
            let spec_file = out.with_extension("spec.json");
            std::fs::write(&spec_file, spec.canonical_json())
                .with_context(|| format!("writing {}", spec_file.display()))?;
            let blob = |bytes: &[u8]| aifactory_types::Hash::from(blake3::hash(bytes));
            let initialised = Initialised {
                weights: blob(&model.to_bytes()?),
                spec: blob(spec.canonical_json().as_bytes()),
                model_file: out,
                spec_file,
            };
            context.print(&initialised, |i| {
                format!(
                    "wrote {} and {}: store both (`aifactory blob put`), then register with \
                     `aifactory model register --spec {} --weights {}`",
                    i.model_file.display(),
                    i.spec_file.display(),
                    i.spec,
                    i.weights
                )
            });
        }
        Command::Train {
            fit,
            epochs,
            batch_size,
            lr,
            optimizer,
            momentum,
            weight_decay,
            dp_clip,
            dp_noise,
            delta,
            seed,
            out,
        } => {
            let (table, featurizer, spec) = fit.fit()?;
            let samples = featurizer.encode(&table)?;
            let dp = dp_clip
                .zip(dp_noise)
                .map(|(clip_norm, noise_multiplier)| DpConfig {
                    clip_norm,
                    noise_multiplier,
                });
            let cfg = TrainConfig {
                epochs,
                batch_size,
                learning_rate: lr,
                optimizer: match optimizer {
                    Opt::Adam => Optimizer::Adam,
                    Opt::Sgd => Optimizer::Sgd { momentum },
                },
                weight_decay,
                prox_mu: 0.0,
                dp_sgd: dp,
                seed,
                // DP noise and sampling come from the OS, never from --seed (it is public).
                privacy_secret: None,
            };
            let bar = indicatif::ProgressBar::new(epochs as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} epoch {pos}/{len} {msg}")
                    .expect("template"),
            );
            let result = train::train_with_progress(
                &spec,
                &params::init(&spec, seed),
                &samples,
                &cfg,
                &mut |_, loss| {
                    bar.inc(1);
                    bar.set_message(format!("loss {loss:.4}"));
                },
            )?;
            bar.finish_and_clear();
            let dp_epsilon = match dp {
                Some(d) => {
                    let q = (batch_size as f64 / samples.rows() as f64).min(1.0);
                    Some(
                        SgmQuery {
                            sample_rate: q,
                            noise_multiplier: d.noise_multiplier,
                            steps: result.steps as u64,
                            delta,
                        }
                        .epsilon()?
                        .0,
                    )
                }
                None => None,
            };
            let model = StoredModel::new(spec, result.params)?.with_features(featurizer)?;
            model.save(&out)?;
            let t = Trained {
                out: out.display().to_string(),
                spec_id: model.spec.id(),
                content_id: model.content_id(),
                rows: samples.rows(),
                features: samples.features,
                epoch_losses: result.epoch_losses,
                dp_epsilon,
            };
            context.print(&t, |t| serde_json::to_string_pretty(t).expect("json"));
        }
        Command::Evaluate {
            model,
            input,
            label,
            group,
            bins,
        } => {
            let (predictor, featurizer) = load_predictor(&model)?;
            let (schema, table) = input.load()?;
            let label = label
                .or(featurizer.as_ref().map(|f| f.label.clone()))
                .or(schema.label.clone())
                .context("no --label")?;
            let skip = [label.as_str(), group.as_deref().unwrap_or("")];
            let x = features(&table, &schema, featurizer.as_ref(), &skip)?;
            let probs = predictor.predict(&x)?;
            let labels = match &featurizer {
                Some(f) => f.encode(&table)?.labels,
                None => table
                    .column(&label)?
                    .iter()
                    .map(|v| {
                        v.as_deref()
                            .unwrap_or("")
                            .parse::<u32>()
                            .context("ONNX evaluation needs integer class labels")
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            let groups: Option<Vec<String>> = group
                .as_deref()
                .map(|g| {
                    table
                        .column(g)
                        .map(|c| c.into_iter().map(|v| v.unwrap_or_default()).collect())
                })
                .transpose()?;
            let eval = metrics::evaluate(&labels, &probs, groups.as_deref(), bins)?;
            context.print(&eval, |e| serde_json::to_string_pretty(e).expect("json"));
        }
        Command::Predict { model, input, out } => {
            let (predictor, featurizer) = load_predictor(&model)?;
            let (schema, table) = input.load()?;
            let skip: Vec<&str> = schema.label.as_deref().into_iter().collect();
            let x = features(&table, &schema, featurizer.as_ref(), &skip)?;
            let probs = predictor.predict(&x)?;
            let names: Vec<String> = match &featurizer {
                Some(f) => f.classes.clone(),
                None => (0..probs.classes).map(|c| c.to_string()).collect(),
            };
            let mut w = csv::Writer::from_path(&out)?;
            let mut header = vec!["predicted".to_string()];
            header.extend(names.iter().map(|n| format!("p({n})")));
            w.write_record(&header)?;
            for (r, class) in probs.argmax().iter().enumerate() {
                let mut rec = vec![names[*class as usize].clone()];
                rec.extend(
                    probs.p[r * probs.classes..(r + 1) * probs.classes]
                        .iter()
                        .map(|p| format!("{p:.6}")),
                );
                w.write_record(&rec)?;
            }
            w.flush()?;
            let o = serde_json::json!({"rows": probs.rows, "out": out.display().to_string()});
            context.print(&o, |o| {
                format!("{} predictions written to {}", o["rows"], o["out"])
            });
        }
    }
    Ok(())
}

/// The spec with its input width set from the data (CNN specs must already match).
fn with_inputs(spec: ModelSpec, features: usize) -> anyhow::Result<ModelSpec> {
    let spec = match spec {
        ModelSpec::Logreg { outputs, .. } => ModelSpec::Logreg {
            inputs: features,
            outputs,
        },
        ModelSpec::Mlp {
            hidden,
            outputs,
            activation,
            dropout,
            ..
        } => ModelSpec::Mlp {
            inputs: features,
            hidden,
            outputs,
            activation,
            dropout,
        },
        cnn @ ModelSpec::Cnn { .. } => {
            if cnn.inputs() != features {
                bail!(
                    "the CNN takes {} inputs, the data has {features}",
                    cnn.inputs()
                );
            }
            cnn
        }
    };
    spec.validate()?;
    Ok(spec)
}
