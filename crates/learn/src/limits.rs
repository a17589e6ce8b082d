//! Every limit on input that comes from outside the crate, in one place.
//!
//! Specs, model files, CSV tables and federated jobs are all hostile input: each size is
//! checked against a `*_max` below before memory is allocated for it. The compile-time
//! assertions at the bottom pin down how the limits relate to each other.

/// Largest model spec document accepted, in bytes.
pub const SPEC_BYTES_MAX: usize = 64 * 1024;
/// Largest safetensors or ONNX model file accepted, in bytes.
pub const MODEL_BYTES_MAX: usize = 512 * 1024 * 1024;
/// Most parameters (scalars) a model may have.
pub const PARAMS_MAX: usize = 64 * 1024 * 1024;
/// Most nodes an imported ONNX graph may have.
pub const ONNX_NODES_MAX: usize = 4096;
/// The ONNX operators an imported model may use: the layers of feed-forward classifiers.
/// No control flow (`If`, `Loop`, `Scan`: unbounded work), no random or shape-generating
/// operators (`ConstantOfShape`, `Expand`, `Tile`, `Range`: allocations chosen by the file).
pub const ONNX_OPERATORS: &[&str] = &[
    "Abs",
    "Add",
    "ArgMax",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mul",
    "Neg",
    "Pad",
    "Pow",
    "PRelu",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Selu",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];
/// Most tensors a safetensors model file may hold.
pub const TENSORS_MAX: usize = 1024;
/// Widest input or hidden layer a spec may declare.
pub const LAYER_WIDTH_MAX: usize = 1 << 16;
/// Most dense hidden layers in a spec.
pub const HIDDEN_LAYERS_MAX: usize = 32;
/// Most convolution layers in a CNN spec.
pub const CONV_LAYERS_MAX: usize = 8;
/// Largest convolution kernel side.
pub const KERNEL_SIDE_MAX: usize = 11;
/// Largest image side (height or width) a CNN spec may declare.
pub const IMAGE_SIDE_MAX: usize = 1024;
/// Most image channels.
pub const CHANNELS_MAX: usize = 64;
/// Most output classes of a classifier.
pub const CLASSES_MAX: usize = 1000;
/// Most rows in a table or a data set held in memory.
pub const ROWS_MAX: usize = 10_000_000;
/// Most columns in a table.
pub const COLUMNS_MAX: usize = 4096;
/// Longest single CSV cell, in bytes.
pub const CELL_BYTES_MAX: usize = 4096;
/// Most distinct categories a categorical column may declare.
pub const CATEGORIES_MAX: usize = 10_000;
/// Most epochs of local training per call.
pub const EPOCHS_MAX: usize = 10_000;
/// Largest mini-batch.
pub const BATCH_SIZE_MAX: usize = 1 << 16;
/// Most clients in one federated job.
pub const CLIENTS_MAX: usize = 10_000;
/// Most federated rounds in one simulation.
pub const ROUNDS_MAX: usize = 100_000;
/// Longest flat parameter vector an aggregator accepts (same as the model limit).
pub const UPDATE_LEN_MAX: usize = PARAMS_MAX;
/// Most steps (or rounds) the privacy accountant composes.
pub const ACCOUNTANT_STEPS_MAX: u64 = aifactory_accountant::STEPS_MAX;
/// Most bins of an expected-calibration-error histogram.
pub const CALIBRATION_BINS_MAX: usize = 10_000;
/// Most rows for which a Merkle inclusion proof can be built (2^32 leaves).
pub const MERKLE_LEAVES_MAX: usize = 1 << 32;

const _: () = assert!(UPDATE_LEN_MAX == PARAMS_MAX);
const _: () = assert!(HIDDEN_LAYERS_MAX < TENSORS_MAX / 2);
const _: () = assert!(CLIENTS_MAX <= ROWS_MAX);
const _: () = assert!(BATCH_SIZE_MAX <= ROWS_MAX);
const _: () = assert!(CLASSES_MAX <= LAYER_WIDTH_MAX);
