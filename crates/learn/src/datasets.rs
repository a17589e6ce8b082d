//! Loaders for the data sets shipped in `data/` (see `data/README.md`).
//!
//! **Adult** preprocessing, fixed so that figures compare with other stacks: the 6
//! numeric columns (age, fnlwgt, education-num, capital-gain, capital-loss,
//! hours-per-week) are standardised with the training split's mean and population
//! standard deviation; the 8 categorical columns are one-hot encoded over the categories
//! seen in the training split, sorted, with `?` kept as a category of its own (a test
//! value never seen in training encodes as all zeros). Numerics come first, then the
//! one-hot blocks in column order: 6 + 102 = 108 inputs. The label is 1 for `>50K`
//! (the test split's trailing `.` is stripped). `sex` and `race` are kept per row as
//! group columns for fairness metrics.
//!
//! **MNIST-5k**: 784 pixels scaled to [0, 1] and the digit label, 10 classes.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::error::{LearnError, Result, check_max, read_file_max};
use crate::limits;
use crate::samples::Samples;

/// The repository's `data/` directory (compiled in: tests and benches never download).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Column names of the Adult files.
pub const ADULT_COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];
const NUMERIC: [usize; 6] = [0, 2, 4, 10, 11, 12];
const CATEGORICAL: [usize; 8] = [1, 3, 5, 6, 7, 8, 9, 13];
const RACE: usize = 8;
const SEX: usize = 9;

/// One split of Adult, encoded.
#[derive(Clone, Debug)]
pub struct AdultSplit {
    /// The encoded features and labels (108 features, 2 classes).
    pub samples: Samples,
    /// `sex` of each row (`Male`/`Female`).
    pub sex: Vec<String>,
    /// `race` of each row.
    pub race: Vec<String>,
}

/// The Adult training and test splits, encoded with the training split's statistics.
#[derive(Clone, Debug)]
pub struct Adult {
    /// `adult.data`, 32,561 rows.
    pub train: AdultSplit,
    /// `adult.test`, 16,281 rows.
    pub test: AdultSplit,
    /// The fitted encoder.
    pub encoder: AdultEncoder,
}

/// The statistics fitted on the training split.
#[derive(Clone, Debug, PartialEq)]
pub struct AdultEncoder {
    /// Mean of each numeric column.
    pub means: Vec<f64>,
    /// Population standard deviation of each numeric column.
    pub stds: Vec<f64>,
    /// Sorted categories of each categorical column.
    pub categories: Vec<Vec<String>>,
}

impl AdultEncoder {
    /// Fits the encoder on raw rows.
    pub fn fit(rows: &[Vec<String>]) -> Result<Self> {
        let n = rows.len() as f64;
        let mut means = Vec::new();
        let mut stds = Vec::new();
        for &c in &NUMERIC {
            let v: Vec<f64> = rows
                .iter()
                .map(|r| parse_num(&r[c]))
                .collect::<Result<_>>()?;
            let m = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
            means.push(m);
            stds.push(var.sqrt().max(1e-12));
        }
        let categories = CATEGORICAL
            .iter()
            .map(|&c| {
                let set: std::collections::BTreeSet<&str> =
                    rows.iter().map(|r| r[c].as_str()).collect();
                set.into_iter().map(str::to_string).collect()
            })
            .collect();
        Ok(Self {
            means,
            stds,
            categories,
        })
    }

    /// Number of encoded features.
    pub fn features(&self) -> usize {
        NUMERIC.len() + self.categories.iter().map(Vec::len).sum::<usize>()
    }

    /// Encodes raw rows into samples.
    pub fn encode(&self, rows: &[Vec<String>]) -> Result<Samples> {
        let f = self.features();
        let mut x = Vec::with_capacity(rows.len() * f);
        let mut labels = Vec::with_capacity(rows.len());
        for r in rows {
            for (i, &c) in NUMERIC.iter().enumerate() {
                x.push(((parse_num(&r[c])? - self.means[i]) / self.stds[i]) as f32);
            }
            for (i, &c) in CATEGORICAL.iter().enumerate() {
                let cats = &self.categories[i];
                let hot = cats.binary_search(&r[c]).ok();
                x.extend((0..cats.len()).map(|k| if Some(k) == hot { 1.0 } else { 0.0 }));
            }
            labels.push(u32::from(r[14].trim_end_matches('.') == ">50K"));
        }
        Samples::new(x, labels, f, 2)
    }
}

fn parse_num(s: &str) -> Result<f64> {
    s.parse::<f64>()
        .map_err(|_| LearnError::Data(format!("not a number: {s:?}")))
}

/// Reads an Adult file into raw rows of 15 trimmed fields, skipping blank lines and the
/// test file's `|1x3 Cross validator` header.
pub fn read_adult_rows(path: &Path) -> Result<Vec<Vec<String>>> {
    let bytes = read_file_max(path, limits::MODEL_BYTES_MAX)?;
    let text =
        String::from_utf8(bytes).map_err(|_| LearnError::Data("adult file is not UTF-8".into()))?;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('|') {
            continue;
        }
        let fields: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
        if fields.len() != ADULT_COLUMNS.len() {
            return Err(LearnError::Data(format!(
                "adult row with {} fields: {line:?}",
                fields.len()
            )));
        }
        rows.push(fields);
    }
    check_max("rows", rows.len(), limits::ROWS_MAX)?;
    Ok(rows)
}

/// Loads Adult from a directory holding `adult.data` and `adult.test`.
pub fn load_adult(dir: &Path) -> Result<Adult> {
    let train_rows = read_adult_rows(&dir.join("adult.data"))?;
    let test_rows = read_adult_rows(&dir.join("adult.test"))?;
    let encoder = AdultEncoder::fit(&train_rows)?;
    let split = |rows: &[Vec<String>]| -> Result<AdultSplit> {
        Ok(AdultSplit {
            samples: encoder.encode(rows)?,
            sex: rows.iter().map(|r| r[SEX].clone()).collect(),
            race: rows.iter().map(|r| r[RACE].clone()).collect(),
        })
    };
    Ok(Adult {
        train: split(&train_rows)?,
        test: split(&test_rows)?,
        encoder,
    })
}

/// Loads the shipped Adult data.
pub fn adult() -> Result<Adult> {
    load_adult(&data_dir().join("adult"))
}

/// Loads an MNIST CSV (gzip): 784 pixels then the label per line.
pub fn load_mnist(path: &Path) -> Result<Samples> {
    let gz = read_file_max(path, limits::MODEL_BYTES_MAX)?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .take(limits::MODEL_BYTES_MAX as u64)
        .read_to_string(&mut text)
        .map_err(|e| LearnError::Data(format!("mnist: {e}")))?;
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<&str> = line.split(',').collect();
        if v.len() != 785 {
            return Err(LearnError::Data(format!(
                "mnist row with {} fields",
                v.len()
            )));
        }
        for p in &v[..784] {
            let p: f32 = p
                .trim()
                .parse()
                .map_err(|_| LearnError::Data(format!("bad pixel {p:?}")))?;
            x.push(p / 255.0);
        }
        labels.push(
            v[784]
                .trim()
                .parse()
                .map_err(|_| LearnError::Data("bad label".into()))?,
        );
        check_max("rows", labels.len(), limits::ROWS_MAX)?;
    }
    Samples::new(x, labels, 784, 10)
}

/// Loads the shipped MNIST-5k subset.
pub fn mnist() -> Result<Samples> {
    load_mnist(&data_dir().join("mnist/mnist_5k.csv.gz"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adult_has_the_documented_shape() {
        let a = adult().unwrap();
        assert_eq!(a.train.samples.rows(), 32_561);
        assert_eq!(a.test.samples.rows(), 16_281);
        assert_eq!(a.train.samples.features, 108);
        let pos = a.train.samples.labels.iter().filter(|&&l| l == 1).count();
        assert_eq!(pos, 7841, "positives in adult.data");
        assert!(a.encoder.categories[0].contains(&"?".to_string()));
        assert_eq!(
            a.train.sex.iter().filter(|s| *s == "Female").count(),
            10_771
        );
        // standardised numerics: mean 0, variance 1 on the training split
        let s = &a.train.samples;
        let m: f64 = (0..s.rows()).map(|r| f64::from(s.row(r)[0])).sum::<f64>() / s.rows() as f64;
        assert!(m.abs() < 1e-4);
    }

    #[test]
    fn mnist_has_500_per_class() {
        let m = mnist().unwrap();
        assert_eq!(m.rows(), 5000);
        for c in 0..10 {
            assert_eq!(m.labels.iter().filter(|&&l| l == c).count(), 500);
        }
        assert!(m.x.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }
}
