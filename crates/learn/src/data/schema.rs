//! The declared shape of a provider's table: column types, ranges, categories, the label,
//! which tokens mean "missing", and which columns are quasi-identifiers.
//!
//! A schema is JSON, e.g.
//! `{"columns":[{"name":"age","type":"int","min":17,"max":90}, {"name":"sex","type":"category",
//! "categories":["Female","Male"]}], "label":"income", "missing":["?",""], "header":false,
//! "quasi_identifiers":["age","sex"], "sensitive":"income"}`.
//! Values are checked cell by cell in [`Schema::check_cell`]; the quality report counts
//! the failures rather than refusing the table, so a provider sees every problem at once.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_max};
use crate::limits;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// A whole number.
    Int,
    /// A real number.
    Float,
    /// One of a set of strings (any string if no categories are declared).
    Category,
    /// Free text (identifiers, names): never used as a feature.
    Text,
}

/// One declared column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Smallest allowed value (numeric columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (numeric columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Allowed values (category columns); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// A table schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Columns in file order.
    pub columns: Vec<Column>,
    /// The label column, if the table is labelled.
    #[serde(default)]
    pub label: Option<String>,
    /// Cell values that mean "missing" (after trimming).
    #[serde(default = "default_missing")]
    pub missing: Vec<String>,
    /// Whether the file's first line is a header naming the columns.
    #[serde(default = "default_true")]
    pub header: bool,
    /// Quasi-identifiers for the k-anonymity report.
    #[serde(default)]
    pub quasi_identifiers: Vec<String>,
    /// The sensitive column for l-diversity.
    #[serde(default)]
    pub sensitive: Option<String>,
}

fn default_missing() -> Vec<String> {
    vec![String::new()]
}

fn default_true() -> bool {
    true
}

/// The verdict on one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellCheck {
    /// A valid value.
    Ok,
    /// A missing-value token.
    Missing,
    /// Not of the column's type.
    Invalid,
    /// A number outside [min, max].
    OutOfRange,
    /// A category not in the declared list.
    UnknownCategory,
}

impl Schema {
    /// The built-in schema `adult`, or the JSON schema file at `name`.
    pub fn load(name: &str) -> Result<Self> {
        if name == "adult" {
            return Ok(Self::adult());
        }
        let text = std::fs::read_to_string(name)
            .map_err(|e| LearnError::Data(format!("reading schema {name}: {e}")))?;
        Self::from_json(&text)
    }

    /// Parses and validates a JSON schema.
    pub fn from_json(text: &str) -> Result<Self> {
        check_max("schema size", text.len(), limits::SPEC_BYTES_MAX)?;
        let s: Self =
            serde_json::from_str(text).map_err(|e| LearnError::Data(format!("schema: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        check_max("columns", self.columns.len(), limits::COLUMNS_MAX)?;
        let mut names = std::collections::BTreeSet::new();
        for c in &self.columns {
            check_max("categories", c.categories.len(), limits::CATEGORIES_MAX)?;
            if !names.insert(c.name.as_str()) {
                return Err(LearnError::Data(format!(
                    "column {} declared twice",
                    c.name
                )));
            }
        }
        let named = self
            .label
            .iter()
            .chain(&self.quasi_identifiers)
            .chain(&self.sensitive);
        for n in named {
            self.index(n)?;
        }
        Ok(())
    }

    /// Index of a column by name.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| LearnError::Data(format!("no column named {name}")))
    }

    /// Whether a trimmed cell is a missing-value token.
    pub fn is_missing(&self, cell: &str) -> bool {
        self.missing.iter().any(|m| m == cell)
    }

    /// Checks one cell of column `col`.
    pub fn check_cell(&self, col: usize, cell: &str) -> CellCheck {
        if self.is_missing(cell) {
            return CellCheck::Missing;
        }
        let c = &self.columns[col];
        match c.kind {
            ColumnType::Int | ColumnType::Float => {
                let v = if c.kind == ColumnType::Int {
                    cell.parse::<i64>().map(|v| v as f64).ok()
                } else {
                    cell.parse::<f64>().ok().filter(|v| v.is_finite())
                };
                match v {
                    None => CellCheck::Invalid,
                    Some(v) if c.min.is_some_and(|m| v < m) || c.max.is_some_and(|m| v > m) => {
                        CellCheck::OutOfRange
                    }
                    Some(_) => CellCheck::Ok,
                }
            }
            ColumnType::Category
                if !c.categories.is_empty() && !c.categories.iter().any(|k| k == cell) =>
            {
                CellCheck::UnknownCategory
            }
            ColumnType::Category | ColumnType::Text => CellCheck::Ok,
        }
    }

    /// The Adult schema (as shipped in `data/adult`), used by the CLI and the devnet.
    pub fn adult() -> Self {
        let num = |n: &str, min: f64, max: f64| Column {
            name: n.into(),
            kind: ColumnType::Int,
            min: Some(min),
            max: Some(max),
            categories: vec![],
        };
        let cat = |n: &str| Column {
            name: n.into(),
            kind: ColumnType::Category,
            min: None,
            max: None,
            categories: vec![],
        };
        Self {
            columns: vec![
                num("age", 17.0, 100.0),
                cat("workclass"),
                num("fnlwgt", 0.0, 1e7),
                cat("education"),
                num("education-num", 1.0, 16.0),
                cat("marital-status"),
                cat("occupation"),
                cat("relationship"),
                cat("race"),
                Column {
                    name: "sex".into(),
                    kind: ColumnType::Category,
                    min: None,
                    max: None,
                    categories: vec!["Female".into(), "Male".into()],
                },
                num("capital-gain", 0.0, 1e5),
                num("capital-loss", 0.0, 1e4),
                num("hours-per-week", 1.0, 99.0),
                cat("native-country"),
                Column {
                    name: "income".into(),
                    kind: ColumnType::Category,
                    min: None,
                    max: None,
                    categories: vec![
                        "<=50K".into(),
                        ">50K".into(),
                        "<=50K.".into(),
                        ">50K.".into(),
                    ],
                },
            ],
            label: Some("income".into()),
            missing: vec!["?".into(), String::new()],
            header: false,
            quasi_identifiers: vec![
                "age".into(),
                "sex".into(),
                "race".into(),
                "native-country".into(),
            ],
            sensitive: Some("income".into()),
        }
    }
}
