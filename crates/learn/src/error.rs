//! The crate's error type: hostile or malformed input, never a broken invariant.

use thiserror::Error;

/// Everything that can go wrong on input from outside the crate.
#[derive(Debug, Error)]
pub enum LearnError {
    /// A size exceeds one of the limits in [`crate::limits`].
    #[error("{what} is {got}, above the limit of {max}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// The measured size.
        got: u64,
        /// The limit.
        max: u64,
    },
    /// A model spec is malformed or inconsistent.
    #[error("invalid model spec: {0}")]
    Spec(String),
    /// A configuration value (training, aggregation, privacy) is out of its domain.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Input data does not fit the model or the schema.
    #[error("invalid data: {0}")]
    Data(String),
    /// A model file is malformed.
    #[error("invalid model file: {0}")]
    ModelFile(String),
    /// Parameter vectors of different lengths were combined.
    #[error("parameter vector has length {got}, expected {expected}")]
    LengthMismatch {
        /// The length found.
        got: usize,
        /// The length required.
        expected: usize,
    },
    /// A vector from outside (a client update, a combined update) holds NaN or infinity.
    #[error("{what} {index} has a non-finite coordinate (NaN or infinity); refused")]
    NonFinite {
        /// What kind of vector: "update", "combined update", "vector".
        what: &'static str,
        /// Its position among the vectors given (0 for a single vector).
        index: usize,
    },
    /// An ONNX model could not be imported or run.
    #[error("onnx: {0}")]
    Onnx(String),
    /// The privacy accountant refused the question.
    #[error("privacy accountant: {0}")]
    Accountant(#[from] aifactory_accountant::AccountantError),
    /// Reading or writing a file failed.
    #[error("i/o on {path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = LearnError> = std::result::Result<T, E>;

/// Refuses a vector with a NaN or infinite coordinate: it would poison every sum it enters
/// (a NaN norm even passes a `norm > clip` test).
pub(crate) fn check_finite(what: &'static str, index: usize, v: &[f32]) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(LearnError::NonFinite { what, index })
    }
}

/// Returns an error if `got` exceeds `max`.
pub(crate) fn check_max(what: &'static str, got: usize, max: usize) -> Result<()> {
    if got > max {
        return Err(LearnError::TooLarge {
            what,
            got: got as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Reads a whole file, refusing files larger than `max` bytes.
pub(crate) fn read_file_max(path: &std::path::Path, max: usize) -> Result<Vec<u8>> {
    let io = |source| LearnError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    check_max("file size", usize::try_from(len).unwrap_or(usize::MAX), max)?;
    std::fs::read(path).map_err(io)
}
