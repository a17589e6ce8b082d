//! Turning a provider's table into model inputs, the same way at training and at serving.
//!
//! A [`Featurizer`] is fitted on a training table and its schema. Numeric features come
//! first, then the one-hot blocks, each in schema order. Numeric columns are
//! standardised with the table's mean and population standard deviation (a missing value
//! becomes 0, the mean); category columns are one-hot encoded over the declared categories,
//! or over the values seen, sorted, with a missing value kept as a category of its own
//! (`?`); text columns are ignored; the label and the group columns are not features.
//! The label's classes are the declared categories, or the values seen, sorted, with a
//! trailing `.` removed (Adult's test file). The featurizer travels with the model in the
//! safetensors metadata, so `evaluate` and `predict` encode new data exactly as training did.
//! With the Adult schema this is the encoding of [`crate::datasets`] (108 inputs).

use serde::{Deserialize, Serialize};

use crate::data::schema::{ColumnType, Schema};
use crate::data::table::Table;
use crate::error::{LearnError, Result, check_max};
use crate::limits;
use crate::samples::Samples;

/// The category that stands for a missing value.
pub const MISSING: &str = "?";

/// How one input column becomes features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureColumn {
    /// (x − mean) / std.
    Numeric {
        /// Column name.
        name: String,
        /// Training mean.
        mean: f64,
        /// Training standard deviation.
        std: f64,
    },
    /// One feature per category.
    OneHot {
        /// Column name.
        name: String,
        /// Categories in feature order.
        categories: Vec<String>,
    },
}

/// A fitted table-to-features encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Featurizer {
    /// Feature columns in order.
    pub columns: Vec<FeatureColumn>,
    /// The label column.
    pub label: String,
    /// Class names; a label's class is its index here.
    pub classes: Vec<String>,
    /// Whether the numeric columns' mean and standard deviation are still to come (a job's
    /// first secure round measures them over every provider's rows); such a featurizer
    /// encodes nothing until `with_statistics` fills them in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub statistics_pending: bool,
}

fn clean_label(v: &str) -> &str {
    v.strip_suffix('.').unwrap_or(v)
}

impl Featurizer {
    /// Fits on a table; `exclude` names columns kept out of the features (e.g. groups).
    pub fn fit(table: &Table, schema: &Schema, label: &str, exclude: &[String]) -> Result<Self> {
        let li = table.index(label)?;
        let (mut columns, mut one_hot) = (Vec::new(), Vec::new());
        for (i, c) in schema.columns.iter().enumerate() {
            if i == li || exclude.contains(&c.name) {
                continue;
            }
            let values = table.rows.iter().map(|r| r[i].as_deref());
            match c.kind {
                ColumnType::Int | ColumnType::Float => {
                    let v: Vec<f64> = values
                        .flatten()
                        .map(|s| s.parse::<f64>().map_err(|_| bad(&c.name, s)))
                        .collect::<Result<_>>()?;
                    let n = v.len().max(1) as f64;
                    let mean = v.iter().sum::<f64>() / n;
                    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
                        .sqrt()
                        .max(1e-12);
                    columns.push(FeatureColumn::Numeric {
                        name: c.name.clone(),
                        mean,
                        std,
                    });
                }
                ColumnType::Category => {
                    let categories = if c.categories.is_empty() {
                        let set: std::collections::BTreeSet<&str> =
                            values.map(|v| v.unwrap_or(MISSING)).collect();
                        set.into_iter().map(str::to_string).collect()
                    } else {
                        c.categories.clone()
                    };
                    check_max("categories", categories.len(), limits::CATEGORIES_MAX)?;
                    one_hot.push(FeatureColumn::OneHot {
                        name: c.name.clone(),
                        categories,
                    });
                }
                ColumnType::Text => {}
            }
        }
        columns.extend(one_hot);
        let declared = &schema.columns[schema.index(label)?].categories;
        let mut classes: Vec<String> = declared
            .iter()
            .map(|c| clean_label(c).to_string())
            .collect();
        if classes.is_empty() {
            classes = table
                .rows
                .iter()
                .filter_map(|r| r[li].as_deref())
                .map(|v| clean_label(v).to_string())
                .collect();
        }
        classes.sort();
        classes.dedup();
        check_max("classes", classes.len(), limits::CLASSES_MAX)?;
        if classes.len() < 2 {
            return Err(LearnError::Data(format!(
                "label {label} has fewer than 2 classes"
            )));
        }
        Ok(Self {
            columns,
            label: label.to_string(),
            classes,
            statistics_pending: false,
        })
    }

    /// The same encoding with the numeric columns' statistics left to be measured (mean 0,
    /// standard deviation 1 until then): what a developer publishes when the providers are to
    /// measure them together rather than the developer fitting them on rows of its own.
    pub fn without_statistics(mut self) -> Self {
        for column in &mut self.columns {
            if let FeatureColumn::Numeric { mean, std, .. } = column {
                (*mean, *std) = (0.0, 1.0);
            }
        }
        self.statistics_pending = true;
        self
    }

    /// The numeric columns' names, in feature order.
    pub fn numeric_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter_map(|c| match c {
                FeatureColumn::Numeric { name, .. } => Some(name.as_str()),
                FeatureColumn::OneHot { .. } => None,
            })
            .collect()
    }

    /// The same encoding with each numeric column's `(mean, std)`, in `numeric_columns`
    /// order; a standard deviation that is not positive and finite is refused.
    pub fn with_statistics(&self, statistics: &[(f64, f64)]) -> Result<Self> {
        if statistics.len() != self.numeric_columns().len() {
            return Err(LearnError::Data(format!(
                "{} statistics for {} numeric columns",
                statistics.len(),
                self.numeric_columns().len()
            )));
        }
        let mut out = self.clone();
        let numeric = out.columns.iter_mut().filter_map(|c| match c {
            FeatureColumn::Numeric { name, mean, std } => Some((name, mean, std)),
            FeatureColumn::OneHot { .. } => None,
        });
        for ((name, mean, std), &(m, s)) in numeric.zip(statistics) {
            if !(m.is_finite() && s.is_finite() && s > 0.0) {
                return Err(LearnError::Data(format!(
                    "column {name}: mean {m} and standard deviation {s} are not usable"
                )));
            }
            (*mean, *std) = (m, s);
        }
        out.statistics_pending = false;
        Ok(out)
    }

    /// Number of features produced.
    pub fn features(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                FeatureColumn::Numeric { .. } => 1,
                FeatureColumn::OneHot { categories, .. } => categories.len(),
            })
            .sum()
    }

    /// Encodes the features of every row (`rows × features`); refused while the statistics
    /// are pending.
    pub fn encode_x(&self, table: &Table) -> Result<Vec<f32>> {
        if self.statistics_pending {
            return Err(LearnError::Data(
                "the encoding's numeric statistics are still to be measured (a job's first \
                 secure round does it)"
                    .into(),
            ));
        }
        let idx: Vec<usize> = self
            .columns
            .iter()
            .map(|c| match c {
                FeatureColumn::Numeric { name, .. } | FeatureColumn::OneHot { name, .. } => {
                    table.index(name)
                }
            })
            .collect::<Result<_>>()?;
        let mut x = Vec::with_capacity(table.rows.len() * self.features());
        for row in &table.rows {
            for (c, &i) in self.columns.iter().zip(&idx) {
                match c {
                    FeatureColumn::Numeric { name, mean, std } => {
                        let v = match row[i].as_deref() {
                            None => 0.0,
                            Some(s) => {
                                ((s.parse::<f64>().map_err(|_| bad(name, s))? - mean) / std) as f32
                            }
                        };
                        x.push(v);
                    }
                    FeatureColumn::OneHot { categories, .. } => {
                        let v = row[i].as_deref().unwrap_or(MISSING);
                        x.extend(categories.iter().map(|k| if k == v { 1.0 } else { 0.0 }));
                    }
                }
            }
        }
        Ok(x)
    }

    /// Encodes features and labels (rows with a missing or unknown label are refused).
    pub fn encode(&self, table: &Table) -> Result<Samples> {
        let x = self.encode_x(table)?;
        let li = table.index(&self.label)?;
        let labels = table
            .rows
            .iter()
            .map(|r| {
                let v = r[li]
                    .as_deref()
                    .map(clean_label)
                    .ok_or_else(|| LearnError::Data("a row has no label".into()))?;
                self.classes
                    .iter()
                    .position(|c| c == v)
                    .map(|p| p as u32)
                    .ok_or_else(|| LearnError::Data(format!("unknown label {v:?}")))
            })
            .collect::<Result<Vec<u32>>>()?;
        Samples::new(x, labels, self.features(), self.classes.len())
    }
}

fn bad(column: &str, value: &str) -> LearnError {
    LearnError::Data(format!("column {column}: not a number: {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets;

    #[test]
    fn adult_schema_reproduces_the_dataset_encoding() {
        let schema = Schema::adult();
        let dir = datasets::data_dir().join("adult");
        let table = Table::read_csv(&dir.join("adult.data"), &schema).unwrap();
        let f = Featurizer::fit(&table, &schema, "income", &[]).unwrap();
        assert_eq!(f.features(), 108);
        assert_eq!(f.classes, vec!["<=50K", ">50K"]);
        let s = f.encode(&table).unwrap();
        let reference = datasets::adult().unwrap().train.samples;
        assert_eq!(s.labels, reference.labels);
        let max_diff =
            s.x.iter()
                .zip(&reference.x)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
        assert!(max_diff < 1e-5, "{max_diff}");
        let test = Table::read_csv(&dir.join("adult.test"), &schema).unwrap();
        assert_eq!(f.encode(&test).unwrap().rows(), 16_281);
    }

    #[test]
    fn the_encoder_travels_in_the_model_file() {
        let schema = Schema::from_json(
            r#"{"columns":[{"name":"x","type":"float"},{"name":"c","type":"category"},{"name":"y","type":"category"}],"label":"y"}"#,
        )
        .unwrap();
        let t = Table::parse_csv(b"x,c,y\n1,a,no\n3,,yes\n5,b,no\n", &schema).unwrap();
        let f = Featurizer::fit(&t, &schema, "y", &[]).unwrap();
        // x standardised (mean 3, std 1.633), then c one-hot over ["?", "a", "b"]
        assert_eq!(f.features(), 4);
        let s = f.encode(&t).unwrap();
        assert_eq!(s.labels, vec![0, 1, 0]);
        assert_eq!(&s.x[4..8], &[0.0, 1.0, 0.0, 0.0]);
        let spec =
            crate::ModelSpec::from_json(r#"{"kind":"logreg","inputs":4,"outputs":1}"#).unwrap();
        let p = crate::params::init(&spec, 0);
        let m = crate::store::StoredModel::new(spec, p)
            .unwrap()
            .with_features(f.clone())
            .unwrap();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes, m.to_bytes().unwrap());
        assert_eq!(
            crate::store::StoredModel::from_bytes(&bytes)
                .unwrap()
                .features,
            Some(f)
        );
    }

    #[test]
    fn pending_statistics_encode_nothing_until_filled_in() {
        let schema = Schema::from_json(
            r#"{"columns":[{"name":"x","type":"float"},{"name":"c","type":"category"},{"name":"y","type":"category"}],"label":"y"}"#,
        )
        .unwrap();
        let t = Table::parse_csv(b"x,c,y\n1,a,no\n3,,yes\n5,b,no\n", &schema).unwrap();
        let fitted = Featurizer::fit(&t, &schema, "y", &[]).unwrap();
        let pending = fitted.clone().without_statistics();
        assert!(pending.statistics_pending);
        assert_eq!(pending.numeric_columns(), vec!["x"]);
        assert!(
            pending.encode(&t).is_err(),
            "no encoding with made-up statistics"
        );
        assert!(
            pending.with_statistics(&[]).is_err(),
            "one pair per numeric column"
        );
        assert!(
            pending.with_statistics(&[(3.0, 0.0)]).is_err(),
            "a usable deviation"
        );
        let (mean, std) = (3.0, (8.0f64 / 3.0).sqrt());
        let filled = pending.with_statistics(&[(mean, std)]).unwrap();
        assert_eq!(filled, fitted, "the same encoding as fitting on the rows");
        // A fitted featurizer serialises without the flag, so existing model files keep their
        // bytes (and hashes).
        assert!(
            !serde_json::to_string(&fitted)
                .unwrap()
                .contains("statistics_pending")
        );
        let json = serde_json::to_string(&pending).unwrap();
        assert_eq!(serde_json::from_str::<Featurizer>(&json).unwrap(), pending);
    }
}
